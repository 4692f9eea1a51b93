package gitops

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
	"github.com/rosterhq/roster/sources/azure"
	"github.com/rosterhq/roster/sources/gcp"
	"github.com/rosterhq/roster/sources/openstack"
)

// drivers are the providers whose secret options import strips.
var drivers = sources.NewRegistry(aws.Driver{}, gcp.Driver{}, azure.Driver{}, openstack.Driver{})

func readInputs(t *testing.T, names ...string) []Input {
	t.Helper()
	var ins []Input
	for _, n := range names {
		in, err := ReadInput(filepath.Join("testdata", "import", n), nil)
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, in)
	}
	return ins
}

// sourceDocs indexes the source documents by INVENTORY/NAME.
func sourceDocs(im *Imported) map[string]*Source {
	out := map[string]*Source{}
	for _, d := range im.Docs {
		if d.Kind == KindSource {
			out[d.Key()] = d.Source
		}
	}
	return out
}

func inventoryDocs(im *Imported) map[string]*Inventory {
	out := map[string]*Inventory{}
	for _, d := range im.Docs {
		if d.Kind == KindInventory {
			out[d.Inventory.Name] = d.Inventory
		}
	}
	return out
}

// noteLines are the notes as import prints them, each with its
// "skipped" mark.
func noteLines(im *Imported) []string {
	var out []string
	for _, n := range im.Notes {
		s := n.String()
		if n.Skipped != strings.Contains(n.What, "skipped") {
			s += " [Skipped flag disagrees]"
		}
		out = append(out, s)
	}
	return out
}

// wantNotes checks that each want is a substring of one note (in order of
// the wants, any order of the notes) and that no other note is there.
func wantNotes(t *testing.T, im *Imported, want ...string) {
	t.Helper()
	got := noteLines(im)
	used := make([]bool, len(got))
	for _, w := range want {
		i := slices.IndexFunc(got, func(s string) bool { return strings.Contains(s, w) })
		if i < 0 {
			t.Errorf("no note says %q; notes:\n%s", w, strings.Join(got, "\n"))
			continue
		}
		used[i] = true
	}
	for i, u := range used {
		if !u {
			t.Errorf("unexpected note: %s", got[i])
		}
	}
}

// TestImportPluginFilesOfEachCloud converts a plugin file of each of the
// four clouds: one inventory document, one source each, named after the
// file, its config the file without the options that hold secrets, which
// are noted by name, never by value.
func TestImportPluginFilesOfEachCloud(t *testing.T) {
	files := []string{"prod.aws_ec2.yml", "web.gcp.yml", "apps.azure_rm.yml", "cloud.openstack.yml"}
	im, err := Import(readInputs(t, files...), ImportOptions{Inventory: "prod", Secrets: drivers.SecretOptions})
	if err != nil {
		t.Fatal(err)
	}
	if invs := inventoryDocs(im); len(invs) != 1 || invs["prod"] == nil {
		t.Fatalf("inventories: %v", invs)
	}
	srcs := sourceDocs(im)
	want := map[string]string{"prod/prod": "aws", "prod/web": "gcp", "prod/apps": "azure", "prod/cloud": "openstack"}
	if len(srcs) != len(want) {
		t.Fatalf("sources: %v", mapKeys(srcs))
	}
	for key, provider := range want {
		s := srcs[key]
		if s == nil {
			t.Fatalf("no source %s", key)
		}
		if got := s.provider(); got != provider {
			t.Errorf("%s: provider %q, want %q", key, got, provider)
		}
	}
	// The config is the file as it is, bar the secrets.
	aws := srcs["prod/prod"].Config
	if aws["plugin"] != "amazon.aws.aws_ec2" || !reflect.DeepEqual(aws["regions"], []any{"us-east-1", "us-west-2"}) ||
		aws["filters"].(map[string]any)["tag:Environment"] != "production" || len(aws["keyed_groups"].([]any)) != 3 ||
		aws["cache_timeout"] != float64(7200) {
		t.Errorf("aws config: %v", aws)
	}
	az := srcs["prod/apps"].Config
	if _, ok := az["client_secret"]; ok {
		t.Error("azure: client_secret kept in the config")
	}
	if az["conditional_groups"] == nil || az["hostvar_expressions"] == nil {
		t.Errorf("azure config lost options: %v", az)
	}
	os := srcs["prod/cloud"].Config
	auth := os["clouds"].(map[string]any)["prod-cloud"].(map[string]any)["auth"].(map[string]any)
	if _, ok := auth["password"]; ok || auth["username"] != "inventory" {
		t.Errorf("openstack auth: %v", auth)
	}
	wantNotes(t, im,
		"apps.azure_rm.yml: option client_secret not imported: it holds a secret",
		"cloud.openstack.yml: option clouds.prod-cloud.auth.password not imported: it holds a secret",
	)
	for _, n := range noteLines(im) {
		for _, secret := range []string{"0penstack-Pa55", "AZURE_SECRET"} {
			if strings.Contains(n, secret) {
				t.Errorf("a note shows a secret: %s", n)
			}
		}
	}
}

func mapKeys[V any](m map[string]V) []string { return sortedKeys(m) }

// TestImportPluginSecretsStripped: every key an AWS plugin file may hold
// is left out and noted; the values appear nowhere, not in the
// documents --print would write either.
func TestImportPluginSecretsStripped(t *testing.T) {
	im, err := Import(readInputs(t, "legacy.aws_ec2.yml"), ImportOptions{Inventory: "old", Name: "eu", Secrets: drivers.SecretOptions})
	if err != nil {
		t.Fatal(err)
	}
	s := sourceDocs(im)["old/eu"]
	if s == nil {
		t.Fatalf("sources: %v", mapKeys(sourceDocs(im)))
	}
	if want := []string{"keyed_groups", "plugin", "regions"}; !slices.Equal(sortedKeys(s.Config), want) {
		t.Errorf("config keys %v, want %v", sortedKeys(s.Config), want)
	}
	wantNotes(t, im,
		"legacy.aws_ec2.yml: option aws_access_key not imported",
		"legacy.aws_ec2.yml: option aws_secret_key not imported",
		"legacy.aws_ec2.yml: option aws_security_token not imported",
	)
	im.Resolve(nil)
	out, err := Marshal(im.Docs)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI", "FwoGZXIvYXdzEXAMPLETOKEN"} {
		if strings.Contains(string(out), secret) || strings.Contains(strings.Join(noteLines(im), "\n"), secret) {
			t.Errorf("%s shows in the output or the notes", secret)
		}
	}
}

// TestImportPluginFilesSkipped: a file whose name and plugin key
// disagree, a plugin Roster has no provider for, constructed: each is
// skipped with why, and the others are imported.
func TestImportPluginFilesSkipped(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "broken.aws_ec2.yml")
	if err := os.WriteFile(bad, []byte("plugin: amazon.aws.aws_ec2\nregions: [us-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ins := readInputs(t, "db.aws_ec2.yml", "roles.constructed.yml", "dc.vmware.yml", "web.gcp.yml")
	brokenIn, err := ReadInput(bad, nil)
	if err != nil {
		t.Fatal(err)
	}
	im, err := Import(append(ins, brokenIn), ImportOptions{Inventory: "prod", Secrets: drivers.SecretOptions})
	if err != nil {
		t.Fatal(err)
	}
	if got := mapKeys(sourceDocs(im)); !slices.Equal(got, []string{"prod/web"}) {
		t.Errorf("sources %v, want prod/web only", got)
	}
	wantNotes(t, im,
		"db.aws_ec2.yml: skipped: the file's name says plugin amazon.aws.aws_ec2, its plugin key google.cloud.gcp_compute",
		"roles.constructed.yml: skipped: plugin ansible.builtin.constructed has no Roster source: it reads other inventories",
		`dc.vmware.yml: skipped: plugin "community.vmware.vmware_vm_inventory" has no Roster provider`,
		"broken.aws_ec2.yml: skipped: not YAML: yaml: line 1",
	)
	if im.Skipped() != 4 {
		t.Errorf("Skipped() = %d, want 4", im.Skipped())
	}
	if strings.Contains(strings.Join(noteLines(im), "\n"), "vmware-Pa55") {
		t.Error("a note shows the vmware file's password")
	}
}

// TestImportPluginOptions: plugin files need an inventory; --name names
// one file's source; names come of file names without the plugin suffix.
func TestImportPluginOptions(t *testing.T) {
	ins := readInputs(t, "prod.aws_ec2.yml", "web.gcp.yml")
	if _, err := Import(ins, ImportOptions{Secrets: drivers.SecretOptions}); err == nil || !strings.Contains(err.Error(), "--inventory") {
		t.Errorf("no inventory: %v", err)
	}
	if _, err := Import(ins, ImportOptions{Inventory: "prod", Name: "x", Secrets: drivers.SecretOptions}); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Errorf("--name with two files: %v", err)
	}
	if _, err := Import(ins, ImportOptions{Inventory: "bad name", Secrets: drivers.SecretOptions}); err == nil {
		t.Error("an invalid inventory name was taken")
	}
	for file, want := range map[string]string{
		"prod.aws_ec2.yml": "prod", "aws_ec2.yml": "aws_ec2", "eu_west.aws_ec2.yaml": "eu_west", "web-gcp.yml": "web",
		"x.gcp_compute.yml": "x", "My Apps.azure_rm.yml": "My-Apps", "inventory.yml": "inventory", "cloud.openstack.yaml": "cloud",
	} {
		im, err := Import([]Input{{Path: file, Data: []byte("plugin: aws_ec2\n")}}, ImportOptions{Inventory: "i", Secrets: drivers.SecretOptions})
		if err != nil {
			t.Fatal(err)
		}
		got := mapKeys(sourceDocs(im))
		if _, fileProvider := fileSuffix(file); fileProvider != "" && fileProvider != "aws" {
			if len(got) != 0 {
				t.Errorf("%s: imported as %v despite its suffix", file, got)
			}
			continue
		}
		if !slices.Equal(got, []string{"i/" + want}) {
			t.Errorf("%s: sources %v, want i/%s (notes %v)", file, got, want, noteLines(im))
		}
	}
}

// TestImportAWXExport converts an `awx export` document (awxkit's shape:
// inventories with their hosts and groups, inventory sources naming
// their inventory by natural key, schedules inside them) into
// inventories and sources, and notes all it leaves out.
func TestImportAWXExport(t *testing.T) {
	im, err := Import(readInputs(t, "awx-export.json"), ImportOptions{Secrets: drivers.SecretOptions})
	if err != nil {
		t.Fatal(err)
	}
	im.Resolve(nil)
	invs := inventoryDocs(im)
	if len(invs) != 2 || invs["AWS-Production"] == nil || invs["AWS-Production"].Description != "Production, all clouds" || invs["Staging"] == nil {
		t.Fatalf("inventories: %v", mapKeys(invs))
	}
	srcs := sourceDocs(im)
	if got := mapKeys(srcs); !slices.Equal(got, []string{"AWS-Production/EC2-us-east-1", "AWS-Production/GCE-web", "Staging/Azure-apps"}) {
		t.Fatalf("sources: %v", got)
	}
	ec2 := srcs["AWS-Production/EC2-us-east-1"]
	want := &Source{Inventory: "AWS-Production", Name: "EC2-us-east-1", OnMissing: "remove", Schedule: "2h0m0s", UpdateCacheTimeout: 300,
		Config: map[string]any{
			"plugin": "amazon.aws.aws_ec2", "regions": []any{"us-east-1"}, "filters": map[string]any{"instance-state-name": "running"},
			"keyed_groups": []any{map[string]any{"prefix": "tag", "key": "tags"}}, "compose": map[string]any{"ansible_host": "private_ip_address"},
		}}
	if !reflect.DeepEqual(ec2, want) {
		t.Errorf("EC2 source:\n%+v\nwant\n%+v", ec2, want)
	}
	gce := srcs["AWS-Production/GCE-web"]
	want = &Source{Inventory: "AWS-Production", Name: "GCE-web", OnMissing: "disable", Timeout: "30m0s",
		Schedule: "CRON_TZ=Europe/Paris 30 6 * * 1,3,5",
		Config: map[string]any{
			"plugin": "google.cloud.gcp_compute", "zones": []any{"us-central1-a"}, "projects": []any{"acme-web-prod"}, "hostnames": []any{"name"},
		}}
	if !reflect.DeepEqual(gce, want) {
		t.Errorf("GCE source:\n%+v\nwant\n%+v", gce, want)
	}
	az := srcs["Staging/Azure-apps"]
	if _, ok := az.Config["client_secret"]; ok || az.Config["plugin"] != "azure.azcollection.azure_rm" || az.Config["plain_host_names"] != true {
		t.Errorf("Azure source config: %v", az.Config)
	}
	f := filepath.Join("testdata", "import", "awx-export.json")
	wantNotes(t, im,
		f+": 1 job templates not imported",
		f+`: inventory "AWS Production": named AWS-Production in Roster`,
		f+`: inventory "AWS Production": 2 hosts and 1 groups not imported: Roster's hosts and groups come from its sources`,
		f+`: inventory "AWS Production": its variables (ansible_user, ntp_server) not imported: set them as group all's (roster group update AWS-Production all --vars FILE)`,
		f+`: inventory "Web servers": skipped: not imported yet: make it a smart inventory that names its inputs (AWX's filter spans the organization; roster inventory create NAME --kind smart --input INV... --host-filter "name__startswith=web")`,
		f+`: inventory source "AWS Production"/"EC2 us-east-1": named EC2-us-east-1 in Roster`,
		f+`: inventory source "AWS Production"/"EC2 us-east-1": credential "AWS prod keys" (Amazon Web Services) not imported: AWX exports no secrets; create a credential of type aws (roster credential create AWS-prod-keys --type aws`,
		f+`: inventory source "AWS Production"/"GCE web": named GCE-web in Roster`,
		f+`: inventory source "AWS Production"/"GCE web": enabled_var status not imported`,
		f+`: inventory source "AWS Production"/"GCE web": schedule "Monthly" not imported: it is disabled`,
		f+`: inventory source "AWS Production"/"vCenter DC1": skipped: source type "vmware" has no Roster provider`,
		f+`: inventory source "Staging"/"Azure apps": named Azure-apps in Roster`,
		f+`: inventory source "Staging"/"Azure apps": option client_secret not imported: it holds a secret`,
	)
	if strings.Contains(strings.Join(noteLines(im), "\n"), "not-for-config") {
		t.Error("a note shows the secret of source_vars")
	}

	// What --print writes is what apply reads back.
	out, err := Marshal(im.Docs)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := Parse("print.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(docs) != len(im.Docs) {
		t.Fatalf("%d documents read back, %d written", len(docs), len(im.Docs))
	}
	for i, d := range docs {
		if d.Kind == KindSource && !reflect.DeepEqual(d.Source, im.Docs[i].Source) {
			t.Errorf("read back %+v\nwrote %+v", d.Source, im.Docs[i].Source)
		}
	}
}

// TestImportAWXYAMLAndNested: `awx export -f yaml`, and the sources
// exported inside their inventory (related.inventory_sources), import
// the same; the same source in both places is taken once.
func TestImportAWXYAMLAndNested(t *testing.T) {
	doc := `
inventory:
  - name: prod
    description: ""
    kind: ""
    variables: "{}"
    organization: {name: Default, type: organization}
    natural_key: {name: prod, type: inventory, organization: {name: Default, type: organization}}
    related:
      inventory_sources:
        - name: os
          source: openstack
          source_vars: "clouds_yaml_path: [/etc/openstack/clouds.yaml]\n"
          overwrite: true
          credential: 12
          inventory: {name: prod, type: inventory, organization: {name: Default, type: organization}}
          related: {schedules: [{name: nightly, enabled: true, rrule: "DTSTART:20240101T230000Z RRULE:FREQ=DAILY;COUNT=10"}]}
inventory_sources:
  - name: os
    source: openstack
    inventory: {name: prod, type: inventory, organization: {name: Default, type: organization}}
  - name: scm
    source: scm
    source_path: inventory/hosts.ini
    inventory: {name: prod, type: inventory, organization: {name: Default, type: organization}}
`
	im, err := Import([]Input{{Path: "awx.yaml", Data: []byte(doc)}}, ImportOptions{Secrets: drivers.SecretOptions})
	if err != nil {
		t.Fatal(err)
	}
	im.Resolve(nil)
	srcs := sourceDocs(im)
	if got := mapKeys(srcs); !slices.Equal(got, []string{"prod/os"}) {
		t.Fatalf("sources %v", got)
	}
	if !reflect.DeepEqual(srcs["prod/os"].Config, map[string]any{"plugin": "openstack.cloud.openstack", "clouds_yaml_path": []any{"/etc/openstack/clouds.yaml"}}) {
		t.Errorf("config %v", srcs["prod/os"].Config)
	}
	wantNotes(t, im,
		`awx.yaml: inventory source "prod"/"os": schedule "nightly" (DTSTART:20240101T230000Z RRULE:FREQ=DAILY;COUNT=10) not imported: Roster's schedules do not end (COUNT)`,
		`awx.yaml: inventory source "prod"/"scm": skipped: it reads an inventory file or script from a project`,
		`awx.yaml: inventory source "prod"/"os": credential "id 12" not imported`,
	)
}

// TestImportResolve fits the documents to the server: an inventory that
// exists is left alone, a source that exists keeps its credential and
// schedule, a source whose AWX credential has a Roster namesake uses it.
func TestImportResolve(t *testing.T) {
	im, err := Import(readInputs(t, "awx-export.json", "prod.aws_ec2.yml"), ImportOptions{Inventory: "AWS-Production", Secrets: drivers.SecretOptions})
	if err != nil {
		t.Fatal(err)
	}
	st := &State{
		Inventories: map[string]*apiInventory{"AWS-Production": {ID: "i1", Name: "AWS-Production"}},
		Sources: map[string]*apiSource{"AWS-Production/prod": {ID: "s1", Name: "prod", Provider: "aws", Credential: "c2",
			Schedule: "15m", OnMissing: "disable", Timeout: "5m0s"}},
		Credentials: map[string]*apiCredential{"AWS-prod-keys": {ID: "c1", Name: "AWS-prod-keys", Type: "aws"}, "ec2": {ID: "c2", Name: "ec2", Type: "aws"}},
		credByID:    map[string]*apiCredential{},
	}
	for _, c := range st.Credentials {
		st.credByID[c.ID] = c
	}
	im.Resolve(st)
	if got := mapKeys(inventoryDocs(im)); !slices.Equal(got, []string{"Staging"}) {
		t.Errorf("inventory documents after resolve: %v (AWS-Production exists)", got)
	}
	srcs := sourceDocs(im)
	if p := srcs["AWS-Production/prod"]; p.Credential != "ec2" || p.Schedule != "15m" || p.OnMissing != "disable" || p.Timeout != "5m0s" {
		t.Errorf("existing source: %+v", p)
	}
	if e := srcs["AWS-Production/EC2-us-east-1"]; e.Credential != "AWS-prod-keys" {
		t.Errorf("EC2 source credential %q, want the Roster credential named as AWX's", e.Credential)
	}
	for _, n := range noteLines(im) {
		if strings.Contains(n, "AWS prod keys") {
			t.Errorf("credential noted though a Roster namesake is used: %s", n)
		}
	}
}

func TestScheduleOfRrule(t *testing.T) {
	for _, c := range []struct{ rrule, spec, why string }{
		{"DTSTART;TZID=America/New_York:20240115T020000 RRULE:FREQ=HOURLY;INTERVAL=2", "2h0m0s", ""},
		{"DTSTART:20240115T020000Z RRULE:FREQ=MINUTELY;INTERVAL=15", "15m0s", ""},
		{"DTSTART:20240115T021500Z RRULE:FREQ=DAILY;INTERVAL=1", "15 2 * * *", ""},
		{"DTSTART;TZID=UTC:20240115T021500 RRULE:FREQ=DAILY", "15 2 * * *", ""},
		{"DTSTART;TZID=Europe/Paris:20240301T063000 RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE,FR", "CRON_TZ=Europe/Paris 30 6 * * 1,3,5", ""},
		{"DTSTART:20240303T120000Z RRULE:FREQ=WEEKLY;INTERVAL=1", "0 12 * * 0", ""}, // a Sunday
		{"DTSTART:20240101T000000Z RRULE:FREQ=DAILY;INTERVAL=3", "", "every 3 days"},
		{"DTSTART:20240101T000000Z RRULE:FREQ=MONTHLY;BYMONTHDAY=1", "", "BYMONTHDAY"},
		{"DTSTART:20240101T000000Z RRULE:FREQ=HOURLY;UNTIL=20250101T000000Z", "", "do not end"},
		{"DTSTART;TZID=Nowhere/Atlantis:20240101T000000 RRULE:FREQ=DAILY", "", "Atlantis"},
		{"RRULE:FREQ=DAILY", "", "no DTSTART"},
	} {
		spec, why := scheduleOfRrule(c.rrule)
		if spec != c.spec || (c.why == "") != (why == "") || !strings.Contains(why, c.why) {
			t.Errorf("%s: %q, %q; want %q, %q", c.rrule, spec, why, c.spec, c.why)
		}
	}
}

// TestImportBounds: a plugin file is bounded as apply's files are, an AWX
// export (JSON) by MaxAWXBytes.
func TestImportBounds(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.aws_ec2.yml")
	if err := os.WriteFile(big, []byte("plugin: aws_ec2\n# "+strings.Repeat("x", MaxFileBytes)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadInput(big, nil); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a plugin file over %d bytes: %v", MaxFileBytes, err)
	}
	// The same size of JSON is an AWX export, read.
	js := filepath.Join(dir, "awx.json")
	if err := os.WriteFile(js, []byte(`{"inventory": [], "x": "`+strings.Repeat("x", MaxFileBytes)+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadInput(js, nil); err != nil {
		t.Errorf("an AWX export of 4 MiB: %v", err)
	}
	if err := os.WriteFile(js, []byte(`{"x": "`+strings.Repeat("x", MaxAWXBytes)+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadInput(js, nil); err == nil || !strings.Contains(err.Error(), "larger than 32 MiB") {
		t.Errorf("an AWX export over %d bytes: %v", MaxAWXBytes, err)
	}
}
