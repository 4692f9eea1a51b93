package azure_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/azure"
	"github.com/rosterhq/roster/sources/construct"
)

const secretValue = "SECRET-VALUE-123"

func TestValidate(t *testing.T) {
	sub := "0b1f6471-1bf0-4dda-aec3-111122223333"
	for _, tc := range []struct {
		name   string
		config map[string]any
		field  string // "" when valid
	}{
		{"minimal", map[string]any{}, ""},
		{"plugin file", map[string]any{
			"auth_source":                  "auto",
			"include_vm_resource_groups":   []any{"myrg1", "myrg2"},
			"include_vmss_resource_groups": []any{"*"},
			"hostnames":                    []any{"tags.vm_name", `default_inventory_hostname + ".domain.tld"`, "default"},
			"plain_host_names":             true,
			"batch_fetch":                  true,
		}, ""},
		{"one subscription as a string", map[string]any{"subscriptions": sub}, ""},
		{"subscription_id alias", map[string]any{"subscription_id": sub}, ""},
		{"several subscriptions", map[string]any{"subscriptions": []any{sub, strings.Replace(sub, "3333", "4444", 1)}, "include_vmss": true}, ""},
		{"named clouds", map[string]any{"cloud_environment": "AzureUSGovernment"}, ""},
		{"simulator endpoints", map[string]any{"authority_host": "https://127.0.0.1:4567", "arm_endpoint": "https://127.0.0.1:4567/"}, ""},
		{"bad subscription", map[string]any{"subscriptions": []any{sub, "prod"}}, "subscriptions[1]"},
		{"duplicate subscription", map[string]any{"subscriptions": []any{sub, strings.ToUpper(sub)}}, "subscriptions[1]"},
		{"subscriptions not strings", map[string]any{"subscriptions": []any{1, 2}}, "subscriptions"},
		{"bad resource group", map[string]any{"include_vm_resource_groups": []any{"ok-rg", "bad/rg"}}, "include_vm_resource_groups[1]"},
		{"resource group ending in a period", map[string]any{"include_vmss_resource_groups": []any{"rg."}}, "include_vmss_resource_groups[0]"},
		{"wildcard and names", map[string]any{"include_vm_resource_groups": []any{"*", "rg"}}, "include_vm_resource_groups"},
		{"vmss off with groups", map[string]any{"include_vmss": false, "include_vmss_resource_groups": []any{"rg"}}, "include_vmss"},
		{"broken hostname expression", map[string]any{"hostnames": []any{"default", "tags.Name | "}}, "hostnames[1]"},
		{"empty hostname", map[string]any{"hostnames": []any{""}}, "hostnames[0]"},
		{"hostnames as dicts", map[string]any{"hostnames": []any{map[string]any{"name": "x"}}}, "hostnames"},
		{"unknown option", map[string]any{"regions": []any{"eastus"}}, "regions"},
		{"secret", map[string]any{"secret": secretValue}, "secret"},
		{"client secret", map[string]any{"client_secret": secretValue}, "client_secret"},
		{"password", map[string]any{"password": secretValue, "ad_user": "me@example.com"}, "password"},
		{"tenant and client id in the source", map[string]any{"tenant": "t", "client_id": "c", "profile": "p", "cert_validation_mode": "ignore", "api_profile": "latest"}, ""},
		{"cli auth", map[string]any{"auth_source": "cli"}, "auth_source"},
		{"host filters", map[string]any{"exclude_host_filters": []any{"powerstate != 'running'", "location in ['eastus']"},
			"include_host_filters": []any{true}, "default_host_filters": []any{}}, ""},
		{"broken exclude filter", map[string]any{"exclude_host_filters": []any{"location in ['eastus'", "ok"}}, "exclude_host_filters[0]"},
		{"empty include filter", map[string]any{"include_host_filters": []any{" "}}, "include_host_filters[0]"},
		{"filters not a list", map[string]any{"default_host_filters": "powerstate != 'running'"}, "default_host_filters"},
		{"cache and batch settings", map[string]any{"batch_fetch_interval": 3, "batch_fetch_timeout": 5}, ""},
		{"contrib sanitization", map[string]any{"use_contrib_script_compatible_sanitization": true}, ""},
		{"arc", map[string]any{"include_arc_resource_groups": []any{"*"}}, "include_arc_resource_groups"},
		{"unaliased constructed option", map[string]any{"conditional_groups": map[string]any{"all": true}}, "conditional_groups"},
		{"metadata URL cloud", map[string]any{"cloud_environment": "https://management.local.azurestack.external/metadata/endpoints"}, "cloud_environment"},
		{"unknown cloud", map[string]any{"cloud_environment": "AzureGermanCloud"}, "cloud_environment"},
		{"plain http authority", map[string]any{"authority_host": "http://127.0.0.1:1"}, "authority_host"},
		{"endpoint with credentials", map[string]any{"arm_endpoint": "https://user:pw@127.0.0.1:1"}, "arm_endpoint"},
		{"alias twice", map[string]any{"subscriptions": sub, "subscription_id": sub}, "subscription_id"},
		{"concurrency", map[string]any{"concurrency": 1000}, "concurrency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := azure.Driver{}.Validate(tc.config)
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
			if strings.Contains(fmt.Sprintf("%v %+v", err, roster.ErrorFields(err)), secretValue) {
				t.Fatalf("the error repeats a secret: %v", err)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		config map[string]any
		want   []string
	}{
		{map[string]any{}, nil},
		{map[string]any{"exclude_host_filters": []any{"true"}, "batch_fetch": false}, nil},
		{map[string]any{"tenant": "t", "client_id": "c", "batch_fetch_timeout": 5, "use_contrib_script_compatible_sanitization": true},
			[]string{"batch_fetch_timeout", "client_id", "tenant", "use_contrib_script_compatible_sanitization"}},
		{map[string]any{"tenant": "t", "regions": "x"}, nil}, // invalid: no warnings
	} {
		got := azure.Driver{}.Warnings(tc.config)
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

func TestValidateThroughTheRegistry(t *testing.T) {
	reg := sources.NewRegistry(azure.Driver{})
	err := reg.Validate("azure", map[string]any{
		"plugin":        "azure.azcollection.azure_rm",
		"subscriptions": []any{"0b1f6471-1bf0-4dda-aec3-111122223333", "nope"},
		"keyed_groups":  []any{map[string]any{"prefix": "tag", "key": "tags"}},
		"hostnames":     []any{"name ~"},
	})
	var fields []string
	for _, f := range roster.ErrorFields(err) {
		fields = append(fields, f.Field)
	}
	if !slices.Contains(fields, "config.subscriptions[1]") || !slices.Contains(fields, "config.hostnames[0]") {
		t.Fatalf("fields %v (%v)", fields, err)
	}
	if err := reg.Validate("azure", map[string]any{"plugin": "amazon.aws.aws_ec2"}); err == nil {
		t.Fatal("an aws plugin file was accepted for azure")
	}
}

// TestConstructAliases checks the aliases the registry is to apply: after
// renaming, the plugin's documented options parse as construct options.
func TestConstructAliases(t *testing.T) {
	cfg := map[string]any{
		"conditional_groups":      map[string]any{"all_the_hosts": true, "db_hosts": "'dbserver' in name"},
		"hostvar_expressions":     map[string]any{"ansible_host": "(public_dns_hostnames + public_ipv4_addresses) | first"},
		"fail_on_template_errors": false,
	}
	must(t, sources.Aliases(cfg, azure.Driver{}.ConstructAliases()))
	if _, err := construct.Parse(cfg); err != nil {
		t.Fatalf("aliased options do not parse: %v", err)
	}
	for _, k := range []string{"groups", "compose", "strict"} {
		if _, ok := cfg[k]; !ok {
			t.Fatalf("%s missing after aliasing: %v", k, cfg)
		}
	}
	both := map[string]any{"conditional_groups": map[string]any{}, "groups": map[string]any{}}
	if err := sources.Aliases(both, azure.Driver{}.ConstructAliases()); err == nil {
		t.Fatal("an option given under both names was accepted")
	}

	// Through the registry, as a source is created: a pasted azure_rm
	// file validates, and the stored config keeps the plugin's names.
	reg := sources.NewRegistry(azure.Driver{})
	pasted := map[string]any{
		"plugin":             "azure.azcollection.azure_rm",
		"subscriptions":      []any{"0b1f6471-1bf0-4dda-aec3-111122223333"},
		"conditional_groups": map[string]any{"db_hosts": "'dbserver' in name"},
		"keyed_groups":       []any{map[string]any{"prefix": "tag", "key": "tags"}},
	}
	if err := reg.Validate("azure", pasted); err != nil {
		t.Fatalf("a pasted azure_rm file: %v", err)
	}
	if _, ok := pasted["conditional_groups"]; !ok {
		t.Fatal("validation renamed the stored config")
	}
	if err := reg.Validate("azure", map[string]any{"subscriptions": []any{"0b1f6471-1bf0-4dda-aec3-111122223333"},
		"conditional_groups": map[string]any{"x": "true"}, "groups": map[string]any{"y": "true"}}); err == nil {
		t.Fatal("groups given under both names was accepted")
	}
}

func TestOpenNeedsASubscriptionAndACredential(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	empty := func(string) string { return "" }
	_, err := azure.Driver{Getenv: empty}.Open(t.Context(), map[string]any{}, nil, log)
	if fields := roster.ErrorFields(err); len(fields) != 1 || fields[0].Field != "subscriptions" {
		t.Fatalf("no subscription: %v", err)
	}
	env := map[string]string{"AZURE_SUBSCRIPTION_ID": "0b1f6471-1bf0-4dda-aec3-111122223333", "AZURE_CLIENT_SECRET": secretValue}
	_, err = azure.Driver{Getenv: func(k string) string { return env[k] }}.Open(t.Context(), map[string]any{}, nil, log)
	if err == nil || !strings.Contains(err.Error(), "lacks AZURE_TENANT_ID, AZURE_CLIENT_ID (") {
		t.Fatalf("missing credential: %v", err)
	}
	env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"] = "9c7d3e51-2a4b-4c6d-8e0f-a1b2c3d4e5f6", "4a1f6e2b-7c3d-4e5f-9a0b-c1d2e3f4a5b6"
	p, err := azure.Driver{Getenv: func(k string) string { return env[k] }}.Open(t.Context(), map[string]any{}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	scopes, _ := p.Scopes(t.Context())
	if !slices.Equal(scopes, []string{env["AZURE_SUBSCRIPTION_ID"]}) {
		t.Fatalf("scopes %v", scopes)
	}
	if strings.Contains(logs.String(), secretValue) {
		t.Fatal("the secret was logged")
	}
	if s := fmt.Sprintf("%v %+v %#v", azure.ClientSecret{Secret: secretValue}, azure.ClientSecret{Secret: secretValue}, azure.ClientSecret{Secret: secretValue}); strings.Contains(s, secretValue) {
		t.Fatalf("ClientSecret prints its secret: %s", s)
	}
}
