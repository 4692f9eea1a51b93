package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
)

// changesPages follows a change list's pages from path (which takes
// ?limit= or &cursor=), checking each page's size.
func (f *fixture) changesPages(path, token string, limit int) []api.HostChange {
	f.t.Helper()
	var out []api.HostChange
	u, _ := url.Parse(path)
	q := u.Query()
	q.Set("limit", strconv.Itoa(limit))
	for {
		u.RawQuery = q.Encode()
		r := f.do("GET", u.String(), token, nil)
		wantStatus(f.t, r, http.StatusOK)
		var page api.HostChangeList
		r.json(f.t, &page)
		if len(page.Items) > limit {
			f.t.Fatalf("a page of %d changes, limit %d", len(page.Items), limit)
		}
		out = append(out, page.Items...)
		if page.NextCursor == nil {
			return out
		}
		q.Set("cursor", *page.NextCursor)
	}
}

// TestSyncRunChangesAndHostHistory: what each succeeded run did to each
// host, by run and by host, paged; bad queries are a 400 naming the
// parameter; a caller that cannot see the inventory gets the 404 of the
// absent.
func TestSyncRunChangesAndHostHistory(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	f.inventory("other")
	src := f.source("prod", "ec2", f.awsConfig(map[string]any{
		"hostnames":    []string{"tag:Name", "instance-id"},
		"keyed_groups": []map[string]any{{"prefix": "tag", "key": "tags"}},
	}))
	first := f.syncAndWait(src.Id)
	added := f.changesPages("/api/v1/syncs/"+first.Id+"/changes", f.admin, 40)
	if len(added) != first.Counts.Added || len(added) == 0 {
		t.Fatalf("the first run lists %d changes, it added %d hosts", len(added), first.Counts.Added)
	}
	for _, c := range added {
		if c.Kind != api.Added || c.RunId != first.Id || c.SourceId != src.Id || len(c.ChangedKeys) != 0 || c.Diff != nil {
			t.Fatalf("change of an added host: %+v", c)
		}
	}

	// Retag a running instance and terminate another.
	var retagged, gone roster.Host
	hosts := map[string]api.Host{}
	var list api.HostList
	f.do("GET", "/api/v1/inventories/prod/hosts?limit=1000", f.admin, nil).json(t, &list)
	for _, h := range list.Items {
		hosts[h.ExternalId] = h
	}
	for _, inst := range f.sim.Fleet().Instances() {
		h, ok := hosts[inst.ID]
		if !ok || inst.State != "running" {
			continue
		}
		switch {
		case retagged.Name == "":
			retagged = roster.Host{ExternalID: inst.ID, Name: h.Name}
		case gone.Name == "":
			gone = roster.Host{ExternalID: inst.ID, Name: h.Name}
		}
	}
	must(t, f.sim.Fleet().SetTag(retagged.ExternalID, "Env", "changed-env"))
	must(t, f.sim.Fleet().Terminate(gone.ExternalID))
	second := f.syncAndWait(src.Id)
	all := f.changesPages("/api/v1/syncs/"+second.Id+"/changes", f.admin, 100)
	if len(all) != 2 || all[0].Kind != api.Changed || all[1].Kind != api.Removed {
		t.Fatalf("the second run lists %+v, want a change then a removal", all)
	}
	changed := f.changesPages("/api/v1/syncs/"+second.Id+"/changes?kind=changed", f.admin, 100)
	if len(changed) != 1 {
		t.Fatalf("?kind=changed lists %d changes", len(changed))
	}
	c := changed[0]
	if c.Host != retagged.Name || !slices.Equal(c.ChangedKeys, []string{"groups", "tags"}) || c.Truncated || c.Diff == nil || c.Diff.Vars == nil {
		t.Fatalf("the retagged host's change: %+v", c)
	}
	var tags struct{ Old, New map[string]string }
	tagDiff := (*c.Diff.Vars)["tags"]
	must(t, json.Unmarshal(*tagDiff.Old, &tags.Old))
	must(t, json.Unmarshal(*tagDiff.New, &tags.New))
	if tags.New["Env"] != "changed-env" || tags.Old["Env"] == "changed-env" || c.Diff.GroupsAdded == nil || !slices.Contains(*c.Diff.GroupsAdded, "tag_Env_changed_env") {
		t.Fatalf("the retagged host's diff: tags %v → %v, groups added %v", tags.Old, tags.New, c.Diff.GroupsAdded)
	}
	if rm := f.changesPages("/api/v1/syncs/"+second.Id+"/changes?kind=removed", f.admin, 100); len(rm) != 1 || rm[0].Host != gone.Name {
		t.Fatalf("?kind=removed lists %+v", rm)
	}

	// A host's history, newest first, by name; a removed host's too.
	history := func(name, token string) []api.HostChange {
		return f.changesPages("/api/v1/inventories/prod/hosts/"+url.PathEscape(name)+"/history", token, 1)
	}
	if h := history(retagged.Name, f.admin); len(h) != 2 || h[0].RunId != second.Id || h[0].Kind != api.Changed || h[1].RunId != first.Id {
		t.Fatalf("history of the retagged host: %+v", h)
	}
	if h := history(gone.Name, f.admin); len(h) != 2 || h[0].Kind != api.Removed {
		t.Fatalf("history of the removed host: %+v", h)
	}
	if h := history("no-such-host", f.admin); len(h) != 0 {
		t.Fatalf("history of a host never seen: %+v", h)
	}

	// An unchanged re-sync lists nothing.
	if l := f.changesPages("/api/v1/syncs/"+f.syncAndWait(src.Id).Id+"/changes", f.admin, 100); len(l) != 0 {
		t.Fatalf("an unchanged re-sync lists %d changes", len(l))
	}

	// Bad query values: a 400 naming the parameter.
	runPath, histPath := "/api/v1/syncs/"+second.Id+"/changes", "/api/v1/inventories/prod/hosts/"+url.PathEscape(retagged.Name)+"/history"
	for _, tc := range []struct{ path, field string }{
		{runPath + "?kind=modified", "kind"},
		{runPath + "?limit=0", "limit"},
		{runPath + "?limit=1001", "limit"},
		{runPath + "?limit=ten", "limit"},
		{runPath + "?cursor=garbage", "cursor"},
		{histPath + "?limit=5000", "limit"},
		{histPath + "?cursor=garbage", "cursor"},
	} {
		wantField(t, f.do("GET", tc.path, f.admin, nil), tc.field)
	}

	// Visibility: another inventory's auditor gets the 404 of the absent,
	// this inventory's the history; runners may not read it.
	outsider := f.scopedToken(&roster.Token{Name: "outsider", Role: roster.RoleAuditor, Inventories: []string{"other"}})
	insider := f.scopedToken(&roster.Token{Name: "insider", Role: roster.RoleAuditor, Inventories: []string{"prod"}})
	runner := f.scopedToken(&roster.Token{Name: "runner", Role: roster.RoleRunner, Inventories: []string{"prod"}})
	for _, path := range []string{runPath, histPath} {
		wantStatus(t, f.do("GET", path, outsider, nil), http.StatusNotFound)
		wantStatus(t, f.do("GET", path, insider, nil), http.StatusOK)
		wantStatus(t, f.do("GET", path, runner, nil), http.StatusForbidden)
	}
	absent := f.do("GET", "/api/v1/syncs/no-such-run/changes", outsider, nil)
	hidden := f.do("GET", runPath, outsider, nil)
	if h, a := strings.ReplaceAll(string(hidden.body), second.Id, "X"), strings.ReplaceAll(string(absent.body), "no-such-run", "X"); h != a {
		t.Fatalf("a hidden run answers %s, an absent one %s", hidden.body, absent.body)
	}
	wantStatus(t, f.do("GET", "/api/v1/inventories/nope/hosts/x/history", f.admin, nil), http.StatusNotFound)
}
