package aws

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config map[string]any
		field  string // "" when valid
	}{
		{"minimal", map[string]any{}, ""},
		{"plugin file", map[string]any{"regions": []any{"us-east-1"}, "filters": map[string]any{"tag:Env": "prod", "instance-type": []any{"t3.micro", "t3.small"}}, "hostnames": []any{"tag:Name", map[string]any{"name": "private-ip-address", "prefix": "tag:Env", "separator": "-"}}}, ""},
		{"single region string", map[string]any{"regions": "eu-west-1"}, ""},
		{"aliases", map[string]any{"assume_role_arn": "arn:aws:iam::123456789012:role/ro", "aws_profile": "prod"}, ""},
		{"bad region", map[string]any{"regions": []any{"us-east-1", "Mars"}}, "regions[1]"},
		{"duplicate region", map[string]any{"regions": []any{"us-east-1", "us-east-1"}}, "regions"},
		{"regions not a list", map[string]any{"regions": map[string]any{"a": 1}}, "regions"},
		{"unknown option", map[string]any{"regoins": []any{"us-east-1"}}, "regoins"},
		{"secret", map[string]any{"aws_secret_access_key": "SECRET-VALUE-123"}, "aws_secret_access_key"},
		{"access key", map[string]any{"access_key": "SECRET-VALUE-123"}, "access_key"},
		{"alias twice", map[string]any{"profile": "a", "boto_profile": "b"}, "boto_profile"},
		{"bad filter name", map[string]any{"filters": map[string]any{"Not A Filter": "x"}}, "filters.Not A Filter"},
		{"empty filter values", map[string]any{"filters": map[string]any{"tag:Env": []any{}}}, "filters.tag:Env"},
		{"bad include filter", map[string]any{"include_filters": []any{map[string]any{"BAD": "x"}}}, "include_filters[0].BAD"},
		{"literal hostname", map[string]any{"hostnames": []any{"dns-name", "fqdn", map[string]any{"name": "instance-id", "prefix": "aws"}}}, ""},
		{"hostname with a Jinja2 filter", map[string]any{"hostnames": []any{"tag:Name | lower"}}, "hostnames[0]"},
		{"misspelt hostname attribute", map[string]any{"hostnames": []any{"dns-name", "private_dns_name"}}, "hostnames[1]"},
		{"network-interface hostnames", map[string]any{"hostnames": []any{"network-interface.mac-address", "network-interface.association.public-ip", "network-interface.subnet-id"}}, ""},
		{"hostname dict without name", map[string]any{"hostnames": []any{map[string]any{"prefix": "tag:Env"}}}, "hostnames[0].name"},
		{"bad role", map[string]any{"iam_role_arn": "ReadOnly"}, "iam_role_arn"},
		{"bad endpoint", map[string]any{"endpoint_url": "ftp://x"}, "endpoint_url"},
		{"endpoint with credentials", map[string]any{"endpoint_url": "http://user:pw@127.0.0.1:1"}, "endpoint_url"},
		{"region with a leading zero", map[string]any{"regions": []any{"us-east-01"}}, "regions[0]"},
		{"bootstrap region", map[string]any{"aws_region": "us-gov-west-1"}, ""},
		{"bad bootstrap region", map[string]any{"region": "us-east-01"}, "region"},
		{"one role in assume_role_arns", map[string]any{"iam_role_arns": []any{"arn:aws:iam::123456789012:role/ro"}}, ""},
		{"two roles", map[string]any{"assume_role_arns": []any{"arn:aws:iam::1:role/a", "arn:aws:iam::2:role/b"}}, "assume_role_arns"},
		{"role twice", map[string]any{"assume_role_arns": "arn:aws:iam::1:role/a", "iam_role_arn": "arn:aws:iam::1:role/a"}, "assume_role_arns"},
		{"bad role in the list", map[string]any{"assume_role_arns": []any{"ReadOnly"}}, "iam_role_arn"},
		{"every plugin option with no effect", map[string]any{"strict_permissions": false, "use_contrib_script_compatible_sanitization": true,
			"include_extra_api_calls": true, "use_ssm_inventory": true}, ""},
		{"allow_duplicated_hosts", map[string]any{"allow_duplicated_hosts": true}, ""},
		{"concurrency", map[string]any{"concurrency": 1000}, "concurrency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Driver{}.Validate(tc.config)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			if roster.ErrorCode(err) != roster.EINVALID {
				t.Fatalf("error %v, want EINVALID", err)
			}
			var fields []string
			for _, f := range roster.ErrorFields(err) {
				fields = append(fields, f.Field)
			}
			if !slices.Contains(fields, tc.field) {
				t.Fatalf("fields %v, want %q (%v)", fields, tc.field, err)
			}
			if strings.Contains(err.Error(), "SECRET-VALUE-123") {
				t.Fatalf("the error repeats a secret: %v", err)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		config map[string]any
		want   []string // the options warned about, in order
	}{
		{map[string]any{}, nil},
		{map[string]any{"strict_permissions": true, "allow_duplicated_hosts": false, "use_ssm_inventory": false}, nil},
		{map[string]any{"strict_permissions": false}, []string{"strict_permissions"}},
		{map[string]any{"use_contrib_script_compatible_sanitization": true, "allow_duplicated_hosts": true,
			"include_extra_api_calls": true, "use_ssm_inventory": true},
			[]string{"use_contrib_script_compatible_sanitization", "include_extra_api_calls", "use_ssm_inventory"}},
		{map[string]any{"regoins": "x", "allow_duplicated_hosts": true}, nil}, // invalid: no warnings
	} {
		got := Driver{}.Warnings(tc.config)
		if len(got) != len(tc.want) {
			t.Fatalf("%v: warnings %q, want one for each of %v", tc.config, got, tc.want)
		}
		for i, w := range got {
			if !strings.HasPrefix(w, "option "+tc.want[i]+" has no effect: ") {
				t.Errorf("%v: warning %q, want one about %s", tc.config, w, tc.want[i])
			}
		}
	}
}

func TestRegionOptionIsWhereRegionsAreListed(t *testing.T) {
	sim := awssim.New(awssim.Options{Seed: 1, Size: 10, Regions: []string{"us-east-1"}})
	p := newProvider(t, sim, map[string]any{"region": "eu-west-1"})
	if got := p.(*provider).opts.bootstrapRegion(); got != "eu-west-1" {
		t.Fatalf("bootstrap region %q", got)
	}
	if _, err := p.Scopes(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func newProvider(t *testing.T, sim *awssim.Server, config map[string]any) sources.Provider {
	t.Helper()
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	config["endpoint_url"] = srv.URL
	d := Driver{Credentials: credentials.NewStaticCredentialsProvider("AKIDBASE", "base-secret", ""), MaxBackoff: 10 * time.Millisecond}
	p, err := d.Open(t.Context(), config, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestScopesFromDescribeRegions(t *testing.T) {
	sim := awssim.New(awssim.Options{Seed: 1, Size: 10, Regions: []string{"us-east-1"}})
	p := newProvider(t, sim, map[string]any{})
	scopes, err := p.Scopes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(sim.Regions()))
	if !slices.Equal(scopes, want) {
		t.Fatalf("scopes = %v, want the simulator's regions %v", scopes, want)
	}
}

func TestHostVarsHaveThePluginsShape(t *testing.T) {
	sim := awssim.New(awssim.Options{Seed: 2, Size: 50, Regions: []string{"eu-west-1"}})
	p := newProvider(t, sim, map[string]any{"regions": []any{"eu-west-1"}, "use_contrib_script_compatible_ec2_tag_keys": true})
	insts, err := p.Collect(t.Context(), "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) == 0 {
		t.Fatal("no instances")
	}
	for _, inst := range insts {
		info, ok := sim.Fleet().Instance(inst.ExternalID)
		if !ok {
			t.Fatalf("unknown instance %s", inst.ExternalID)
		}
		v := inst.Vars
		for _, key := range []string{"instance_id", "instance_type", "image_id", "state", "placement", "private_ip_address",
			"private_dns_name", "security_groups", "network_interfaces", "block_device_mappings", "launch_time", "tags",
			"owner_id", "reservation_id", "requester_id", "architecture", "vpc_id", "subnet_id"} {
			if _, ok := v[key]; !ok {
				t.Fatalf("%s: host var %q missing (have %v)", inst.ExternalID, key, slices.Sorted(mapKeys(v)))
			}
		}
		if _, ok := v["Tags"]; ok {
			t.Fatal("Tags kept in boto3 list form")
		}
		placement := v["placement"].(map[string]any)
		if placement["region"] != "eu-west-1" || placement["availability_zone"] != info.AvailabilityZone {
			t.Fatalf("placement = %v", placement)
		}
		if v["state"].(map[string]any)["name"] != info.State || inst.Enabled != (info.State == "running") {
			t.Fatalf("state %v, enabled %v; instance %s", v["state"], inst.Enabled, info.State)
		}
		if lt, err := json.Marshal(v["launch_time"]); err != nil || !strings.HasSuffix(string(lt), `+00:00"`) {
			t.Fatalf("launch_time %s is not in isoformat(): %v", lt, err)
		}
		tags := v["tags"].(map[string]any)
		if name, ok := info.Tag("Name"); ok && (tags["Name"] != name || v["ec2_tag_Name"] != name) {
			t.Fatalf("tags = %v, ec2_tag_Name = %v, want Name %s", tags, v["ec2_tag_Name"], name)
		}
		if !slices.Equal(inst.Groups, []string{"aws_ec2"}) {
			t.Fatalf("groups %v", inst.Groups)
		}
		if want := info.PublicIP; want == "" && inst.Address != info.PrivateIP || want != "" && inst.Address != want {
			t.Fatalf("address %s; public %s private %s", inst.Address, info.PublicIP, info.PrivateIP)
		}
	}
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestHostnamePreferences(t *testing.T) {
	sim := awssim.New(awssim.Options{Seed: 3, Size: 40, Regions: []string{"us-west-2"}})
	p := newProvider(t, sim, map[string]any{
		"regions": []any{"us-west-2"},
		"hostnames": []any{
			"tag:Env=prod",
			map[string]any{"name": "instance-id", "prefix": "tag:Role", "separator": "-"},
			"private-ip-address",
		},
	})
	insts, err := p.Collect(t.Context(), "us-west-2")
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range insts {
		info, _ := sim.Fleet().Instance(inst.ExternalID)
		env, _ := info.Tag("Env")
		role, hasRole := info.Tag("Role")
		want := []string{"", info.ID, info.PrivateIP}
		if env == "prod" {
			want[0] = "Env_prod"
		}
		if hasRole && role != "" {
			want[1] = role + "-" + info.ID
		}
		if !slices.Equal(inst.Hostnames, want) {
			t.Fatalf("%s: hostnames %q, want %q", info.ID, inst.Hostnames, want)
		}
	}
}

// TestHostnameLiteralsAndInterfaces: text that is neither a tag nor an
// attribute is a literal name (amazon.aws 5+), and the
// network-interface.* preferences read the instance's interface.
func TestHostnameLiteralsAndInterfaces(t *testing.T) {
	sim := awssim.New(awssim.Options{Seed: 3, Size: 20, Regions: []string{"us-west-2"}})
	p := newProvider(t, sim, map[string]any{
		"regions": []any{"us-west-2"},
		"hostnames": []any{
			map[string]any{"name": "network-interface.network-interface-id", "prefix": "aws", "separator": "-"},
			"network-interface.mac-address",
			"network-interface.attachment.status",
		},
	})
	insts, err := p.Collect(t.Context(), "us-west-2")
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) == 0 {
		t.Fatal("no instances")
	}
	for _, inst := range insts {
		info, _ := sim.Fleet().Instance(inst.ExternalID)
		h := inst.Hostnames
		// A name holding a colon is sanitised like a group name, as the
		// plugin does.
		if !strings.HasPrefix(h[0], "aws-eni-") || h[1] == "" || strings.Contains(h[1], ":") || h[2] != "attached" {
			t.Fatalf("%s: hostnames %q, want aws-eni-..., a sanitised MAC address and attached", info.ID, h)
		}
	}
}

func TestAssumeRole(t *testing.T) {
	sim := awssim.New(awssim.Options{Seed: 4, Size: 20, Regions: []string{"us-east-1"}, AccessKeys: []string{"AKIDBASE"}})
	role := "arn:aws:iam::123456789012:role/roster-readonly"
	p := newProvider(t, sim, map[string]any{"regions": []any{"us-east-1"}, "iam_role_arn": role})
	insts, err := p.Collect(t.Context(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	calls := sim.AssumeRoleCalls()
	if len(calls) != 1 || calls[0].RoleARN != role {
		t.Fatalf("AssumeRole calls = %+v, want one for %s", calls, role)
	}
	if len(insts) == 0 {
		t.Fatal("no instances through the assumed role")
	}
}

func TestCollectIsAllOrNothing(t *testing.T) {
	sim := awssim.New(awssim.Options{Seed: 5, Size: 3000, Regions: []string{"us-east-1"}})
	p := newProvider(t, sim, map[string]any{"regions": []any{"us-east-1"}})
	sim.SetFaults(awssim.Faults{FailAfterPage: 1})
	insts, err := p.Collect(context.Background(), "us-east-1")
	if err == nil || insts != nil {
		t.Fatalf("Collect after a failing page = %d instances, %v; want no instances and an error", len(insts), err)
	}
	if !strings.Contains(err.Error(), "describe instances") {
		t.Fatalf("error %q does not say what failed", err)
	}
}

// TestNoSpuriousRetries: against a server that answers the moment it has
// read a request (as the simulator without its settle delay does), the SDK's
// request-body race would fail and retry a good share of calls; the
// provider's client must not.
func TestNoSpuriousRetries(t *testing.T) {
	sim := awssim.New(awssim.Options{Seed: 6, Size: 6000, Regions: []string{"us-east-1"}, SettleDelay: -1})
	p := newProvider(t, sim, map[string]any{"regions": []any{"us-east-1"}})
	var pages int
	for range 5 {
		insts, err := p.Collect(t.Context(), "us-east-1")
		if err != nil {
			t.Fatal(err)
		}
		pages += (len(insts) + pageSize - 1) / pageSize
	}
	if got := sim.Stats().Calls("DescribeInstances", ""); got != pages {
		t.Fatalf("%d DescribeInstances requests for %d pages: the SDK retried", got, pages)
	}
}

func TestBrokerCredential(t *testing.T) {
	sim := awssim.New(awssim.Options{Seed: 8, Size: 20, Regions: []string{"us-east-1"}, AccessKeys: []string{"AKIDFROMBROKER"}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cred := &sources.Credential{Type: roster.CredentialAWS, Fields: map[string]roster.Secret{
		"access_key_id": "AKIDFROMBROKER", "secret_access_key": "broker-secret", "role_arn": "arn:aws:iam::123456789012:role/from-credential",
	}}
	// The driver's own default credentials would be refused by the simulator:
	// only the broker's keys get through.
	d := Driver{Credentials: credentials.NewStaticCredentialsProvider("AKIDWRONG", "x", ""), MaxBackoff: 10 * time.Millisecond}
	p, err := d.Open(t.Context(), map[string]any{"regions": []any{"us-east-1"}, "endpoint_url": srv.URL}, cred, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	insts, err := p.Collect(t.Context(), "us-east-1")
	if err != nil || len(insts) == 0 {
		t.Fatalf("collect with the broker's keys: %d instances, %v", len(insts), err)
	}
	if calls := sim.AssumeRoleCalls(); len(calls) != 1 || calls[0].RoleARN != "arn:aws:iam::123456789012:role/from-credential" {
		t.Fatalf("AssumeRole calls = %+v, want the credential's role", calls)
	}
}

// CollectPages hands a region over a handful at a time, through the
// SDK's own paging (several DescribeInstances pages), in the order and
// with the instances Collect gathers; a page function's error ends it.
func TestCollectPagesHandsOverHandfuls(t *testing.T) {
	sim := awssim.New(awssim.Options{Seed: 4, Size: 2600, Regions: []string{"us-east-1"}})
	p := newProvider(t, sim, map[string]any{"regions": []any{"us-east-1"}})
	pc, ok := p.(sources.PageCollector)
	if !ok {
		t.Fatal("the AWS provider does not hand instances over in pages")
	}
	var ids []string
	pages := 0
	err := pc.CollectPages(t.Context(), "us-east-1", func(page []sources.Instance) error {
		if len(page) == 0 || len(page) > sources.HandOver {
			t.Errorf("a page of %d instances, want 1 to %d", len(page), sources.HandOver)
		}
		pages++
		for _, inst := range page {
			ids = append(ids, inst.ExternalID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all, err := p.Collect(t.Context(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 2*1000 || len(ids) != len(all) || pages < len(all)/sources.HandOver {
		t.Fatalf("%d instances in %d pages; Collect gave %d (want more than two API pages)", len(ids), pages, len(all))
	}
	for i := range all {
		if all[i].ExternalID != ids[i] {
			t.Fatalf("instance %d: %s by pages, %s by Collect", i, ids[i], all[i].ExternalID)
		}
	}
	stop := errors.New("stop")
	calls := 0
	err = pc.CollectPages(t.Context(), "us-east-1", func([]sources.Instance) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("a page's error: %v after %d calls, want it after 1", err, calls)
	}
}
