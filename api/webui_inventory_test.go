package api_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/api/ui"
	"github.com/rosterhq/roster/internal/browsertest"
)

// writeHosts stores a succeeded run of source src that adds hosts
// (recording their history) and updates others, as a sync would.
func (f *fixture) writeHosts(src api.Source, c *roster.HostChanges) *roster.SyncRun {
	f.t.Helper()
	ctx := f.t.Context()
	run := &roster.SyncRun{SourceID: src.Id, InventoryID: src.InventoryId, Trigger: roster.TriggerCLI}
	if _, err := f.store.CreateSyncRun(ctx, run); err != nil {
		f.t.Fatal(err)
	}
	now := time.Now()
	run.StartedAt, run.Status = &now, roster.SyncSucceeded
	c.Record = true
	if err := f.store.FinishSyncRun(ctx, run, c); err != nil {
		f.t.Fatal(err)
	}
	return run
}

// apiHosts lists every host of an inventory the API's way, with a filter.
func (f *fixture) apiHosts(inv string, q url.Values) []api.Host {
	f.t.Helper()
	var out []api.Host
	q.Set("limit", "1000")
	for {
		r := f.do("GET", "/api/v1/inventories/"+inv+"/hosts?"+q.Encode(), f.admin, nil)
		wantStatus(f.t, r, http.StatusOK)
		var list api.HostList
		r.json(f.t, &list)
		out = append(out, list.Items...)
		if list.NextCursor == nil {
			return out
		}
		q.Set("cursor", *list.NextCursor)
	}
}

var (
	hostRow  = regexp.MustCompile(`<th scope="row"><a href="(/ui/inventories/[^"]+/hosts/\d+)">([^<]*)</a></th>`)
	nextLink = regexp.MustCompile(`<a href="([^"]+)" rel="next">Next page</a>`)
)

// uiHostNames follows a hosts page's Next links to the end: the names
// of the hosts of every page, and how many pages there were.
func (f *fixture) uiHostNames(path, cookie string) (names []string, pages int) {
	f.t.Helper()
	for path != "" {
		r := f.uiGet(path, cookie)
		wantStatus(f.t, r, http.StatusOK)
		pages++
		rows := hostRow.FindAllSubmatch(r.body, -1)
		if len(rows) > 50 {
			f.t.Fatalf("%s: %d hosts on one page, want at most 50", path, len(rows))
		}
		for _, m := range rows {
			names = append(names, html.UnescapeString(string(m[2])))
		}
		path = ""
		if m := nextLink.FindSubmatch(r.body); m != nil {
			path = html.UnescapeString(string(m[1]))
			if len(rows) != 50 {
				f.t.Fatalf("a page of %d hosts has a next page", len(rows))
			}
		}
		if pages > 100 {
			f.t.Fatal("the pages never end")
		}
	}
	return names, pages
}

func hostNamesOf(hosts []api.Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Name
	}
	return out
}

func wantBody(t *testing.T, what string, body []byte, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(string(body), w) {
			t.Errorf("%s lacks %q:\n%s", what, w, body)
		}
	}
}

// TestWebUIInventoryPages: the inventories page lists them with their
// counts; an inventory's hosts come 50 a page, following Next to the
// end gives what the API lists, in its order; each search finds what
// the API's filter (or, for a var, a look at the vars) finds; the host
// page shows the host, its vars, source and history; the groups page
// nests the groups under all.
func TestWebUIInventoryPages(t *testing.T) {
	f := newFixture(t)
	f.localUser("alice", alicePassword)
	f.inventory("prod")
	f.inventory("empty")
	src := f.source("prod", "ec2", f.awsConfig(map[string]any{
		"keyed_groups": []any{map[string]any{"key": "placement.region", "prefix": "region", "parent_group": "regions"}},
		"compose":      map[string]any{"tier": "'web' if (tags.Name | default('')) is search('1$') else 'db'"},
	}))
	if run := f.syncAndWait(src.Id); run.Status != "succeeded" {
		t.Fatalf("the sync %s", run.Status)
	}
	cookie := f.uiSignIn("alice", alicePassword)
	all := f.apiHosts("prod", url.Values{})
	if len(all) <= 100 {
		t.Fatalf("the simulator gave %d hosts: too few for three pages", len(all))
	}

	r := f.uiGet("/ui/inventories", cookie)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, "the inventories page", r.body, `<a href="/ui/inventories/prod">prod</a>`, `<a href="/ui/inventories/empty">empty</a>`,
		fmt.Sprintf(`data-label="Hosts">%d</td>`, len(all)), `data-label="Sources">1</td>`, `aria-current="page">Inventories</a>`)

	// Paging: every host once, in the API's order.
	got, pages := f.uiHostNames("/ui/inventories/prod", cookie)
	if want := hostNamesOf(all); !slices.Equal(got, want) {
		t.Fatalf("the pages list %d hosts, the API %d:\n%v\n%v", len(got), len(want), got, want)
	}
	if pages != (len(all)+49)/50 {
		t.Errorf("%d pages of %d hosts", pages, len(all))
	}
	r = f.uiGet("/ui/inventories/prod", cookie)
	wantBody(t, "the hosts page", r.body, fmt.Sprintf("%d hosts,", len(all)), `<label for="q-name">Name</label>`, `<label for="q-var">Var</label>`,
		`<label for="q-group">Group</label>`, `<label for="q-enabled">Enabled</label>`, `<caption>`, `<main id="main">`, `href="/ui/inventories/prod/groups"`)
	if strings.Contains(string(r.body), "First page") {
		t.Error("the first page links the first page")
	}
	second := html.UnescapeString(string(nextLink.FindSubmatch(r.body)[1]))
	wantBody(t, "the second page", f.uiGet(second, cookie).body, `<a href="/ui/inventories/prod">First page</a>`)

	// Searches, against the API's own filters.
	h := all[len(all)/2]
	group := h.Groups[0]
	var vars map[string]any
	if err := json.Unmarshal(h.Vars, &vars); err != nil {
		t.Fatal(err)
	}
	var withTier []string
	for _, x := range all {
		var v map[string]any
		json.Unmarshal(x.Vars, &v)
		if v["tier"] == "web" {
			withTier = append(withTier, x.Name)
		}
	}
	if len(withTier) == 0 || len(withTier) == len(all) {
		t.Fatalf("tier=web is %d of %d hosts: the search would prove nothing", len(withTier), len(all))
	}
	// The API's var filter (GET .../hosts?var=) finds the same.
	if got := hostNamesOf(f.apiHosts("prod", url.Values{"var": {"tier=web"}})); !slices.Equal(got, withTier) {
		t.Errorf("the API's var filter finds %d hosts, the vars say %d", len(got), len(withTier))
	}
	wantField(t, f.do("GET", "/api/v1/inventories/prod/hosts?var=tier", f.admin, nil), "var")
	wantField(t, f.do("GET", "/api/v1/inventories/prod/hosts?var="+url.QueryEscape(`a"b=1`), f.admin, nil), "var")
	prefix := h.Name[:len(h.Name)-1] + "*"
	for _, tc := range []struct {
		query url.Values
		want  []string
	}{
		{url.Values{"name": {h.Name}}, []string{h.Name}},
		{url.Values{"name": {prefix}}, hostNamesOf(f.apiHosts("prod", url.Values{"name": {prefix}}))},
		{url.Values{"group": {group}}, hostNamesOf(f.apiHosts("prod", url.Values{"group": {group}}))},
		{url.Values{"group": {"regions"}}, nil},
		{url.Values{"var": {"tier=web"}}, withTier},
		{url.Values{"var": {"tier=web"}, "name": {prefix}}, hostNamesOf(f.apiHosts("prod", url.Values{"name": {prefix}}))},
		{url.Values{"enabled": {"false"}}, hostNamesOf(f.apiHosts("prod", url.Values{"enabled": {"false"}}))},
		{url.Values{"enabled": {"true"}, "group": {group}}, hostNamesOf(f.apiHosts("prod", url.Values{"enabled": {"true"}, "group": {group}}))},
		{url.Values{"name": {"no-such-host-*"}}, nil},
	} {
		if tc.query.Get("var") != "" && tc.query.Get("name") != "" {
			tc.want = slices.DeleteFunc(tc.want, func(n string) bool { return !slices.Contains(withTier, n) })
		}
		got, _ := f.uiHostNames("/ui/inventories/prod?"+tc.query.Encode(), cookie)
		if !slices.Equal(got, tc.want) {
			t.Errorf("searching %s: %d hosts %v, want %d %v", tc.query.Encode(), len(got), got, len(tc.want), tc.want)
		}
	}
	r = f.uiGet("/ui/inventories/prod?var=tier%3Dweb&name=no-*", cookie)
	wantBody(t, "a search that finds nothing", r.body, "No host matches this search.", `value="tier=web"`, `value="no-*"`, `<a href="/ui/inventories/prod">Clear</a>`)

	// Bad input: the form again, saying what is wrong, 400.
	for query, want := range map[string]string{
		"var=tier":                               "Var: give key=value",
		"var=" + url.QueryEscape(`a"b=1`):        "Var: a var&#39;s key may not hold",
		"name=" + strings.Repeat("x", 300):       "Name: at most 256 bytes",
		"enabled=maybe":                          "Enabled: true, false or nothing",
		"after=not-a-cursor":                     "start again from the first page",
		"name=a&name=b":                          "Name: give it once",
		"var=" + strings.Repeat("k", 300) + "=v": "Var: the key and the value may each be at most 256 bytes",
	} {
		r := f.uiGet("/ui/inventories/prod?"+query, cookie)
		wantStatus(t, r, http.StatusBadRequest)
		wantBody(t, "the page of ?"+query[:min(len(query), 40)], r.body, `role="alert"`, want, `<form method="get"`)
		if hostRow.Match(r.body) {
			t.Errorf("a bad search (%s) lists hosts", query)
		}
	}
	r = f.uiGet("/ui/inventories/prod?var=tier", cookie)
	wantBody(t, "a bad search's form", r.body, `value="tier"`)

	// The host page.
	r = f.uiGet(fmt.Sprintf("/ui/inventories/prod/hosts/%d", h.Id), cookie)
	wantStatus(t, r, http.StatusOK)
	pretty, _ := json.MarshalIndent(vars, "", "  ")
	wantBody(t, "the host page", r.body, "<h1>"+h.Name+"</h1>", h.Address, `<a href="/ui/sources/prod/ec2">ec2</a>`,
		`<a href="/ui/inventories/prod?group=`+url.QueryEscape(group)+`">`+group+`</a>`,
		`&#34;tier&#34;: &#34;`, `class="change change-added">added</span>`, `href="/ui/runs/`, "First seen", "Last seen")
	if !strings.Contains(string(r.body), html.EscapeString(string(pretty))[:40]) {
		t.Errorf("the host page lacks its vars, pretty-printed: %s", r.body)
	}
	wantStatus(t, f.uiGet("/ui/inventories/prod/hosts/999999", cookie), http.StatusNotFound)
	wantStatus(t, f.uiGet("/ui/inventories/prod/hosts/web-1", cookie), http.StatusNotFound)
	wantStatus(t, f.uiGet(fmt.Sprintf("/ui/inventories/empty/hosts/%d", h.Id), cookie), http.StatusNotFound)
	wantStatus(t, f.uiGet("/ui/inventories/nope", cookie), http.StatusNotFound)

	// The groups page: all, the keyed groups nested under "regions".
	r = f.uiGet("/ui/inventories/prod/groups", cookie)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, "the groups page", r.body, `<a href="/ui/inventories/prod">all</a> <span class="count">`+fmt.Sprint(len(all))+` hosts</span>`,
		`<a href="/ui/inventories/prod?group=regions">regions</a>`)
	tree := string(r.body)
	regions := strings.Index(tree, ">regions</a>")
	for _, region := range []string{"region_us_east_1", "region_eu_west_1"} {
		n := len(f.apiHosts("prod", url.Values{"group": {region}}))
		at := strings.Index(tree, fmt.Sprintf(`<a href="/ui/inventories/prod?group=%s">%s</a> <span class="count">%d hosts</span>`, region, region, n))
		if at < 0 || at < regions {
			t.Errorf("the tree lacks %s (%d hosts) under regions: %s", region, n, tree)
		}
	}
	wantStatus(t, f.uiGet("/ui/inventories/empty/groups", cookie), http.StatusOK)

	// Without a session: the sign-in page.
	wantRedirect(t, f.uiGet("/ui/inventories/prod", ""), "/ui/sign-in")
}

// TestWebUIInventoryVisibility: a user bound on one inventory lists only
// it, and finds every page of another's not found, even with a host id
// of its own inventory; a user bound to nothing is told why it sees no
// inventory.
func TestWebUIInventoryVisibility(t *testing.T) {
	f := newFixture(t)
	f.inventory("mine")
	f.inventory("theirs")
	f.syncAndWait(f.source("mine", "a", f.awsConfig(nil)).Id)
	f.syncAndWait(f.source("theirs", "b", f.awsConfig(nil)).Id)
	for _, name := range []string{"bob", "carol"} {
		f.secrets = append(f.secrets, alicePassword)
		wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": name, "password": alicePassword}), http.StatusCreated)
	}
	f.bind(map[string]any{"user": "bob", "role": "auditor", "scope": "inventory", "target": "mine"})
	bob := f.uiSignIn("bob", alicePassword)
	theirs := f.apiHosts("theirs", url.Values{})[0]
	mine := f.apiHosts("mine", url.Values{})[0]

	r := f.uiGet("/ui/inventories", bob)
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), ">mine</a>") || strings.Contains(string(r.body), "theirs") {
		t.Errorf("bob's inventories: %s", r.body)
	}
	for _, path := range []string{"/ui/inventories/theirs", "/ui/inventories/theirs/groups", "/ui/inventories/theirs?name=*",
		fmt.Sprintf("/ui/inventories/theirs/hosts/%d", theirs.Id), fmt.Sprintf("/ui/inventories/mine/hosts/%d", theirs.Id)} {
		r := f.uiGet(path, bob)
		wantStatus(t, r, http.StatusNotFound)
		if strings.Contains(string(r.body), theirs.Name) {
			t.Errorf("%s names a host of theirs: %s", path, r.body)
		}
	}
	for _, path := range []string{"/ui/inventories/mine", "/ui/inventories/mine/groups", fmt.Sprintf("/ui/inventories/mine/hosts/%d", mine.Id)} {
		wantStatus(t, f.uiGet(path, bob), http.StatusOK)
	}
	r = f.uiGet(fmt.Sprintf("/ui/inventories/mine/hosts/%d", mine.Id), bob)
	wantBody(t, "bob's host page", r.body, "change-added")

	carol := f.uiSignIn("carol", alicePassword)
	r = f.uiGet("/ui/inventories", carol)
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), "You may not list inventories") || strings.Contains(string(r.body), "mine") {
		t.Errorf("carol's inventories: %s", r.body)
	}
	wantStatus(t, f.uiGet("/ui/inventories/mine", carol), http.StatusNotFound)
}

// TestWebUIInventoryEscaping: names, vars, groups and descriptions that
// hold markup are shown as text on every page, never as markup; a host's
// history lists what changed.
func TestWebUIInventoryEscaping(t *testing.T) {
	f := newFixture(t)
	f.localUser("alice", alicePassword)
	evil := `<script>alert("x")</script>`
	f.inventory("prod")
	wantStatus(t, f.do("PATCH", "/api/v1/inventories/prod", f.admin, map[string]any{"description": evil}), http.StatusOK)
	src := f.source("prod", "manual", f.awsConfig(nil))
	vars := json.RawMessage(`{"note": "</code></pre><img src=x onerror=alert(1)>", "<b>key</b>": "v", "n": 1}`)
	f.writeHosts(src, &roster.HostChanges{Scopes: []string{"r"}, Add: []*roster.Host{
		{ExternalID: "i-1", Scope: "r", Name: evil, Address: `"><svg onload=alert(1)>`, Enabled: true, Groups: []string{`g"><i>x</i>`}, Vars: vars, Hash: "1"},
	}})
	host := f.apiHosts("prod", url.Values{})[0]
	cookie := f.uiSignIn("alice", alicePassword)
	r := f.uiGet("/ui/inventories/prod/groups", cookie)
	wantBody(t, "the groups page", r.body, `1 group,`)
	if strings.Contains(string(r.body), ">ungrouped</a>") {
		t.Errorf("the tree has ungrouped hosts where every host has a group: %s", r.body)
	}
	// The next sync changes the host and adds one in a new group: the
	// group tree, kept by inventory generation, is built again.
	f.writeHosts(src, &roster.HostChanges{Scopes: []string{"r"}, Update: []*roster.Host{
		{ID: host.Id, ExternalID: "i-1", Scope: "r", Name: evil, Address: "10.0.0.9", Enabled: true, Groups: []string{`g"><i>x</i>`},
			Vars: json.RawMessage(`{"note": "calm", "<b>key</b>": "v", "n": 2}`), Hash: "2"},
	}, Add: []*roster.Host{{ExternalID: "i-2", Scope: "r", Name: "later", Enabled: true, Groups: []string{"newer"}, Vars: json.RawMessage(`{}`), Hash: "3"},
		{ExternalID: "i-3", Scope: "r", Name: "loner", Enabled: true, Vars: json.RawMessage(`{}`), Hash: "4"}}})
	r = f.uiGet("/ui/inventories/prod/groups", cookie)
	wantBody(t, "the groups page after a sync", r.body, `2 groups,`, `>newer</a> <span class="count">1 host</span>`, `>all</a> <span class="count">3 hosts</span>`,
		`<li><a href="/ui/inventories/prod?group=ungrouped">ungrouped</a>`)
	if got, _ := f.uiHostNames("/ui/inventories/prod?group=ungrouped", cookie); !slices.Equal(got, []string{"loner"}) {
		t.Errorf("the ungrouped hosts are %v, want loner", got)
	}
	for _, path := range []string{"/ui/inventories", "/ui/inventories/prod", "/ui/inventories/prod?name=" + url.QueryEscape(evil),
		"/ui/inventories/prod?group=" + url.QueryEscape(`g"><i>x</i>`), fmt.Sprintf("/ui/inventories/prod/hosts/%d", host.Id), "/ui/inventories/prod/groups",
		"/ui/inventories/prod?var=" + url.QueryEscape(`<b>key</b>=v`)} {
		r := f.uiGet(path, cookie)
		wantStatus(t, r, http.StatusOK)
		for _, raw := range []string{"<script>alert", "<svg", "<img", "<i>x</i>", "<b>key"} {
			if strings.Contains(string(r.body), raw) {
				t.Errorf("%s holds %q unescaped: %s", path, raw, r.body)
			}
		}
	}
	r = f.uiGet("/ui/inventories/prod?var="+url.QueryEscape(`<b>key</b>=v`), cookie)
	wantBody(t, "a search by an odd key", r.body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</a></th>")
	r = f.uiGet(fmt.Sprintf("/ui/inventories/prod/hosts/%d", host.Id), cookie)
	wantBody(t, "the host page", r.body, "<h1>&lt;script&gt;", "&lt;b&gt;key&lt;/b&gt;", "change-changed", "<li><code>address</code></li>", "<li><code>n</code></li>",
		"<li><code>note</code></li>", "change-added")
	if strings.Contains(string(r.body), "<li><code>&lt;b&gt;key") {
		t.Errorf("the history names a key that did not change: %s", r.body)
	}
}

// TestWebUIInventoryBrowser drives Chromium through the inventory pages
// of a synced inventory, at desktop and phone width: the list, the
// hosts with the next page and a search, a host and the group tree. Any
// console error or CSP violation fails it; each page is saved as a
// screenshot and checked for labels, landmarks and sideways scrolling.
func TestWebUIInventoryBrowser(t *testing.T) {
	f := newFixture(t)
	f.localUser("alice", alicePassword)
	f.inventory("prod")
	src := f.source("prod", "ec2", f.awsConfig(map[string]any{
		"keyed_groups": []any{map[string]any{"key": "placement.region", "prefix": "region", "parent_group": "regions"}},
	}))
	if run := f.syncAndWait(src.Id); run.Status != "succeeded" {
		t.Fatalf("the sync %s", run.Status)
	}
	all := f.apiHosts("prod", url.Values{})
	b := browsertest.New(t)
	b.Do("signing in", chromedp.Navigate(f.url+"/ui/sign-in"), chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), "alice"), chromedp.SendKeys(chromedp.ID("password"), alicePassword),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("section.inventory")))

	rows := func() []string {
		return browsertest.Eval[[]string](b, `[...document.querySelectorAll("table.hosts tbody th a")].map(a => a.textContent)`)
	}
	b.Do("opening the inventories", chromedp.Click(chromedp.CSS(`nav a[href="/ui/inventories"]`)), chromedp.WaitVisible(chromedp.CSS(`main table`)))
	b.Screenshot("inventories")
	b.Do("opening prod's hosts", chromedp.Click(chromedp.CSS(`main a[href="/ui/inventories/prod"]`)), chromedp.WaitVisible(chromedp.CSS("table.hosts")))
	if got := rows(); !slices.Equal(got, hostNamesOf(all[:50])) {
		t.Errorf("the first page lists %v, want the API's first 50", got)
	}
	b.Screenshot("inventory-hosts")
	b.Do("following Next page", chromedp.Click(chromedp.CSS(`a[rel=next]`)), chromedp.WaitVisible(chromedp.CSS(`.pager a[href="/ui/inventories/prod"]`)))
	if got := rows(); !slices.Equal(got, hostNamesOf(all[50:min(100, len(all))])) {
		t.Errorf("the second page lists %v, want the API's next 50", got)
	}

	h := all[len(all)/3]
	prefix := h.Name[:len(h.Name)-2] + "*"
	want := hostNamesOf(f.apiHosts("prod", url.Values{"name": {prefix}}))
	b.Do("searching by name", chromedp.SetValue(chromedp.ID("q-name"), prefix), chromedp.SetValue(chromedp.ID("q-enabled"), "true"),
		chromedp.Click(chromedp.CSS(`form.host-search button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`form.host-search a[href="/ui/inventories/prod"]`)))
	if got := rows(); len(got) == 0 || len(got) > len(want) || !slices.Contains(got, h.Name) {
		t.Errorf("searching %s lists %v, want (of) %v", prefix, got, want)
	}
	if v := browsertest.Eval[string](b, `document.getElementById("q-name").value`); v != prefix {
		t.Errorf("the search form forgot the name: %q", v)
	}
	b.Screenshot("inventory-search")

	b.Do("opening a host", chromedp.Click(chromedp.CSS(`table.hosts tbody th a`)), chromedp.WaitVisible(chromedp.CSS("pre.vars")))
	if name := browsertest.Get(b, chromedp.Text(chromedp.CSS("main h1"))); !strings.HasPrefix(name, prefix[:len(prefix)-1]) {
		t.Errorf("the host page is of %q", name)
	}
	if kind := browsertest.Get(b, chromedp.Text(chromedp.CSS("table.history .change"))); kind != "added" {
		t.Errorf("the host's history starts with %q, want added", kind)
	}
	b.Screenshot("host")
	hostURL := browsertest.Get(b, chromedp.Location())

	b.Do("opening the groups", chromedp.Navigate(f.url+"/ui/inventories/prod/groups"), chromedp.WaitVisible(chromedp.CSS("ul.tree")))
	if n := browsertest.Eval[int](b, `document.querySelectorAll("ul.tree ul a[href*='group=region_']").length`); n != 2 {
		t.Errorf("the tree nests %d region groups, want 2", n)
	}
	b.Screenshot("groups")
	b.Do("following a group", chromedp.Click(chromedp.CSS(`ul.tree a[href="/ui/inventories/prod?group=regions"]`)), chromedp.WaitVisible(chromedp.CSS("main p[role=status]")))
	if v := browsertest.Eval[string](b, `document.getElementById("q-group").value`); v != "regions" {
		t.Errorf("a group's link searches %q", v)
	}

	b.Do("narrowing to phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(f.url+"/ui/inventories/prod"), chromedp.WaitVisible(chromedp.CSS("table.hosts")))
	b.Screenshot("inventory-hosts-phone")
	b.Do("a host at phone width", chromedp.Navigate(hostURL), chromedp.WaitVisible(chromedp.CSS("pre.vars")))
	b.Screenshot("host-phone")
	b.Do("the groups at phone width", chromedp.Navigate(f.url+"/ui/inventories/prod/groups"), chromedp.WaitVisible(chromedp.CSS("ul.tree")))
	b.Screenshot("groups-phone")
	b.Do("the inventories at phone width", chromedp.Navigate(f.url+"/ui/inventories"), chromedp.WaitVisible(chromedp.CSS("main table")))
	b.Screenshot("inventories-phone")
}

// TestWebUIGroupTree: the tree nests groups as their edges say, a group
// of two parents under each (its children once), and groups only a
// cycle nests under all, the cycle cut where it repeats.
func TestWebUIGroupTree(t *testing.T) {
	f := newFixture(t)
	f.localUser("alice", alicePassword)
	f.inventory("prod")
	src := f.source("prod", "manual", f.awsConfig(nil))
	f.writeHosts(src, &roster.HostChanges{Scopes: []string{"r"}, ReplaceEdges: true,
		Add: []*roster.Host{
			{ExternalID: "i-1", Scope: "r", Name: "a", Enabled: true, Groups: []string{"leaf", "web"}, Vars: json.RawMessage(`{}`), Hash: "1"},
			{ExternalID: "i-2", Scope: "r", Name: "b", Enabled: true, Groups: []string{"leaf", "ping"}, Vars: json.RawMessage(`{}`), Hash: "2"},
		},
		Edges: []roster.GroupEdge{{Parent: "web", Child: "shared"}, {Parent: "db", Child: "shared"}, {Parent: "shared", Child: "leaf"},
			{Parent: "ping", Child: "pong"}, {Parent: "pong", Child: "ping"}},
	})
	cookie := f.uiSignIn("alice", alicePassword)
	r := f.uiGet("/ui/inventories/prod/groups", cookie)
	wantStatus(t, r, http.StatusOK)
	// The tree's shape, without its markup: each group's name and depth.
	var shape []string
	depth := 0
	_, tree, _ := strings.Cut(string(r.body), `<ul class="tree"`)
	for _, tok := range regexp.MustCompile(`<ul[ >]|</ul>|>([^<>]+)</a>`).FindAllStringSubmatch("<ul "+tree, -1) {
		switch {
		case strings.HasPrefix(tok[0], "<ul"):
			depth++
		case tok[0] == "</ul>":
			depth--
		case depth > 0:
			shape = append(shape, fmt.Sprintf("%d:%s", depth, tok[1]))
		}
	}
	want := []string{"1:all", "2:db", "3:shared", "4:leaf", "2:ping", "3:pong", "4:ping", "2:web", "3:shared"}
	if !slices.Equal(shape, want) {
		t.Errorf("the tree is %v, want %v", shape, want)
	}
	if n := strings.Count(string(r.body), "(children shown above)"); n != 2 {
		t.Errorf("%d groups say their children were shown above, want 2 (shared under web, ping under pong): %s", n, r.body)
	}
	wantBody(t, "the tree", r.body, `>leaf</a> <span class="count">2 hosts</span>`, `>db</a> <span class="count">0 hosts</span>`, "6 groups,")
}

// TestWebUISmartInventory: an inventory made of others is labelled with
// its kind, and its hosts page lists what its run materialised.
func TestWebUISmartInventory(t *testing.T) {
	f := newFixture(t)
	f.localUser("alice", alicePassword)
	f.inventory("east")
	f.syncAndWait(f.source("east", "ec2", f.awsConfig(map[string]any{"regions": []string{"us-east-1"}})).Id)
	r := f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"name": "all-east", "kind": "smart", "inputs": []string{"east"},
		"host_filter": `variables__placement__region=us-east-1`})
	wantStatus(t, r, http.StatusCreated)
	if run := f.waitDerived("all-east", "smart", 1); run.Status != api.SyncRunStatusSucceeded {
		t.Fatalf("the smart inventory's run %s", run.Status)
	}
	cookie := f.uiSignIn("alice", alicePassword)
	r = f.uiGet(ui.InventoriesPath, cookie)
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), `>all-east</a> <span class="kind">smart</span>`) || strings.Contains(string(r.body), `>east</a> <span class="kind">`) {
		t.Errorf("the inventories page does not label exactly the smart inventory: %s", r.body)
	}
	east := f.uiGet(ui.InventoryPath("east"), cookie)
	smart := f.uiGet(ui.InventoryPath("all-east"), cookie)
	wantStatus(t, smart, http.StatusOK)
	rows := regexp.MustCompile(`/hosts/\d+">([^<]+)</a>`)
	var inEast, inSmart []string
	for _, m := range rows.FindAllSubmatch(east.body, -1) {
		inEast = append(inEast, string(m[1]))
	}
	for _, m := range rows.FindAllSubmatch(smart.body, -1) {
		inSmart = append(inSmart, string(m[1]))
	}
	if len(inSmart) == 0 || !slices.Equal(inEast, inSmart) {
		t.Errorf("the smart inventory's hosts page lists %v, its input's %v", inSmart, inEast)
	}
}
