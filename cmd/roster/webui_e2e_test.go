package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/browsertest"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// TestWebUIEndToEnd is issue 18's scenario, in a real headless Chromium
// against a real `roster serve` syncing a simulated EC2 fleet: sign in,
// create a source from YAML, fix the validation error the server shows,
// sync now and watch the live progress to its end, find a host, see its
// change after a second sync of a fleet that changed, and revoke a token
// (which the API then refuses). Any console error or CSP violation fails
// it; each page's screenshot is kept under $ROSTER_TEST_ARTIFACTS.
func TestWebUIEndToEnd(t *testing.T) {
	b := browsertest.New(t)
	bin := buildBinary(t, "./cmd/roster", t.TempDir())

	// DescribeInstances answering a second late: a sync long enough to
	// watch live.
	regions := []string{"us-east-1", "eu-west-1"}
	sim := awssim.New(awssim.Options{Seed: 18, Size: 40, Regions: regions, AccessKeys: []string{simAccessKey},
		Faults: awssim.Faults{Latency: time.Second, Ops: []string{"DescribeInstances"}}})
	simURL, stopSim, err := sim.Start(t.Context(), "127.0.0.1:0")
	must(t, err)
	t.Cleanup(stopSim)

	db := filepath.Join(t.TempDir(), "roster.db")
	node := startNode(t, bin, "roster", db, []string{"AWS_ACCESS_KEY_ID=" + simAccessKey, "AWS_SECRET_ACCESS_KEY=" + simSecretKey, "AWS_EC2_METADATA_DISABLED=true"})
	admin := adminToken(t, bin, "--database", db)
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	must(t, os.WriteFile(tokenFile, []byte(admin.Reveal()+"\n"), 0o600))
	cli := newCLIEnv(t, bin, "ROSTER_URL="+node.url, "ROSTER_TOKEN_FILE="+tokenFile)
	password := "correct horse battery staple 18"
	pwFile := filepath.Join(t.TempDir(), "pw")
	must(t, os.WriteFile(pwFile, []byte(password+"\n"), 0o600))
	cli.ok("user", "create", "alice", "--password-file", pwFile)
	cli.ok("binding", "create", "--user", "alice", "--role", "admin", "--scope", "server")
	cli.ok("inventory", "create", "prod")
	// A token of a CI job, revoked through the UI at the end.
	ciToken := roster.Secret(strings.TrimSpace(cli.ok("token", "create", "--name", "ci-deploy", "--role", "auditor")))
	ci := client.New(node.url, ciToken)
	if code := call(t, ci, "GET", "/inventories", nil, nil); code != 200 {
		t.Fatalf("the CI token before revocation: %d", code)
	}
	text := func(sel string) string { t.Helper(); return browsertest.Get(b, chromedp.Text(chromedp.CSS(sel))) }

	b.Do("signing in", chromedp.Navigate(node.url+"/"), chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), "alice"), chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("section.inventory")))
	b.Screenshot("overview-before")

	// A source from YAML, first with a mistake (a misspelt option), which
	// the server names; the text typed is kept to be fixed.
	good := fmt.Sprintf("plugin: amazon.aws.aws_ec2\nregions:\n  - us-east-1\n  - eu-west-1\nendpoint_url: %s\nhostnames:\n  - tag:Name\nkeyed_groups:\n  - prefix: role\n    key: tags.Role\n", simURL)
	bad := strings.Replace(good, "hostnames:", "hostname:", 1)
	b.Do("writing a source with a mistake", chromedp.Navigate(node.url+"/ui/sources/new"), chromedp.WaitVisible(chromedp.ID("config")),
		chromedp.SetValue(chromedp.ID("inventory"), "prod"), chromedp.SendKeys(chromedp.ID("name"), "ec2"),
		chromedp.SetValue(chromedp.ID("provider"), "aws"), chromedp.SetValue(chromedp.ID("config"), bad),
		chromedp.Submit(chromedp.ID("config")), chromedp.WaitVisible(chromedp.ID("problems")))
	if problems := text("#problems"); !strings.Contains(problems, "hostname") {
		t.Errorf("the editor's problems do not name the misspelt option: %q", problems)
	}
	if kept := browsertest.Get(b, chromedp.Value(chromedp.ID("config"))); kept != bad {
		t.Errorf("the editor lost what was typed: %q", kept)
	}
	b.Screenshot("source-editor-refused")
	b.Do("fixing the mistake", chromedp.SetValue(chromedp.ID("config"), good), chromedp.Submit(chromedp.ID("config")),
		chromedp.WaitVisible(chromedp.ID("sync-now")))
	b.Screenshot("source")

	// Sync now, and watch the run to its end.
	syncAndWatch := func(shot string) {
		t.Helper()
		b.Do("syncing now", chromedp.Click(chromedp.ID("sync-now")), chromedp.WaitVisible(chromedp.ID("live")),
			chromedp.WaitReady(chromedp.CSS(`#live[data-updates]`)))
		if total := browsertest.RunningScopes(b); total != fmt.Sprint(len(regions)) {
			t.Errorf("the live view shows %s scopes in all, want %d", total, len(regions))
		}
		b.Screenshot(shot + "-live")
		b.DoWithin(time.Minute, "watching the run to its end", chromedp.WaitVisible(chromedp.ID("changes")))
		if status := text("#run-status"); status != "succeeded" {
			t.Fatalf("the run %s: %s", status, text("main"))
		}
		b.Screenshot(shot)
	}
	syncAndWatch("run-first")
	var hosts struct{ Items []struct{ Name string } }
	if code := call(t, client.New(node.url, admin), "GET", "/inventories/prod/hosts?limit=500", nil, &hosts); code != 200 || len(hosts.Items) == 0 {
		t.Fatalf("the inventory's hosts: %d, %d hosts", code, len(hosts.Items))
	}
	if seen := text("#count-seen"); seen != fmt.Sprint(len(hosts.Items)) {
		t.Errorf("the run page says %s hosts seen, the inventory has %d", seen, len(hosts.Items))
	}

	// Find a host by name, and open its page.
	var target awssim.InstanceInfo
	var name string
	for _, in := range sim.Fleet().Instances() {
		if n, ok := in.Tag("Name"); ok && in.State == "running" && n == hosts.Items[0].Name {
			target, name = in, n
		}
	}
	if name == "" {
		t.Fatalf("no running instance is named %s", hosts.Items[0].Name)
	}
	b.Do("finding a host", chromedp.Navigate(node.url+"/ui/inventories/prod"), chromedp.WaitVisible(chromedp.ID("q-name")),
		chromedp.SendKeys(chromedp.ID("q-name"), name), chromedp.Submit(chromedp.ID("q-name")),
		chromedp.WaitVisible(chromedp.CSS(`main table a`)))
	b.Screenshot("hosts-search")
	if rows := browsertest.Eval[int](b, `document.querySelectorAll("main table tbody tr").length`); rows != 1 {
		t.Errorf("searching for %s finds %d hosts", name, rows)
	}
	b.Do("opening the host", chromedp.Click(chromedp.CSS(`main table tbody a`)), chromedp.WaitVisible(chromedp.ID("history")))
	hostURL := browsertest.Get(b, chromedp.Location())
	if h := text("main"); !strings.Contains(h, name) || !strings.Contains(h, "added") {
		t.Errorf("the host page lacks its name or its addition:\n%s", h)
	}

	// The fleet changes; a second sync shows the host's change.
	must(t, sim.Fleet().SetTag(target.ID, "Role", "changed-by-e2e"))
	b.Do("opening the source", chromedp.Navigate(node.url+"/ui/sources"), chromedp.Click(chromedp.CSS(`main a[href$="/prod/ec2"]`)),
		chromedp.WaitVisible(chromedp.ID("sync-now")))
	syncAndWatch("run-second")
	if changes := text("#changes"); !strings.Contains(changes, name) || !strings.Contains(changes, "changed-by-e2e") {
		t.Errorf("the second run's change log lacks %s's new tag:\n%s", name, changes)
	}
	b.Do("opening the host again", chromedp.Navigate(hostURL), chromedp.WaitVisible(chromedp.ID("history")))
	if h := text("main"); !strings.Contains(h, "changed") || !strings.Contains(h, "role_changed_by_e2e") {
		t.Errorf("the host page lacks its change or its new group:\n%s", h)
	}
	b.Screenshot("host")

	// Revoke the CI job's token; the API refuses it from then on.
	b.Do("revoking the CI token", chromedp.Navigate(node.url+"/ui/access"), chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Revoke token ci-deploy"]`)))
	b.Screenshot("access")
	b.Do("accepting the confirmation", browsertest.ConfirmYes,
		chromedp.Click(chromedp.CSS(`button[aria-label="Revoke token ci-deploy"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`button[aria-label="Revoke token ci-deploy"]`)))
	if code := call(t, ci, "GET", "/inventories", nil, nil); code != 401 {
		t.Errorf("the revoked CI token: %d, want 401", code)
	}
	b.Do("the overview after", chromedp.Navigate(node.url+"/"), chromedp.WaitVisible(chromedp.CSS("section.inventory")))
	b.Screenshot("overview")
}
