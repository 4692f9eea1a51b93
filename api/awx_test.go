package api_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/store"
)

// awxDoc is AWX's inventory script document, decoded.
type awxDoc struct {
	Meta *struct {
		Hostvars map[string]map[string]any `json:"hostvars"`
	} `json:"_meta"`
	All struct {
		Hosts    []string       `json:"hosts"`
		Children []string       `json:"children"`
		Vars     map[string]any `json:"vars"`
	} `json:"all"`
	groups map[string]awxGroup
}

type awxGroup struct {
	Hosts    []string       `json:"hosts"`
	Children []string       `json:"children"`
	Vars     map[string]any `json:"vars"`
}

func decodeAWX(t *testing.T, b []byte) awxDoc {
	t.Helper()
	var d awxDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("not an AWX script document: %v\n%s", err, b)
	}
	var raw map[string]json.RawMessage
	must(t, json.Unmarshal(b, &raw))
	d.groups = map[string]awxGroup{}
	for k, v := range raw {
		if k == "_meta" || k == "all" {
			continue
		}
		var g awxGroup
		must(t, json.Unmarshal(v, &g))
		d.groups[k] = g
	}
	return d
}

// awxEdge is an inventory of what a synced fleet rarely shows: a host in
// no group, a disabled host, nested groups, group vars, a group left
// empty by a disabled host, a host whose own vars carry AWX's names.
func (f *fixture) awxEdge(name string) *roster.Inventory {
	f.t.Helper()
	f.inventory(name)
	inv, err := f.store.Inventory(f.t.Context(), name)
	must(f.t, err)
	h := func(ext, name string, enabled bool, vars string, groups ...string) *roster.Host {
		return &roster.Host{ExternalID: ext, Scope: "r", Name: name, Enabled: enabled, Groups: groups, Vars: json.RawMessage(vars), Hash: ext}
	}
	syncHosts(f.t, f.store, inv, "a", []*roster.Host{
		h("1", "lonely", true, `{"n":1}`),
		h("2", "web1", true, `{"role":"web"}`, "web"),
		h("3", "stopped", false, `{}`, "web", "idle"),
		h("4", "spoof", true, `{"remote_tower_id":"x","remote_tower_enabled":"yes"}`, "web"),
	}, roster.GroupEdge{Parent: "parents", Child: "web"}, roster.GroupEdge{Parent: "parents", Child: "empty"})
	must(f.t, f.store.SetGroupVars(f.t.Context(), inv.ID, "all", json.RawMessage(`{"ntp":"pool.ntp.org"}`)))
	must(f.t, f.store.SetGroupVars(f.t.Context(), inv.ID, "web", json.RawMessage(`{"http_port":80}`)))
	return inv
}

// hostIDs are the ids of an inventory's hosts by name.
func (f *fixture) hostIDs(inv string) map[string]float64 {
	f.t.Helper()
	var hosts api.HostList
	wantStatus(f.t, f.do("GET", "/api/v1/inventories/"+inv+"/hosts?limit=100", f.admin, nil), http.StatusOK)
	f.do("GET", "/api/v1/inventories/"+inv+"/hosts?limit=100", f.admin, nil).json(f.t, &hosts)
	ids := map[string]float64{}
	for _, h := range hosts.Items {
		ids[h.Name] = float64(h.Id)
	}
	return ids
}

func basic(user, password string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}}
}

// wantDetail checks an AWX error: status, {"detail": ...} naming want.
func wantDetail(t *testing.T, r response, status int, want string) {
	t.Helper()
	wantStatus(t, r, status)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q, want application/json (AWX's errors)", ct)
	}
	var e struct{ Detail string }
	r.json(t, &e)
	if e.Detail == "" || !strings.Contains(e.Detail, want) {
		t.Fatalf("detail %q, want it to say %q", e.Detail, want)
	}
}

func TestAWXScriptShapes(t *testing.T) {
	f := newFixture(t)
	inv := f.awxEdge("edge")
	ids := f.hostIDs("edge")
	script := func(query string) awxDoc {
		t.Helper()
		r := f.do("GET", "/api/v2/inventories/edge/script/"+query, f.admin, nil)
		wantStatus(t, r, http.StatusOK)
		if r.header.Get("ETag") == "" || r.header.Get("X-API-Product-Name") != "Roster" {
			t.Fatalf("headers %v", r.header)
		}
		return decodeAWX(t, r.body)
	}

	// Without flags: groups only, enabled hosts only, "all" as AWX makes
	// it (its hosts are those in no group; every group its child).
	d := script("")
	if d.Meta != nil {
		t.Fatal("_meta without hostvars=1")
	}
	if !slices.Equal(d.All.Hosts, []string{"lonely"}) || d.All.Vars["ntp"] != "pool.ntp.org" {
		t.Fatalf("all = %+v", d.All)
	}
	// "idle"'s only host is disabled: Roster knows a group by its
	// members, vars and children, and "idle" has none of them here.
	if !slices.Equal(d.All.Children, []string{"empty", "parents", "web"}) {
		t.Fatalf("all.children = %v, want every group, empty ones too", d.All.Children)
	}
	if _, ok := d.groups["empty"]; ok {
		t.Fatal(`"empty" has nothing to list: AWX leaves it out`)
	}
	if _, ok := d.groups["ungrouped"]; ok {
		t.Fatal(`AWX has no "ungrouped" group`)
	}
	web := d.groups["web"]
	if !slices.Equal(web.Hosts, []string{"spoof", "web1"}) || web.Vars["http_port"] != float64(80) {
		t.Fatalf("web = %+v", web)
	}
	if !slices.Equal(d.groups["parents"].Children, []string{"empty", "web"}) {
		t.Fatalf("parents = %+v", d.groups["parents"])
	}

	// hostvars=1: the vars, as they are.
	d = script("?hostvars=1")
	if d.Meta == nil || len(d.Meta.Hostvars) != 3 || d.Meta.Hostvars["web1"]["role"] != "web" {
		t.Fatalf("hostvars = %+v", d.Meta)
	}
	if _, ok := d.Meta.Hostvars["lonely"]["remote_tower_id"]; ok {
		t.Fatal("towervars without towervars=1")
	}

	// What the awx.awx.controller plugin asks: disabled hosts too, each
	// with AWX's enabled flag (a string) and id (Roster's host id).
	d = script("?hostvars=1&towervars=1&all=1")
	if len(d.Meta.Hostvars) != 4 || !slices.Contains(d.groups["web"].Hosts, "stopped") || !slices.Equal(d.groups["idle"].Hosts, []string{"stopped"}) {
		t.Fatalf("all=1: hostvars %v, groups %v", d.Meta.Hostvars, d.groups)
	}
	for name, vars := range d.Meta.Hostvars {
		want := "true"
		if name == "stopped" {
			want = "false"
		}
		if vars["remote_tower_enabled"] != want || vars["remote_tower_id"] != ids[name] {
			t.Errorf("%s: remote_tower_enabled %v, remote_tower_id %v; want %q, %v", name, vars["remote_tower_enabled"], vars["remote_tower_id"], want, ids[name])
		}
	}
	if d.Meta.Hostvars["lonely"]["n"] != float64(1) {
		t.Fatalf("lonely's own vars: %v", d.Meta.Hostvars["lonely"])
	}

	// towervars without hostvars: nothing to put them in, as in AWX.
	if d := script("?towervars=1&all=1"); d.Meta != nil || !slices.Contains(d.groups["web"].Hosts, "stopped") {
		t.Fatalf("towervars=1&all=1: %+v", d)
	}
	// AWX reads any non-empty value as on.
	if d := script("?hostvars=0&all=false"); d.Meta == nil || len(d.Meta.Hostvars) != 4 {
		t.Fatalf("hostvars=0&all=false is on in AWX: %+v", d.Meta)
	}

	// The inventory by id, as by name; ETag and 304.
	r := f.do("GET", "/api/v2/inventories/"+inv.ID+"/script/?hostvars=1", f.admin, nil)
	wantStatus(t, r, http.StatusOK)
	if byName := f.do("GET", "/api/v2/inventories/edge/script/?hostvars=1", f.admin, nil); !bytes.Equal(r.body, byName.body) {
		t.Fatalf("by id:\n%s\nby name:\n%s", r.body, byName.body)
	}
	r2 := f.send("GET", "/api/v2/inventories/edge/script/?hostvars=1", f.admin, nil, http.Header{"If-None-Match": {r.header.Get("ETag")}})
	wantStatus(t, r2, http.StatusNotModified)
	if other := f.do("GET", "/api/v2/inventories/edge/script/?hostvars=1&all=1", f.admin, nil); other.header.Get("ETag") == r.header.Get("ETag") {
		t.Fatal("two queries share an ETag")
	}

	// One host's vars; a disabled one only with all.
	r = f.do("GET", "/api/v2/inventories/edge/script/?host=web1", f.admin, nil)
	wantStatus(t, r, http.StatusOK)
	if !json.Valid(r.body) || !strings.Contains(string(r.body), `"role":"web"`) {
		t.Fatalf("host web1: %s", r.body)
	}
	wantDetail(t, f.do("GET", "/api/v2/inventories/edge/script/?host=stopped", f.admin, nil), http.StatusNotFound, "stopped")
	wantStatus(t, f.do("GET", "/api/v2/inventories/edge/script/?host=stopped&all=1", f.admin, nil), http.StatusOK)

	wantDetail(t, f.do("GET", "/api/v2/inventories/nope/script/", f.admin, nil), http.StatusNotFound, "nope")
	wantDetail(t, f.do("GET", "/api/v2/inventories/edge/script/?subset=slice1of2", f.admin, nil), http.StatusBadRequest, "subset")
}

// TestAWXTowerVarsReplaceTheHosts: a host's own remote_tower_* vars give
// way to AWX's, as AWX's dict.update does, and two sources' hosts of one
// name are one host, enabled when either is.
func TestAWXTowerVarsReplaceTheHosts(t *testing.T) {
	ctx := t.Context()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "roster.db"))
	must(t, err)
	defer st.Close()
	inv := &roster.Inventory{Name: "merge"}
	must(t, st.CreateInventory(ctx, inv))
	syncHosts(t, st, inv, "a", []*roster.Host{
		{ExternalID: "1", Scope: "r", Name: "spoof", Enabled: true, Vars: json.RawMessage(`{"remote_tower_id":"x","remote_tower_enabled":"yes","keep":1}`), Hash: "1"},
		{ExternalID: "2", Scope: "r", Name: "shared", Enabled: false, Vars: json.RawMessage(`{"from":"a"}`), Groups: []string{"a"}, Hash: "2"},
	})
	syncHosts(t, st, inv, "b", []*roster.Host{
		{ExternalID: "3", Scope: "r", Name: "shared", Enabled: true, Vars: json.RawMessage(`{"from":"b"}`), Groups: []string{"b"}, Hash: "3"},
	})
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	_, err = api.WriteAWXScript(ctx, w, st, inv.ID, api.AWXScript{HostVars: true, TowerVars: true, All: true}, api.HostNaming{Policy: roster.NamesMerge})
	must(t, err)
	must(t, w.Flush())
	d := decodeAWX(t, buf.Bytes())
	spoof := d.Meta.Hostvars["spoof"]
	if spoof["remote_tower_enabled"] != "true" || spoof["keep"] != float64(1) {
		t.Fatalf("spoof = %v", spoof)
	}
	if _, ok := spoof["remote_tower_id"].(float64); !ok || strings.Count(buf.String(), `"remote_tower_id"`) != 2 {
		t.Fatalf("remote_tower_id repeated or kept: %s", buf.String())
	}
	shared := d.Meta.Hostvars["shared"]
	if shared["from"] != "b" || shared["remote_tower_enabled"] != "true" {
		t.Fatalf("shared = %v", shared)
	}
	if !slices.Equal(d.groups["a"].Hosts, []string{"shared"}) || !slices.Equal(d.groups["b"].Hosts, []string{"shared"}) {
		t.Fatalf("groups = %v", d.groups)
	}
}

func TestAWXAuthentication(t *testing.T) {
	f := newFixture(t)
	f.awxEdge("edge")
	runner := f.token("ci-runner", roster.RoleRunner)
	readOnly := f.scopedToken(&roster.Token{Name: "ro", Role: roster.RoleAuditor, ReadOnly: true})
	past := time.Now().Add(-time.Minute)
	expired := f.scopedToken(&roster.Token{Name: "old", Role: roster.RoleAdmin, ExpiresAt: &past})
	f.secrets = append(f.secrets, runner, readOnly, expired)
	const script = "/api/v2/inventories/edge/script/?hostvars=1&towervars=1&all=1"

	// No credentials: 401 in AWX's shape, saying what to send.
	r := f.do("GET", script, "", nil)
	wantDetail(t, r, http.StatusUnauthorized, "Bearer")
	if r.header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
	wantDetail(t, f.do("GET", "/api/v2/me/", "", nil), http.StatusUnauthorized, "basic auth")
	wantDetail(t, f.do("GET", "/api/v2/config/", "", nil), http.StatusUnauthorized, "token")

	// A bearer token, and basic auth with the token as the password and
	// any username.
	wantStatus(t, f.do("GET", script, f.admin, nil), http.StatusOK)
	for _, user := range []string{"admin", "anyone", ""} {
		wantStatus(t, f.send("GET", script, "", nil, basic(user, f.admin)), http.StatusOK)
	}
	wantDetail(t, f.send("GET", script, "", nil, basic("admin", "hunter2")), http.StatusUnauthorized, "not a valid Roster API token")
	wantDetail(t, f.send("GET", script, "", nil, basic("admin", roster.TokenPrefix+strings.Repeat("a", 43))), http.StatusUnauthorized, "not a valid Roster API token")
	wantDetail(t, f.send("GET", script, "", nil, http.Header{"Authorization": {"Basic %%%"}}), http.StatusUnauthorized, "malformed")
	wantDetail(t, f.send("GET", script, "", nil, http.Header{"Authorization": {"Token " + f.admin}}), http.StatusUnauthorized, "Bearer")
	wantDetail(t, f.do("GET", script, expired, nil), http.StatusUnauthorized, "expired")
	wantDetail(t, f.send("GET", script, "", nil, basic("old", expired)), http.StatusUnauthorized, "expired")

	// The collection's exchange of a username and password for a token:
	// the answer is the token itself, kept by no cache.
	r = f.send("POST", "/api/v2/tokens/", "", `{"description":"Automation Platform Controller Module Token","application":null,"scope":"write"}`,
		basic("admin", f.admin))
	wantStatus(t, r, http.StatusCreated)
	var tok struct{ ID, Token, Scope string }
	r.json(t, &tok)
	if tok.Token != f.admin || tok.ID == "" || tok.Scope != "write" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token answer %s (Cache-Control %q)", r.body, r.header.Get("Cache-Control"))
	}
	r = f.send("POST", "/api/v2/tokens/", "", "{}", basic("ro", readOnly))
	wantStatus(t, r, http.StatusCreated)
	r.json(t, &tok)
	if tok.Token != readOnly || tok.Scope != "read" {
		t.Fatalf("read-only token answer %s", r.body)
	}
	wantDetail(t, f.send("POST", "/api/v2/tokens/", "", "{}", basic("admin", "hunter2")), http.StatusUnauthorized, "password")

	// ping is public, as AWX's; config and me say who and what.
	r = f.do("GET", "/api/v2/ping/", "", nil)
	wantStatus(t, r, http.StatusOK)
	var ping struct {
		Version    string
		ActiveNode string `json:"active_node"`
		Instances  []struct{ Node string }
	}
	r.json(t, &ping)
	if len(ping.Instances) != 1 || ping.Instances[0].Node != ping.ActiveNode {
		t.Fatalf("ping %s", r.body)
	}
	if !strings.Contains(string(r.body), `"version":"devel"`) || r.header.Get("X-API-Product-Version") != "" {
		t.Fatalf("a development build's version: %s, X-API-Product-Version %q", r.body, r.header.Get("X-API-Product-Version"))
	}
	r = f.send("GET", "/api/v2/config/", "", nil, basic("x", readOnly))
	wantStatus(t, r, http.StatusOK)
	var config struct {
		Version     string
		LicenseInfo struct {
			LicenseType string `json:"license_type"`
		} `json:"license_info"`
	}
	r.json(t, &config)
	if config.Version != "devel" || config.LicenseInfo.LicenseType != "open" {
		t.Fatalf("config %s", r.body)
	}
	r = f.do("GET", "/api/v2/me/", runner, nil)
	wantStatus(t, r, http.StatusOK)
	var me struct {
		Count   int
		Results []struct {
			Username    string
			IsSuperuser bool `json:"is_superuser"`
		}
	}
	r.json(t, &me)
	if me.Count != 1 || len(me.Results) != 1 || me.Results[0].Username != "ci-runner" || me.Results[0].IsSuperuser {
		t.Fatalf("me %s", r.body)
	}
	f.do("GET", "/api/v2/me/", f.admin, nil).json(t, &me)
	if me.Results[0].Username != "admin" || !me.Results[0].IsSuperuser {
		t.Fatalf("admin's me: %+v", me)
	}

	// Other paths and methods, in AWX's shape.
	wantDetail(t, f.do("GET", "/api/v2/hosts/", f.admin, nil), http.StatusNotFound, "script")
	r = f.do("DELETE", "/api/v2/inventories/edge/script/", f.admin, nil)
	wantDetail(t, r, http.StatusMethodNotAllowed, "DELETE")
	if r.header.Get("Allow") != "GET" {
		t.Fatalf("Allow %q", r.header.Get("Allow"))
	}
	// /api/v1 still takes bearer tokens only.
	wantStatus(t, f.send("GET", "/api/v1/inventories", "", nil, basic("admin", f.admin)), http.StatusUnauthorized)
}

// TestAWXScopes: AWX's script shows a token what /api/v1 shows it, and
// what it may not see answers as what does not exist.
func TestAWXScopes(t *testing.T) {
	f := newFixture(t)
	f.awxEdge("edge")
	f.awxEdge("other")
	limited := f.scopedToken(&roster.Token{Name: "limited", Role: roster.RoleOperator, Inventories: []string{"edge"}})
	runner := f.token("runner", roster.RoleRunner) // no grant: no inventory
	auditor := f.token("auditor", roster.RoleAuditor)
	f.secrets = append(f.secrets, limited, runner, auditor)
	for _, tc := range []struct {
		token, inv string
		status     int
	}{
		{limited, "edge", http.StatusOK},
		{limited, "other", http.StatusNotFound},
		{runner, "edge", http.StatusNotFound},
		{auditor, "other", http.StatusOK},
	} {
		for _, h := range []http.Header{{"Authorization": {"Bearer " + tc.token}}, basic("u", tc.token)} {
			r := f.send("GET", "/api/v2/inventories/"+tc.inv+"/script/?hostvars=1&all=1", "", nil, h)
			if r.status != tc.status {
				t.Errorf("%s with %s: %d, want %d (%s)", tc.inv, strings.Fields(h.Get("Authorization"))[0], r.status, tc.status, r.body)
			}
			if tc.status == http.StatusNotFound {
				wantDetail(t, r, http.StatusNotFound, `inventory "`+tc.inv+`" not found`)
			}
		}
	}
}
