package gcp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/gcp/gcpsim"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config map[string]any
		field  string // "" when valid
	}{
		{"plugin file", map[string]any{
			"projects": []any{"gcp-prod-gke-100", "gcp-cicd-101"}, "zones": []any{"us-east1-a"},
			"filters":   []any{"status = RUNNING", "scheduling.automaticRestart = true AND status = RUNNING"},
			"auth_kind": "serviceaccount", "scopes": []any{"https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/compute.readonly"},
			"name_suffix": ".example.com", "hostnames": []any{"name"}, "vars_prefix": "gce_", "retrieve_image_info": true,
		}, ""},
		{"single project string", map[string]any{"projects": "my-project-1"}, ""},
		{"domain-scoped project", map[string]any{"projects": []any{"example.com:my-project"}}, ""},
		{"loopback endpoint", map[string]any{"projects": "my-project-1", "endpoint_url": "http://127.0.0.1:8089", "token_uri": "http://localhost:8089/token"}, ""},
		{"all hostname kinds", map[string]any{"projects": "my-project-1", "hostnames": []any{"public_ip", "private_ip", "name", "hostname", "labels.vm_name"}}, ""},
		{"no project", map[string]any{}, "projects"},
		{"bad project", map[string]any{"projects": []any{"my-project-1", "My_Project"}}, "projects[1]"},
		{"short project", map[string]any{"projects": []any{"abc"}}, "projects[0]"},
		{"project number", map[string]any{"projects": []any{"123456789012"}}, "projects[0]"},
		{"duplicate project", map[string]any{"projects": []any{"my-project-1", "my-project-1"}}, "projects"},
		{"projects not a list", map[string]any{"projects": map[string]any{"a": 1}}, "projects"},
		{"bad zone", map[string]any{"projects": "my-project-1", "zones": []any{"us-central1"}}, "zones[0]"},
		{"unknown hostname", map[string]any{"projects": "my-project-1", "hostnames": []any{"name", "fqdn"}}, "hostnames[1]"},
		{"labels without key", map[string]any{"projects": "my-project-1", "hostnames": []any{"labels."}}, "hostnames[0]"},
		{"empty filter", map[string]any{"projects": "my-project-1", "filters": []any{"a = 1", "b = 2", " "}}, "filters[2]"},
		{"unbalanced filter", map[string]any{"projects": "my-project-1", "filters": []any{"(status = RUNNING"}}, "filters[0]"},
		{"unterminated quote", map[string]any{"projects": "my-project-1", "filters": []any{`name = "web`}}, "filters[0]"},
		{"inline key", map[string]any{"projects": "my-project-1", "service_account_contents": `{"private_key": "SECRET-VALUE-123"}`}, "service_account_contents"},
		{"access token", map[string]any{"projects": "my-project-1", "access_token": "SECRET-VALUE-123"}, "access_token"},
		{"key file path", map[string]any{"projects": "my-project-1", "service_account_file": "/etc/key.json", "service_account_email": "a@b.iam.gserviceaccount.com"}, ""},
		{"machine account", map[string]any{"projects": "my-project-1", "auth_kind": "machineaccount"}, "auth_kind"},
		{"bad scope", map[string]any{"projects": "my-project-1", "scopes": []any{"compute"}}, "scopes[0]"},
		{"folders", map[string]any{"projects": "my-project-1", "folders": []any{"folders/123"}}, "folders"},
		{"contrib sanitization", map[string]any{"projects": "my-project-1", "use_contrib_script_compatible_sanitization": true}, ""},
		{"zone with a leading zero", map[string]any{"projects": "my-project-1", "zones": []any{"us-central01-a"}}, "zones[0]"},
		{"two-digit region zone", map[string]any{"projects": "my-project-1", "zones": []any{"europe-west10-b"}}, ""},
		{"clear-text endpoint", map[string]any{"projects": "my-project-1", "endpoint_url": "http://compute.example.com"}, "endpoint_url"},
		{"endpoint with credentials", map[string]any{"projects": "my-project-1", "endpoint_url": "https://user:pw@compute.example.com"}, "endpoint_url"},
		{"bad token uri", map[string]any{"projects": "my-project-1", "token_uri": "ftp://x"}, "token_uri"},
		{"unknown option", map[string]any{"projects": "my-project-1", "regions": []any{"us-east1"}}, "regions"},
		{"concurrency", map[string]any{"projects": "my-project-1", "concurrency": 100}, "concurrency"},
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
	base := func(kv ...any) map[string]any {
		m := map[string]any{"projects": "my-project-1"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		config map[string]any
		want   []string
	}{
		{base(), nil},
		{base("use_contrib_script_compatible_sanitization", false), nil},
		{base("service_account_file", "/etc/key.json", "service_account_email", "x@y.iam.gserviceaccount.com", "use_contrib_script_compatible_sanitization", true),
			[]string{"service_account_file", "service_account_email", "use_contrib_script_compatible_sanitization"}},
		{map[string]any{"service_account_file": "/etc/key.json"}, nil}, // invalid (no project): no warnings
	} {
		got := Driver{}.Warnings(tc.config)
		if len(got) != len(tc.want) {
			t.Fatalf("%v: warnings %q, want one for each of %v", tc.config, got, tc.want)
		}
		for i, w := range got {
			if !strings.HasPrefix(w, "option "+tc.want[i]+" has no effect: ") {
				t.Errorf("warning %q, want one about %s", w, tc.want[i])
			}
		}
	}
}

func TestQueryCombinesFiltersLikeThePlugin(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{" status = RUNNING "}, "status = RUNNING"},
		{[]string{"status = RUNNING", "labels.env = prod"}, "(status = RUNNING) (labels.env = prod)"},
		{[]string{"(a = 1)", "(b = 2) OR (c = 3)"}, "(a = 1) ((b = 2) OR (c = 3))"},
		{[]string{`name = "x)"`, "(b = 2)"}, `(name = "x)") (b = 2)`},
	} {
		if got := query(tc.in); got != tc.want {
			t.Errorf("query(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// newSim serves a simulator on an httptest server.
func newSim(t *testing.T, opts gcpsim.Options) (*gcpsim.Server, string) {
	t.Helper()
	sim, err := gcpsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

// testDriver is the driver the tests use: the simulator's key, short
// backoffs.
func testDriver(sim *gcpsim.Server, url string) Driver {
	return Driver{Credentials: ServiceAccountKey(sim.KeyFile(url)), MaxBackoff: 5 * time.Millisecond}
}

func openProvider(t *testing.T, d Driver, url string, config map[string]any) sources.Provider {
	t.Helper()
	config["endpoint_url"] = url
	p, err := d.Open(t.Context(), config, nil, discard)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func collectAll(t *testing.T, p sources.Provider) map[string]sources.Instance {
	t.Helper()
	scopes, err := p.Scopes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]sources.Instance{}
	for _, s := range scopes {
		insts, err := p.Collect(t.Context(), s)
		if err != nil {
			t.Fatalf("collect %s: %v", s, err)
		}
		for _, in := range insts {
			if _, dup := out[in.ExternalID]; dup {
				t.Fatalf("instance %s listed twice", in.ExternalID)
			}
			out[in.ExternalID] = in
		}
	}
	return out
}

func TestCollectEveryProjectWithThePluginsHostVars(t *testing.T) {
	sim, url := newSim(t, gcpsim.Options{Seed: 1, Size: 500})
	p := openProvider(t, testDriver(sim, url), url, map[string]any{"projects": []any{"roster-prod", "roster-staging", "roster-dev"}})
	got := collectAll(t, p)
	fleet := sim.Fleet().Instances()
	if len(got) != len(fleet) {
		t.Fatalf("collected %d instances, the fleet has %d", len(got), len(fleet))
	}
	for _, info := range fleet {
		inst, ok := got[info.ID]
		if !ok {
			t.Fatalf("instance %s (%s) missing", info.ID, info.Name)
		}
		v := inst.Vars
		if v["id"] != info.ID || v["name"] != info.Name || v["project"] != info.Project || v["status"] != info.Status {
			t.Fatalf("%s: id %v name %v project %v status %v", info.ID, v["id"], v["name"], v["project"], v["status"])
		}
		if v["zone"] != info.Zone || v["zone_selflink"] != gcpsim.APIBase+"projects/"+info.Project+"/zones/"+info.Zone {
			t.Fatalf("%s: zone %v, zone_selflink %v", info.ID, v["zone"], v["zone_selflink"])
		}
		if v["machineType"] != info.MachineType || !strings.HasSuffix(v["machineType_selflink"].(string), "/machineTypes/"+info.MachineType) {
			t.Fatalf("%s: machineType %v / %v", info.ID, v["machineType"], v["machineType_selflink"])
		}
		if img, ok := v["image"]; !ok || img != nil {
			t.Fatalf("%s: image = %v, want None without retrieve_image_info", info.ID, img)
		}
		nic := v["networkInterfaces"].([]any)[0].(map[string]any)
		network := nic["network"].(map[string]any)
		subnet := nic["subnetwork"].(map[string]any)
		if nic["networkIP"] != info.PrivateIP || network["name"] != info.Network || network["region"] != "global" ||
			subnet["name"] != info.Subnetwork || subnet["region"] != info.Region || !strings.Contains(network["selfLink"].(string), "/projects/"+info.NetProject+"/") {
			t.Fatalf("%s: network interface %v", info.ID, nic)
		}
		meta := v["metadata"].(map[string]any)
		if len(meta) != len(info.Metadata) {
			t.Fatalf("%s: metadata %v, want %v", info.ID, meta, info.Metadata)
		}
		for _, m := range info.Metadata {
			if meta[m.Key] != m.Value {
				t.Fatalf("%s: metadata %v, want %v", info.ID, meta, info.Metadata)
			}
		}
		if len(info.Labels) > 0 {
			labels := v["labels"].(map[string]any)
			for k, want := range info.Labels {
				if labels[k] != want {
					t.Fatalf("%s: labels %v, want %v", info.ID, labels, info.Labels)
				}
			}
		} else if _, ok := v["labels"]; ok {
			t.Fatalf("%s: labels %v for an instance without labels", info.ID, v["labels"])
		}
		if tags := v["tags"].(map[string]any); len(info.Tags) > 0 && len(tags["items"].([]any)) != len(info.Tags) {
			t.Fatalf("%s: tags %v, want %v", info.ID, tags, info.Tags)
		}
		disk := v["disks"].([]any)[0].(map[string]any)
		if _, ok := disk["diskSizeGb"].(string); !ok || disk["boot"] != true || disk["index"] != int64(0) {
			t.Fatalf("%s: disk %v (64-bit sizes are strings, as in the API's JSON)", info.ID, disk)
		}
		if inst.Enabled != (info.Status == "RUNNING") || inst.ExternalID != info.ID || len(inst.Groups) != 0 {
			t.Fatalf("%s: enabled %v (status %s), groups %v", info.ID, inst.Enabled, info.Status, inst.Groups)
		}
		if want := info.PublicIP; want == "" && inst.Address != info.PrivateIP || want != "" && inst.Address != want {
			t.Fatalf("%s: address %s; public %q private %s", info.ID, inst.Address, info.PublicIP, info.PrivateIP)
		}
		if b, err := json.Marshal(v); err != nil || bytes.Contains(b, []byte(`"kind":"compute#metadata"`)) {
			t.Fatalf("%s: vars do not encode as the plugin's (%v)", info.ID, err)
		}
	}
}

func TestHostnamePreferences(t *testing.T) {
	sim, url := newSim(t, gcpsim.Options{Seed: 2, Size: 200, Projects: []string{"roster-prod"}})
	p := openProvider(t, testDriver(sim, url), url, map[string]any{
		"projects":    "roster-prod",
		"hostnames":   []any{"labels.app", "hostname", "public_ip", "private_ip", "name"},
		"name_suffix": ".gcp.example.com",
	})
	got := collectAll(t, p)
	var noApp, noPublic, custom int
	for _, info := range sim.Fleet().Instances() {
		host := info.Name + ".gcp.example.com"
		if info.Hostname != "" {
			host = info.Hostname
			custom++
		}
		want := []string{info.Labels["app"], host, info.PublicIP, info.PrivateIP, info.Name + ".gcp.example.com"}
		if !slices.Equal(got[info.ID].Hostnames, want) {
			t.Fatalf("%s: hostnames %q, want %q", info.ID, got[info.ID].Hostnames, want)
		}
		if want[0] == "" {
			noApp++
		}
		if want[2] == "" {
			noPublic++
		}
	}
	if noApp == 0 || noPublic == 0 || custom == 0 {
		t.Fatalf("the fleet lacks the cases (no app label %d, no public ip %d, custom hostname %d)", noApp, noPublic, custom)
	}

	// The plugin's default: public_ip, private_ip, name.
	p = openProvider(t, testDriver(sim, url), url, map[string]any{"projects": "roster-prod"})
	for id, inst := range collectAll(t, p) {
		info, _ := sim.Fleet().Instance(id)
		if want := []string{info.PublicIP, info.PrivateIP, info.Name}; !slices.Equal(inst.Hostnames, want) {
			t.Fatalf("%s: default hostnames %q, want %q", id, inst.Hostnames, want)
		}
	}
}

func TestZonesListOnlyThoseZones(t *testing.T) {
	sim, url := newSim(t, gcpsim.Options{Seed: 3, Size: 400})
	zones := []string{"us-central1-b", "europe-west1-d", "europe-west4-c"} // the last holds nothing
	p := openProvider(t, testDriver(sim, url), url, map[string]any{"projects": []any{"roster-prod", "roster-dev"}, "zones": toAny(zones)})
	got := collectAll(t, p)
	want := 0
	for _, info := range sim.Fleet().Instances() {
		if slices.Contains(zones, info.Zone) && (info.Project == "roster-prod" || info.Project == "roster-dev") {
			want++
			if _, ok := got[info.ID]; !ok {
				t.Fatalf("instance %s in %s missing", info.Name, info.Zone)
			}
		}
	}
	if want == 0 || len(got) != want {
		t.Fatalf("collected %d, want %d", len(got), want)
	}
	st := sim.Stats()
	if st.Calls(gcpsim.MethodList, "") != 6 || st.Calls(gcpsim.MethodAggregatedList, "") != 0 {
		t.Fatalf("requests %v, want one instances.list per zone and project", st.Requests)
	}

	// A zone the API does not know fails the project with its 404.
	p = openProvider(t, testDriver(sim, url), url, map[string]any{"projects": "roster-prod", "zones": []any{"us-central1-b", "us-west9-z"}})
	_, err := p.Collect(t.Context(), "roster-prod")
	if err == nil || !strings.Contains(err.Error(), "list instances of zone us-west9-z: 404 notFound: The resource 'projects/roster-prod/zones/us-west9-z' was not found") {
		t.Fatalf("unknown zone: %v", err)
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func TestFiltersAreAppliedByTheAPI(t *testing.T) {
	sim, url := newSim(t, gcpsim.Options{Seed: 4, Size: 400, Projects: []string{"roster-prod"}})
	p := openProvider(t, testDriver(sim, url), url, map[string]any{
		"projects": "roster-prod",
		"filters":  []any{"status = RUNNING", "labels.env = prod OR labels.role = db"},
	})
	got := collectAll(t, p)
	want := 0
	for _, info := range sim.Fleet().Instances() {
		if info.Status == "RUNNING" && (info.Labels["env"] == "prod" || info.Labels["role"] == "db") {
			want++
		}
	}
	if want == 0 || len(got) != want {
		t.Fatalf("collected %d, want %d running prod-or-db instances", len(got), want)
	}
}

func TestThrottlingAndUnavailableAreRetried(t *testing.T) {
	sim, url := newSim(t, gcpsim.Options{Seed: 5, Size: 1600, Projects: []string{"roster-prod"},
		Faults: gcpsim.Faults{ThrottleEvery: 2, ErrorEvery: 3, RetryAfter: time.Second}})
	p := openProvider(t, testDriver(sim, url), url, map[string]any{"projects": "roster-prod"})
	begin := time.Now()
	got := collectAll(t, p)
	if len(got) != 1600 {
		t.Fatalf("collected %d of 1600 instances", len(got))
	}
	st := sim.Stats()
	pages := 4 // 1600 instances, 500 a page
	if st.InjectedStatus[429] == 0 || st.InjectedStatus[503] == 0 || st.Calls(gcpsim.MethodAggregatedList, "") != pages+st.Faulted("", "") {
		t.Fatalf("stats %+v: want every page retried past its 429 and 503", st)
	}
	// Retry-After (1s) is honoured up to the driver's MaxBackoff (5ms).
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestRetryer(t *testing.T) {
	throttled := &googleapi.Error{Code: 429, Header: http.Header{"Retry-After": {"7"}}}
	r := newRetryer(3, time.Minute)
	if d, ok := r.Retry(throttled); !ok || d < 7*time.Second {
		t.Fatalf("429 with Retry-After 7: retry %v after %v", ok, d)
	}
	if d, ok := r.Retry(&googleapi.Error{Code: 503}); !ok || d > time.Minute {
		t.Fatalf("503: retry %v after %v", ok, d)
	}
	if _, ok := r.Retry(&googleapi.Error{Code: 503}); ok {
		t.Fatal("a third failure was retried with 3 attempts")
	}
	capped := newRetryer(3, 10*time.Millisecond)
	if d, ok := capped.Retry(throttled); !ok || d != 10*time.Millisecond {
		t.Fatalf("capped: %v %v", ok, d)
	}
	for _, err := range []error{
		&googleapi.Error{Code: 403}, &googleapi.Error{Code: 400}, &googleapi.Error{Code: 404},
		&tokenError{email: "a@b", url: "u", detail: "400"}, context.Canceled, errors.New("boom"),
	} {
		if _, ok := newRetryer(8, time.Second).Retry(err); ok {
			t.Errorf("%v was retried", err)
		}
	}
}

func TestCollectIsAllOrNothing(t *testing.T) {
	sim, url := newSim(t, gcpsim.Options{Seed: 6, Size: 1200, Projects: []string{"roster-prod"}})
	p := openProvider(t, testDriver(sim, url), url, map[string]any{"projects": "roster-prod"})
	sim.SetFaults(gcpsim.Faults{FailAfterPage: 1})
	insts, err := p.Collect(t.Context(), "roster-prod")
	if err == nil || insts != nil {
		t.Fatalf("Collect after a failing page = %d instances, %v; want no instances and an error", len(insts), err)
	}
	if !strings.Contains(err.Error(), "list instances (aggregated): 500 backendError") {
		t.Fatalf("error %q does not say what failed", err)
	}
	if n := sim.Stats().Faulted(gcpsim.MethodAggregatedList, ""); n != defaultMaxAttempts {
		t.Fatalf("the failing page was tried %d times, want %d", n, defaultMaxAttempts)
	}
}

func TestDeniedProjectFailsWithoutRetries(t *testing.T) {
	sim, url := newSim(t, gcpsim.Options{Seed: 7, Size: 100, Faults: gcpsim.Faults{DenyScopes: []string{"roster-staging"}}})
	p := openProvider(t, testDriver(sim, url), url, map[string]any{"projects": []any{"roster-prod", "roster-staging"}})
	if _, err := p.Scopes(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err := p.Collect(t.Context(), "roster-staging")
	if err == nil || err.Error() != "list instances (aggregated): 403 forbidden: Required 'compute.instances.list' permission for 'projects/roster-staging'" {
		t.Fatalf("denied project: %v", err)
	}
	if _, err := p.Collect(t.Context(), "roster-prod"); err != nil {
		t.Fatal(err)
	}
	if n := sim.Stats().Calls(gcpsim.MethodAggregatedList, "roster-staging"); n != 1 {
		t.Fatalf("a 403 was tried %d times", n)
	}
}

func TestCanceledCollectDoesNotWaitForASlowPage(t *testing.T) {
	sim, url := newSim(t, gcpsim.Options{Seed: 8, Size: 50, Projects: []string{"roster-prod"}})
	p := openProvider(t, testDriver(sim, url), url, map[string]any{"projects": "roster-prod"})
	if _, err := p.Scopes(t.Context()); err != nil {
		t.Fatal(err)
	}
	sim.SetFaults(gcpsim.Faults{Latency: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err := p.Collect(ctx, "roster-prod")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the deadline", err)
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Fatalf("Collect returned after %v", d)
	}
}

func TestImageInfoAndVarsPrefix(t *testing.T) {
	sim, url := newSim(t, gcpsim.Options{Seed: 9, Size: 150, Projects: []string{"roster-prod"}})
	p := openProvider(t, testDriver(sim, url), url, map[string]any{"projects": "roster-prod", "retrieve_image_info": true, "vars_prefix": "gce_"})
	got := collectAll(t, p)
	// The instance's vars go to compose unprefixed; the engine stores
	// them under vars_prefix (TestGCPPluginParity, "vars prefix").
	for _, info := range sim.Fleet().Instances() {
		inst := got[info.ID]
		v := inst.Vars
		if v["image"] != info.Image || v["name"] != info.Name || v["project"] != "roster-prod" {
			t.Fatalf("%s: image %v (want %s), name %v", info.ID, v["image"], info.Image, v["name"])
		}
		if inst.VarsPrefix != "gce_" || !inst.ComposeSeesUnwrapped {
			t.Fatalf("%s: vars prefix %q (compose sees them unwrapped: %v), want gce_", info.ID, inst.VarsPrefix, inst.ComposeSeesUnwrapped)
		}
	}
	if n := sim.Stats().Calls(gcpsim.MethodDisks, ""); n != 1 {
		t.Fatalf("%d disks.aggregatedList calls", n)
	}
}

// keyMaterial returns strings that must never appear in output: pieces
// of the base64 body of every PEM block in a key file.
func keyMaterial(t *testing.T, keyFile []byte) []string {
	t.Helper()
	var f struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(keyFile, &f); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(f.PrivateKey, "\n") {
		if len(line) >= 32 && !strings.HasPrefix(line, "-----") {
			out = append(out, line[:32])
		}
	}
	if len(out) < 10 {
		t.Fatal("no key material found to look for")
	}
	return out
}

func assertNoKey(t *testing.T, what, text string, material []string) {
	t.Helper()
	for _, m := range material {
		if strings.Contains(text, m) {
			t.Fatalf("%s contains key material: %s", what, text)
		}
	}
	if strings.Contains(text, "PRIVATE KEY") || strings.Contains(text, "ya29.") {
		t.Fatalf("%s contains a key or token: %s", what, text)
	}
}

func TestBrokenCredentialsGiveClearErrors(t *testing.T) {
	sim, url := newSim(t, gcpsim.Options{Seed: 10, Size: 10})
	good := sim.KeyFile(url)
	material := keyMaterial(t, good)
	var f map[string]any
	json.Unmarshal(good, &f)
	edit := func(change func(map[string]any)) []byte {
		c := map[string]any{}
		for k, v := range f {
			c[k] = v
		}
		change(c)
		b, _ := json.Marshal(c)
		return b
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}))
	cfg := map[string]any{"projects": "roster-prod", "endpoint_url": url}
	for _, tc := range []struct {
		name string
		key  []byte
		want string
	}{
		{"empty", []byte("  "), "is not usable: it is empty"},
		{"truncated", good[:len(good)/2], "is not usable: it is not valid JSON (syntax error at byte"},
		{"not an object", []byte(`["x"]`), "it is not a JSON object"},
		{"user credentials", edit(func(m map[string]any) { m["type"] = "authorized_user" }), `its type is "authorized_user"; Roster needs a service account key`},
		{"no type", edit(func(m map[string]any) { delete(m, "type") }), `it has no "type"`},
		{"no email", edit(func(m map[string]any) { delete(m, "client_email") }), "it has no client_email"},
		{"no key", edit(func(m map[string]any) { delete(m, "private_key") }), "it has no private_key"},
		{"key not PEM", edit(func(m map[string]any) { m["private_key"] = strings.ReplaceAll(m["private_key"].(string), "-----", "") }), "its private_key is not PEM-encoded"},
		{"key damaged", edit(func(m map[string]any) {
			k := m["private_key"].(string)
			m["private_key"] = k[:200] + "AAAA" + k[204:]
		}), "its private_key is not a valid RSA private key"},
		{"EC key", edit(func(m map[string]any) { m["private_key"] = ecPEM }), "its private_key is not an RSA key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Driver{Credentials: ServiceAccountKey(tc.key)}.Open(t.Context(), cfg, nil, discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			assertNoKey(t, "the error", err.Error(), material)
		})
	}

	// A key the token endpoint does not accept: the run fails at Scopes,
	// naming the account and the endpoint's answer.
	stranger, err := gcpsim.NewServiceAccount("stranger@elsewhere.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	strangerKey := stranger.KeyFile(url + gcpsim.TokenPath)
	p, err := Driver{Credentials: strangerKey}.Open(t.Context(), cfg, nil, discard)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Scopes(t.Context())
	want := "get an access token for stranger@elsewhere.iam.gserviceaccount.com from " + url + "/token: 400 Bad Request: invalid_grant: Invalid grant: account not found"
	if err == nil || err.Error() != want {
		t.Fatalf("unknown account: %v\nwant %s", err, want)
	}
	assertNoKey(t, "the error", err.Error(), append(material, keyMaterial(t, strangerKey)...))

	// Scopes that do not allow Compute: a token is issued, every list is
	// refused.
	p = openProvider(t, testDriver(sim, url), url, map[string]any{"projects": "roster-prod", "scopes": []any{"https://www.googleapis.com/auth/devstorage.read_only"}})
	if _, err := p.Scopes(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err = p.Collect(t.Context(), "roster-prod")
	if err == nil || err.Error() != "list instances (aggregated): 403 insufficientPermissions: Request had insufficient authentication scopes." {
		t.Fatalf("wrong scopes: %v", err)
	}
}

func TestCredentialsFromTheEnvironment(t *testing.T) {
	sim, url := newSim(t, gcpsim.Options{Seed: 11, Size: 20, Projects: []string{"roster-prod"}})
	cfg := map[string]any{"projects": "roster-prod", "endpoint_url": url}

	t.Setenv(credentialsEnv, "")
	if _, err := (Driver{}).Open(t.Context(), cfg, nil, discard); err == nil || !strings.Contains(err.Error(), "set GOOGLE_APPLICATION_CREDENTIALS") {
		t.Fatalf("no credentials: %v", err)
	}
	path := filepath.Join(t.TempDir(), "key.json")
	t.Setenv(credentialsEnv, path)
	if _, err := (Driver{}).Open(t.Context(), cfg, nil, discard); err == nil || !strings.Contains(err.Error(), path+"): no such file or directory") {
		t.Fatalf("missing file: %v", err)
	}
	// The key file's token_uri points nowhere; the token_uri option
	// overrides it.
	if err := os.WriteFile(path, sim.ServiceAccount().KeyFile("http://127.0.0.1:9/token"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Driver{MaxBackoff: time.Millisecond}.Open(t.Context(), map[string]any{"projects": "roster-prod", "endpoint_url": url, "token_uri": url + gcpsim.TokenPath}, nil, discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := collectAll(t, p); len(got) != 20 {
		t.Fatalf("collected %d", len(got))
	}
	if sim.Stats().TokensIssued != 1 {
		t.Fatal("the token_uri override was not used")
	}
}

func TestServiceAccountKeyNeverPrints(t *testing.T) {
	sim, url := newSim(t, gcpsim.Options{Seed: 12, Size: 1})
	key := ServiceAccountKey(sim.KeyFile(url))
	material := keyMaterial(t, key)
	d := testDriver(sim, url)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("driver", "key", key, "driver", d)
	js, _ := json.Marshal(struct{ D Driver }{d})
	for _, s := range []string{
		fmt.Sprint(key), fmt.Sprintf("%v %+v %#v %s %x %q", key, d, d, key, key, key), logged.String(), string(js),
	} {
		assertNoKey(t, "formatted output", s, material)
	}
}
