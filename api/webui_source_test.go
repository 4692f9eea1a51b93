package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/api/ui"
	"github.com/rosterhq/roster/internal/browsertest"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// adminUser makes a user bound as admin on the whole server and signs it
// in through the form.
func (f *fixture) adminUser(name string) string {
	f.t.Helper()
	f.secrets = append(f.secrets, alicePassword)
	wantStatus(f.t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": name, "password": alicePassword}), http.StatusCreated)
	f.bind(map[string]any{"user": name, "role": "admin", "scope": "server"})
	return f.uiSignIn(name, alicePassword)
}

// userWith makes a user bound with role on inventory inv ("" for the
// server) and signs it in.
func (f *fixture) userWith(name, role, inv string) string {
	f.t.Helper()
	f.secrets = append(f.secrets, alicePassword)
	wantStatus(f.t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": name, "password": alicePassword}), http.StatusCreated)
	b := map[string]any{"user": name, "role": role, "scope": "server"}
	if inv != "" {
		b["scope"], b["target"] = "inventory", inv
	}
	f.bind(b)
	return f.uiSignIn(name, alicePassword)
}

// simYAML is the editor's YAML of a source of the fixture's simulator.
func (f *fixture) simYAML(extra string) string {
	return "plugin: amazon.aws.aws_ec2\nregions:\n  - us-east-1\n  - eu-west-1\nendpoint_url: " + f.simURL + "\n" + extra
}

// runOf is the run id of a redirect to a run's page.
func runOf(t *testing.T, r response) string {
	t.Helper()
	loc := r.header.Get("Location")
	id, ok := strings.CutPrefix(loc, ui.RunsPath+"/")
	if r.status != http.StatusSeeOther || !ok || id == "" {
		t.Fatalf("answer %d to %q, want a redirect to a run: %s", r.status, loc, r.body)
	}
	return id
}

func (f *fixture) waitRun(id string) api.SyncRun {
	f.t.Helper()
	var run api.SyncRun
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := f.do("GET", "/api/v1/syncs/"+id, f.admin, nil)
		wantStatus(f.t, r, http.StatusOK)
		r.json(f.t, &run)
		if run.Status != "queued" && run.Status != "running" {
			return run
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.t.Fatalf("run %s did not finish", id)
	return run
}

// TestWebUISourceEditor: the editor creates a source from a plugin's
// YAML through the API's own checks. A form with several mistakes shows
// every one at once, each naming its field (and its YAML line), with
// the text kept as typed; bad YAML shows the YAML's error and line;
// options only an admin may set are refused to an operator, naming them.
// A change replaces the options whole: one deleted from the text is gone.
func TestWebUISourceEditor(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	cookie := f.adminUser("ada")
	r := f.uiGet(ui.NewSourcePath+"?inventory=prod", cookie)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the new source's editor", r, `<option value="prod" selected>`, `<textarea id="config" name="config"`, "plugin: amazon.aws.aws_ec2")
	csrf := csrfOf(t, r.body)

	bad := f.simYAML("keyed_groups:\n  - prefix: x\n    nonsense: 1\nregions_typo: [1]\n")
	bad = strings.Replace(bad, "  - eu-west-1\n", "  - 42\n", 1)
	form := url.Values{"csrf_token": {csrf}, "inventory": {"prod"}, "name": {"bad name!"}, "schedule": {"every tuesday"},
		"config": {bad}, "on_missing": {"remove"}}
	r = f.uiPost(ui.NewSourcePath, cookie, form, nil)
	wantStatus(t, r, http.StatusOK)
	page := html.UnescapeString(string(r.body))
	for _, want := range []string{"<code>name</code>", "<code>schedule</code>", "<code>config.regions</code> (line 2)", "config.keyed_groups[0]", "config.regions_typo"} {
		if !strings.Contains(page, want) {
			t.Errorf("the refused form lacks the problem %q:\n%s", want, page)
		}
	}
	if !strings.Contains(page, bad) || !strings.Contains(page, `value="bad name!"`) || !strings.Contains(page, `value="every tuesday"`) {
		t.Errorf("the refused form does not keep what was typed:\n%s", page)
	}
	if n := strings.Count(page, "<li><code>"); n < 5 {
		t.Errorf("the refused form shows %d problems, want all (5 or more)", n)
	}

	form.Set("config", "plugin: amazon.aws.aws_ec2\nregions: [us-east-1\nhostnames: x\n")
	r = f.uiPost(ui.NewSourcePath, cookie, form, nil)
	wantStatus(t, r, http.StatusOK)
	page = html.UnescapeString(string(r.body))
	if !regexp.MustCompile(`<code>config</code> \(line \d\): the YAML cannot be read`).MatchString(page) || !strings.Contains(page, "<code>name</code>") {
		t.Errorf("bad YAML's page does not name its line, or hides the other problems:\n%s", page)
	}

	var list struct{ Items []api.Source }
	f.do("GET", "/api/v1/inventories/prod/sources", f.admin, nil).json(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("a refused form created %d sources", len(list.Items))
	}

	form = url.Values{"csrf_token": {csrf}, "inventory": {"prod"}, "name": {"ec2"}, "schedule": {"1h"}, "on_missing": {"disable"},
		"config": {f.simYAML("compose:\n  ansible_host: private_ip_address\n")}}
	r = f.uiPost(ui.NewSourcePath, cookie, form, nil)
	wantRedirect(t, r, ui.SourcePath("prod", "ec2"))
	var src api.Source
	wantStatus(t, f.do("GET", "/api/v1/sources/prod%2Fec2", f.admin, nil), http.StatusOK)
	f.do("GET", "/api/v1/sources/prod%2Fec2", f.admin, nil).json(t, &src)
	if src.Provider != "aws" || src.Schedule == nil || *src.Schedule != "1h" || src.OnMissing != "disable" || src.Config["compose"] == nil {
		t.Errorf("the created source: %+v", src)
	}

	// A name taken is the form's problem, named.
	r = f.uiPost(ui.NewSourcePath, cookie, form, nil)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "a taken name's form", r, `id="problems"`, "<code>name</code>")

	r = f.uiGet(ui.SourcePath("prod", "ec2"), cookie)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the source's page", r, "Source prod/ec2", ">plugin: amazon.aws.aws_ec2\ncompose:\n  ansible_host: private_ip_address\n", "regions:\n  - us-east-1\n", "<code>1h</code>", `id="sync-now"`, "/edit")

	r = f.uiGet(ui.SourcePath("prod", "ec2")+"/edit", cookie)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the edit form", r, "compose:", `value="1h"`)
	edit := url.Values{"csrf_token": {csrf}, "name": {"ec2-main"}, "schedule": {""}, "on_missing": {"remove"}, "config": {f.simYAML("")}}
	r = f.uiPost(ui.SourcePath("prod", "ec2")+"/edit", cookie, edit, nil)
	wantRedirect(t, r, ui.SourcePath("prod", "ec2-main"))
	src = api.Source{}
	f.do("GET", "/api/v1/sources/prod%2Fec2-main", f.admin, nil).json(t, &src)
	if src.Config["compose"] != nil || src.Schedule != nil || src.OnMissing != "remove" {
		t.Errorf("the edited source keeps what the form removed: %+v", src)
	}

	// An operator may not point a source's credentials elsewhere: the
	// API's refusal names the option, at its line.
	op := f.userWith("oscar", "operator", "")
	form.Set("name", "ec2-op")
	form.Set("csrf_token", csrfOf(t, f.uiGet("/", op).body))
	r = f.uiPost(ui.NewSourcePath, op, form, nil)
	wantStatus(t, r, http.StatusForbidden)
	wantIn(t, "the operator's refused form", response{body: []byte(html.UnescapeString(string(r.body)))}, "<code>config.endpoint_url</code> (line 5)", "only an admin may set")

	var events []string
	for _, e := range f.auditLog(url.Values{}) {
		events = append(events, e.Action)
	}
	if got := strings.Join(events, " "); !strings.Contains(got, "source.create") || !strings.Contains(got, "source.update") {
		t.Errorf("the audit log has %s, want the UI's source.create and source.update", got)
	}
}

// TestWebUISourceRefusals: an auditor sees the sources but may neither
// create one nor sync one: 403 pages, and nothing changes; the forms
// need the session's CSRF token and a same-origin post.
func TestWebUISourceRefusals(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	f.inventory("other")
	src := f.source("prod", "ec2", f.awsConfig(nil))
	hidden := f.source("other", "hidden", f.awsConfig(nil))
	hiddenRun := f.syncAndWait(hidden.Id)
	viewer := f.userWith("vera", "auditor", "prod")

	// What the viewer may not see is absent: another inventory's runs,
	// their pages and streams.
	wantStatus(t, f.uiGet(ui.RunPath(hiddenRun.Id), viewer), http.StatusNotFound)
	wantStatus(t, f.uiGet(ui.RunPath(hiddenRun.Id)+"/events", viewer), http.StatusNotFound)
	if r := f.uiGet(ui.RunsPath, viewer); r.status != http.StatusOK || strings.Contains(string(r.body), hiddenRun.Id) || strings.Contains(string(r.body), "other/hidden") {
		t.Errorf("the viewer's run history shows another inventory's run: %s", r.body)
	}
	if r := f.uiGet(ui.SchedulesPath, viewer); r.status != http.StatusOK || strings.Contains(string(r.body), "other/hidden") {
		t.Errorf("the viewer's schedules show another inventory's source: %s", r.body)
	}

	r := f.uiGet(ui.SourcesPath, viewer)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the viewer's sources", r, `href="/ui/sources/prod/ec2"`)
	if strings.Contains(string(r.body), "/ui/sources/other/hidden") || strings.Contains(string(r.body), "New source") {
		t.Errorf("the viewer's list shows another inventory's source, or offers to create one:\n%s", r.body)
	}
	r = f.uiGet(ui.SourcePath("prod", "ec2"), viewer)
	wantStatus(t, r, http.StatusOK)
	if strings.Contains(string(r.body), "sync-now") || strings.Contains(string(r.body), "/edit") {
		t.Errorf("the viewer is offered Sync now or Edit:\n%s", r.body)
	}
	wantStatus(t, f.uiGet(ui.SourcePath("other", "hidden"), viewer), http.StatusNotFound)
	wantStatus(t, f.uiGet(ui.NewSourcePath, viewer), http.StatusForbidden)
	wantStatus(t, f.uiGet(ui.SourcePath("prod", "ec2")+"/edit", viewer), http.StatusForbidden)

	csrf := csrfOf(t, f.uiGet("/", viewer).body)
	r = f.uiPost(ui.SourcePath("prod", "ec2")+"/sync", viewer, url.Values{"csrf_token": {csrf}}, nil)
	wantStatus(t, r, http.StatusForbidden)
	r = f.uiPost(ui.NewSourcePath, viewer, url.Values{"csrf_token": {csrf}, "inventory": {"prod"}, "name": {"new"}, "config": {f.simYAML("")}, "on_missing": {"remove"}}, nil)
	wantStatus(t, r, http.StatusForbidden)
	if runs := f.runs(src.Id); len(runs) != 0 {
		t.Errorf("a refused Sync now made %d runs", len(runs))
	}
	wantStatus(t, f.do("GET", "/api/v1/sources/prod%2Fnew", f.admin, nil), http.StatusNotFound)

	admin := f.adminUser("ada")
	good := csrfOf(t, f.uiGet("/", admin).body)
	wantStatus(t, f.uiPost(ui.SourcePath("prod", "ec2")+"/sync", admin, url.Values{"csrf_token": {"wrong"}}, nil), http.StatusForbidden)
	cross := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}
	wantStatus(t, f.uiPost(ui.SourcePath("prod", "ec2")+"/sync", admin, url.Values{"csrf_token": {good}}, cross), http.StatusForbidden)
	wantStatus(t, f.uiPost(ui.NewSourcePath, admin, url.Values{"csrf_token": {good}, "inventory": {"prod"}, "name": {"x"}, "config": {f.simYAML("")}, "on_missing": {"remove"}}, cross), http.StatusForbidden)
	if runs := f.runs(src.Id); len(runs) != 0 {
		t.Errorf("a refused Sync now made %d runs", len(runs))
	}
	big := url.Values{"csrf_token": {good}, "inventory": {"prod"}, "name": {"big"}, "config": {"#" + strings.Repeat("x", 52<<10)}, "on_missing": {"remove"}}
	wantStatus(t, f.uiPost(ui.NewSourcePath, admin, big, nil), http.StatusBadRequest)
}

// TestWebUISyncNowAndRuns: Sync now starts a run and shows it; the run's
// page shows its scopes and counts; a second sync after the fleet
// changed shows each changed host with its old and new values; the run
// history lists runs newest first, filtered by source and status; the
// schedules page lists every source; the overview charts sync times.
func TestWebUISyncNowAndRuns(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	f.source("prod", "ec2", f.awsConfig(map[string]any{"hostnames": []string{"instance-id"}, "compose": map[string]any{"owner": "tags.owner"}}))
	f.source("prod", "idle", f.awsConfig(nil))
	wantStatus(t, f.do("PATCH", "/api/v1/sources/prod%2Fidle", f.admin, map[string]any{"schedule": "30m"}), http.StatusOK)
	cookie := f.adminUser("ada")
	csrf := csrfOf(t, f.uiGet("/", cookie).body)

	first := runOf(t, f.uiPost(ui.SourcePath("prod", "ec2")+"/sync", cookie, url.Values{"csrf_token": {csrf}}, nil))
	run := f.waitRun(first)
	if run.Status != "succeeded" {
		t.Fatalf("the run %s", run.Status)
	}
	r := f.uiGet(ui.RunPath(first), cookie)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the run's page", r, `id="run-status">succeeded<`, ">us-east-1</th>", ">eu-west-1</th>", fmt.Sprintf(`id="count-seen">%d<`, run.Counts.Seen), "change-added")

	// The first run added every host: its change log pages.
	next := regexp.MustCompile(`<a href="([^"]+)" rel="next">More changes</a>`).FindSubmatch(r.body)
	if next == nil || strings.Count(string(r.body), "change-added") != 50 {
		t.Fatalf("the first run's change log is not paged by 50:\n%s", r.body)
	}
	r = f.uiGet(html.UnescapeString(strings.TrimSuffix(string(next[1]), "#changes")), cookie)
	wantStatus(t, r, http.StatusOK)
	if strings.Count(string(r.body), "change-added") != 50 {
		t.Errorf("the change log's second page: %s", r.body)
	}

	inst := f.sim.Fleet().Instances()[0]
	if err := f.sim.Fleet().SetTag(inst.ID, "owner", "team-blue"); err != nil {
		t.Fatal(err)
	}
	second := runOf(t, f.uiPost(ui.SourcePath("prod", "ec2")+"/sync", cookie, url.Values{"csrf_token": {csrf}}, nil))
	if f.waitRun(second).Status != "succeeded" {
		t.Fatal("the second run failed")
	}
	r = f.uiGet(ui.RunPath(second)+"?kind=changed", cookie)
	wantStatus(t, r, http.StatusOK)
	page := html.UnescapeString(string(r.body))
	if !strings.Contains(page, "<strong class=\"host\">"+inst.ID+"</strong>") || !strings.Contains(page, `<ins>"team-blue"</ins>`) || !strings.Contains(page, "<th scope=\"row\">owner</th>") || !strings.Contains(page, "<th scope=\"row\">tags.owner</th>") {
		t.Errorf("the second run's change log lacks %s's owner going to team-blue:\n%s", inst.ID, page)
	}
	wantStatus(t, f.uiGet(ui.RunPath(second)+"?kind=nonsense", cookie), http.StatusBadRequest)
	wantStatus(t, f.uiGet(ui.RunPath("no-such-run"), cookie), http.StatusNotFound)

	r = f.uiGet(ui.RunsPath, cookie)
	wantStatus(t, r, http.StatusOK)
	if i, j := strings.Index(string(r.body), second), strings.Index(string(r.body), first); i < 0 || j < 0 || i > j {
		t.Errorf("the run history does not list the runs newest first:\n%s", r.body)
	}
	r = f.uiGet(ui.RunsPath+"?status=failed", cookie)
	wantStatus(t, r, http.StatusOK)
	if strings.Contains(string(r.body), first) {
		t.Errorf("the history of failed runs lists a succeeded one")
	}
	r = f.uiGet(ui.RunsPath+"?source=prod/idle", cookie)
	wantStatus(t, r, http.StatusOK)
	if strings.Contains(string(r.body), first) || !strings.Contains(string(r.body), "No runs yet") {
		t.Errorf("the history of another source lists this one's runs:\n%s", r.body)
	}

	r = f.uiGet(ui.SchedulesPath, cookie)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the schedules", r, `href="/ui/sources/prod/idle"`, "<code>30m</code>", `href="/ui/sources/prod/ec2"`, "on demand")
	if i, j := strings.Index(string(r.body), "prod/idle"), strings.Index(string(r.body), "prod/ec2"); i > j {
		t.Errorf("the scheduled source is not listed first")
	}

	r = f.uiGet("/", cookie)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the overview", r, `<svg class="spark"`, `role="img" aria-label="Duration of the last 2 syncs: min `, "<title>Duration of the last 2 syncs")
	r = f.uiGet(ui.SourcesPath, cookie)
	wantIn(t, "the sources", r, `href="/ui/runs/`+second+`"`, "status-succeeded", "<code>30m</code>")
}

// TestWebUILiveEvents: a run's event stream, read by a real HTTP client,
// sends its progress while it runs and an end event with the outcome,
// then ends; a finished run's stream ends at once; it needs a session.
func TestWebUILiveEvents(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	f.source("prod", "ec2", f.awsConfig(nil))
	cookie := f.adminUser("ada")
	csrf := csrfOf(t, f.uiGet("/", cookie).body)
	f.sim.SetFaults(awssim.Faults{Latency: 1500 * time.Millisecond, Ops: []string{"DescribeInstances"}})
	id := runOf(t, f.uiPost(ui.SourcePath("prod", "ec2")+"/sync", cookie, url.Values{"csrf_token": {csrf}}, nil))

	r := f.uiGet(ui.RunPath(id), cookie)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the running run's page", r, `id="live"`, `data-events="/ui/runs/`+id+`/events"`, `<script src="/ui/static/js/live.js?v=`, ">Refresh</a>")

	events := readEvents(t, f.url+ui.RunPath(id)+"/events", cookie)
	if len(events) < 2 || events[0].name != "progress" || events[len(events)-1].name != "end" {
		t.Fatalf("the stream sent %v, want progress events then an end", events)
	}
	var running, end ui.Progress
	for _, e := range events[:len(events)-1] {
		var p ui.Progress
		if err := json.Unmarshal([]byte(e.data), &p); err != nil {
			t.Fatal(err)
		}
		if p.Status == "running" && p.ScopesTotal == 2 {
			running = p
		}
	}
	if running.Status == "" {
		t.Errorf("no progress event of the running run with its 2 scopes: %v", events)
	}
	if err := json.Unmarshal([]byte(events[len(events)-1].data), &end); err != nil {
		t.Fatal(err)
	}
	run := f.waitRun(id)
	if end.Status != string(run.Status) || end.ScopesDone != 2 || end.HostsSeen != run.Counts.Seen {
		t.Errorf("the end event %+v, the run %s with %d seen", end, run.Status, run.Counts.Seen)
	}

	// A finished run's stream ends at once, with its outcome.
	if again := readEvents(t, f.url+ui.RunPath(id)+"/events", cookie); len(again) != 1 || again[0].name != "end" {
		t.Errorf("a finished run's stream sent %v", again)
	}
	resp, err := http.Get(f.url + ui.RunPath(id) + "/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a stream without a session answers %s", resp.Status)
	}
	wantStatus(t, f.uiGet(ui.RunPath("nope")+"/events", cookie), http.StatusNotFound)
}

type sse struct{ name, data string }

// readEvents reads a stream of Server-Sent Events to its end (at most
// 30 seconds).
func readEvents(t *testing.T, u, cookie string) []sse {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cookie", cookie)
	req.Header.Set("Accept", "text/event-stream")
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s: %s %s", u, resp.Status, resp.Header.Get("Content-Type"))
	}
	var out []sse
	var cur sse
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.name != "" {
				out = append(out, cur)
			}
			cur = sse{}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading the stream: %v (after %v)", err, out)
	}
	return out
}

// TestWebUISourceBrowser drives a real headless Chromium through the
// sources' pages: create a source from YAML with a mistake, see every
// problem, fix it, save; Sync now and watch the live view follow the run
// to its end; read the run history, and the change log of a second sync
// after the fleet changed. Any console error or CSP violation fails it
// (newBrowser); each page is saved as a screenshot.
func TestWebUISourceBrowser(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	f.secrets = append(f.secrets, alicePassword)
	wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": "ada", "password": alicePassword}), http.StatusCreated)
	f.bind(map[string]any{"user": "ada", "role": "admin", "scope": "server"})
	b := browsertest.New(t)

	b.Do("signing in", chromedp.Navigate(f.url+ui.SignInPath), chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), "ada"), chromedp.SendKeys(chromedp.ID("password"), alicePassword),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("form.signout")))

	b.Do("opening the editor", chromedp.Navigate(f.url+ui.SourcesPath), chromedp.Click(chromedp.CSS(`a[href="/ui/sources/new"]`)),
		chromedp.WaitVisible(chromedp.ID("config")))
	bad := "plugin: amazon.aws.aws_ec2\nregions:\n  - us-east-1\n  - 42\nendpoint_url: " + f.simURL + "\nhostnames:\n  - instance-id\ncompose:\n  owner: tags.owner\n"
	b.Do("sending a source with mistakes",
		chromedp.SendKeys(chromedp.ID("name"), "ec2 fleet"), chromedp.SetValue(chromedp.ID("config"), bad),
		chromedp.Click(chromedp.CSS(`form.editor button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("problems")))
	problems := browsertest.Get(b, chromedp.Text(chromedp.ID("problems")))
	for _, want := range []string{"2 problems", "name:", "config.regions (line 2)"} {
		if !strings.Contains(problems, want) {
			t.Errorf("the problems shown lack %q:\n%s", want, problems)
		}
	}
	if kept := browsertest.Get(b, chromedp.Value(chromedp.ID("config"))); kept != bad {
		t.Errorf("the editor lost the YAML typed: %q", kept)
	}
	b.Screenshot("source-editor-problems")

	good := strings.Replace(bad, "  - 42\n", "  - eu-west-1\n", 1)
	b.Do("fixing and saving",
		chromedp.SetValue(chromedp.ID("name"), "ec2-fleet"), chromedp.SetValue(chromedp.ID("config"), good),
		chromedp.Click(chromedp.CSS(`form.editor button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("sync-now")))
	if loc := browsertest.Get(b, chromedp.Location()); loc != f.url+ui.SourcePath("prod", "ec2-fleet") {
		t.Errorf("saving lands on %s", loc)
	}
	b.Screenshot("source")

	// Slow pages keep the run going long enough to watch.
	f.sim.SetFaults(awssim.Faults{Latency: time.Second, Ops: []string{"DescribeInstances"}})
	b.Do("syncing now", chromedp.Click(chromedp.ID("sync-now")), chromedp.WaitVisible(chromedp.ID("live")),
		chromedp.WaitReady(chromedp.CSS(`#live[data-updates]`)))
	if total := browsertest.RunningScopes(b); total != "2" {
		t.Errorf("the live view shows %s scopes in all, want 2", total)
	}
	b.Screenshot("run-live")
	b.Do("waiting for the run's end", chromedp.WaitVisible(chromedp.CSS(`#changes`)))
	if st := browsertest.Get(b, chromedp.Text(chromedp.ID("run-status"))); st != "succeeded" {
		t.Errorf("the run ended %q", st)
	}
	first := strings.TrimPrefix(browsertest.Get(b, chromedp.Location()), f.url+ui.RunsPath+"/")
	b.Screenshot("run-done")
	f.sim.SetFaults(awssim.Faults{})

	inst := f.sim.Fleet().Instances()[0]
	if err := f.sim.Fleet().SetTag(inst.ID, "owner", "team-blue"); err != nil {
		t.Fatal(err)
	}
	b.Do("syncing again", chromedp.Navigate(f.url+ui.SourcePath("prod", "ec2-fleet")), chromedp.Click(chromedp.ID("sync-now")),
		chromedp.WaitVisible(chromedp.CSS(`#changes`)))
	b.Do("reading what changed", chromedp.Click(chromedp.CSS(`.kinds a[href$="kind=changed#changes"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.diff`)))
	diff := browsertest.Get(b, chromedp.Text(chromedp.CSS(`.changes`)))
	for _, want := range []string{inst.ID, "owner", `"team-blue"`} {
		if !strings.Contains(diff, want) {
			t.Errorf("the change log lacks %q:\n%s", want, diff)
		}
	}
	b.Screenshot("run-changes")

	b.Do("opening the run history", chromedp.Navigate(f.url+ui.RunsPath), chromedp.WaitVisible(chromedp.CSS("table.runs")))
	if runs := browsertest.Get(b, chromedp.Text(chromedp.CSS("table.runs"))); !strings.Contains(runs, first) {
		t.Errorf("the run history lacks the first run %s:\n%s", first, runs)
	}
	b.Screenshot("runs")
	b.Do("opening the schedules", chromedp.Navigate(f.url+ui.SchedulesPath), chromedp.WaitVisible(chromedp.CSS("main h1")))
	b.Screenshot("schedules")
	b.Do("opening the overview", chromedp.Navigate(f.url+"/"), chromedp.WaitVisible(chromedp.CSS("svg.spark")))
	if label := browsertest.Eval[string](b, `document.querySelector("svg.spark").getAttribute("aria-label")`); !strings.HasPrefix(label, "Duration of the last 2 syncs: min ") {
		t.Errorf("the sparkline says %q", label)
	}
	b.Screenshot("overview-sparkline")
	b.Do("narrowing to phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(f.url+ui.RunPath(first)), chromedp.WaitVisible(chromedp.CSS("#changes")))
	b.Screenshot("run-phone")
	b.Do("opening the editor at phone width", chromedp.Navigate(f.url+ui.SourcePath("prod", "ec2-fleet")+"/edit"), chromedp.WaitVisible(chromedp.ID("config")))
	b.Screenshot("source-editor-phone")
	b.Do("opening the run history at phone width", chromedp.Navigate(f.url+ui.RunsPath), chromedp.WaitVisible(chromedp.CSS("table.runs")))
	b.Screenshot("runs-phone")
}

// TestWebUILiveStreamsBounded: a server follows at most so many runs at
// once; one more stream is refused with 503 (the page's Refresh link
// still works), and a place frees when a stream ends.
func TestWebUILiveStreamsBounded(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	f.source("prod", "ec2", f.awsConfig(nil))
	people := make([]string, api.MaxLiveStreams/api.MaxLiveStreamsPerPerson)
	for i := range people {
		people[i] = f.adminUser(fmt.Sprintf("ada%d", i))
	}
	csrf := csrfOf(t, f.uiGet("/", people[0]).body)
	f.sim.SetFaults(awssim.Faults{Latency: 5 * time.Second, Ops: []string{"DescribeInstances"}})
	id := runOf(t, f.uiPost(ui.SourcePath("prod", "ec2")+"/sync", people[0], url.Values{"csrf_token": {csrf}}, nil))
	open := func(cookie string) *http.Response {
		req, err := http.NewRequestWithContext(t.Context(), "GET", f.url+ui.RunPath(id)+"/events", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Cookie", cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var streams []*http.Response
	defer func() {
		for _, s := range streams {
			s.Body.Close()
		}
	}()
	for i, cookie := range people {
		for range api.MaxLiveStreamsPerPerson {
			resp := open(cookie)
			streams = append(streams, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("stream %d answers %s", len(streams), resp.Status)
			}
		}
		if i == 0 {
			// One person's streams are bounded before the server's.
			resp := open(cookie)
			resp.Body.Close()
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Errorf("a person's stream too many answers %s", resp.Status)
			}
		}
	}
	resp := open(people[1])
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("one stream too many answers %s (Retry-After %q)", resp.Status, resp.Header.Get("Retry-After"))
	}
	streams[0].Body.Close()
	streams = streams[1:]
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp := open(people[0])
		if resp.StatusCode == http.StatusOK {
			streams = append(streams, resp)
			break
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("a closed stream's place was not freed: %s", resp.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestWebUISparkline: the sparkline charts durations oldest first, says
// their min, median and max in words, and needs two to draw a line.
func TestWebUISparkline(t *testing.T) {
	if ui.NewSparkline([]time.Duration{time.Second}) != nil {
		t.Error("one run makes a sparkline")
	}
	sp := ui.NewSparkline([]time.Duration{time.Second, 3 * time.Second, 2 * time.Second, 4 * time.Second})
	if sp == nil || sp.Label != "Duration of the last 4 syncs: min 1.0s, median 2.5s, max 4.0s" {
		t.Fatalf("sparkline %+v", sp)
	}
	if pts := strings.Fields(sp.Points); len(pts) != 4 || pts[0] != "2.0,22.0" || pts[3] != "118.0,2.0" {
		t.Errorf("points %q", sp.Points)
	}
	flat := ui.NewSparkline([]time.Duration{time.Second, time.Second})
	if flat == nil || flat.Points != "2.0,12.0 118.0,12.0" {
		t.Errorf("a flat sparkline %+v", flat)
	}
}

// TestWebUILiveAcrossNodes: a second server on the same store (another
// node of a cluster, whose engine does not run the sync) streams the
// progress of a run the first one runs: progress reaches the live view
// through the store. Shutting it down ends its streams at once and
// refuses new ones.
func TestWebUILiveAcrossNodes(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	f.source("prod", "ec2", f.awsConfig(nil))
	cookie := f.adminUser("ada")
	csrf := csrfOf(t, f.uiGet("/", cookie).body)

	other := api.NewServer(api.Config{Store: f.store, Log: slog.New(slog.NewJSONHandler(f.logs, nil)), DocumentDir: t.TempDir()})
	t.Cleanup(func() { other.Close() })
	h, err := other.Handler()
	if err != nil {
		t.Fatal(err)
	}
	node := httptest.NewServer(h)
	t.Cleanup(node.Close)

	f.sim.SetFaults(awssim.Faults{Latency: 1500 * time.Millisecond, Ops: []string{"DescribeInstances"}})
	id := runOf(t, f.uiPost(ui.SourcePath("prod", "ec2")+"/sync", cookie, url.Values{"csrf_token": {csrf}}, nil))
	events := readEvents(t, node.URL+ui.RunPath(id)+"/events", cookie)
	if len(events) < 2 || events[len(events)-1].name != "end" || !strings.Contains(events[len(events)-1].data, `"status":"succeeded"`) {
		t.Fatalf("the other node's stream sent %v", events)
	}

	f.sim.SetFaults(awssim.Faults{Latency: 5 * time.Second, Ops: []string{"DescribeInstances"}})
	id = runOf(t, f.uiPost(ui.SourcePath("prod", "ec2")+"/sync", cookie, url.Values{"csrf_token": {csrf}}, nil))
	done := make(chan []sse)
	go func() { done <- readEvents(t, node.URL+ui.RunPath(id)+"/events", cookie) }()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	other.EndLiveStreams()
	select {
	case got := <-done:
		if len(got) == 0 || got[len(got)-1].name == "end" {
			t.Errorf("the stream ended by the shutdown sent %v", got)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("ending the live streams left one streaming")
	}
	t.Logf("the stream ended %s after the shutdown", time.Since(start))
	req, _ := http.NewRequest("GET", node.URL+ui.RunPath(id)+"/events", nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a stream after the shutdown answers %s", resp.Status)
	}
}

// TestWebUILiveEndsWhenSignedOut: a live view checks its session and its
// person's rights again as it goes: signing out ends the stream before
// the run ends, with no "end" event (the page's Refresh shows why).
func TestWebUILiveEndsWhenSignedOut(t *testing.T) {
	f := newFixtureWith(t, func(_ string, c *api.Config) { c.LiveRecheck = 200 * time.Millisecond })
	f.inventory("prod")
	f.source("prod", "ec2", f.awsConfig(nil))
	cookie := f.adminUser("ada")
	csrf := csrfOf(t, f.uiGet("/", cookie).body)
	f.sim.SetFaults(awssim.Faults{Latency: 4 * time.Second, Ops: []string{"DescribeInstances"}})
	id := runOf(t, f.uiPost(ui.SourcePath("prod", "ec2")+"/sync", cookie, url.Values{"csrf_token": {csrf}}, nil))

	// The stream is read here (a test's t.Fatal may not run in another
	// goroutine); the sign-out comes from one once the stream started.
	signedOut := make(chan response, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		signedOut <- f.uiPost(ui.SignOutPath, cookie, url.Values{"csrf_token": {csrf}}, nil)
	}()
	start := time.Now()
	events := readEvents(t, f.url+ui.RunPath(id)+"/events", cookie)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("signing out ended the stream %v after it started, not at the next check", took)
	}
	for _, e := range events {
		if e.name == "end" {
			t.Errorf("a signed-out stream sent the run's end: %v", events)
		}
	}
	wantRedirect(t, <-signedOut, ui.SignInPath)
}
