package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/api/ui"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources"
)

// BenchmarkWebUIPages measures the server time of the Web UI's pages on
// one SQLite inventory of ROSTER_BENCH_SIZE hosts (100,000 by default),
// written as a first sync writes them (with its history): vars of about
// 1.6 KB and 8 groups each, one of them the host's own (a keyed group of
// its Name tag, as in the aws_ec2 documentation's example), so the
// inventory has as many groups as hosts. Issue 18 asks every page to
// answer within 200 ms at this size; each case reports its median and
// slowest answer over the loop's requests, signed in as an operator.
func BenchmarkWebUIPages(b *testing.B) {
	n := 100_000
	if v := os.Getenv("ROSTER_BENCH_SIZE"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	// ROSTER_BENCH_WEBUI_DB keeps the database between runs: written
	// once, reused while it exists.
	path := os.Getenv("ROSTER_BENCH_WEBUI_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "roster.db")
	}
	_, statErr := os.Stat(path)
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if statErr != nil {
		seedWebUIBench(b, st, n)
	}
	inv, err := st.Inventory(ctx, "prod")
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := api.NewServer(api.Config{Store: st, Engine: syncer.New(st, sources.NewRegistry(), log), Log: log, DocumentDir: b.TempDir()})
	b.Cleanup(func() { srv.Close() })
	h, err := srv.Handler()
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(h)
	b.Cleanup(hs.Close)
	value, hash := roster.NewTokenValue()
	must(b, st.CreateToken(ctx, &roster.Token{Name: fmt.Sprintf("admin-%d", time.Now().UnixNano()), Role: roster.RoleAdmin}, hash))
	admin := value.Reveal()
	post := func(path string, body any) {
		buf, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", hs.URL+path, bytes.NewReader(buf))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		// A database kept from an earlier run has them already.
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusConflict {
			b.Fatalf("POST %s: %s", path, resp.Status)
		}
	}
	post("/api/v1/users", map[string]any{"name": "alice", "password": alicePassword})
	// An admin: every page is hers to see.
	post("/api/v1/role-bindings", map[string]any{"user": "alice", "role": "admin", "scope": "server"})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(hs.URL+ui.SignInPath, url.Values{"name": {"alice"}, "password": {alicePassword}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == "roster_session" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		b.Fatalf("signing in: %s, no session", resp.Status)
	}
	get := func(path string) []byte {
		req, _ := http.NewRequest("GET", hs.URL+path, nil)
		req.Header.Set("Cookie", cookie)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %s\n%s", path, resp.Status, body)
		}
		return body
	}

	// A later page: the one after the middle host.
	_, after, err := st.Hosts(ctx, roster.HostFilter{InventoryID: inv.ID, Name: fmt.Sprintf("host-%05d*", (n/2)/10), Limit: 1})
	if err != nil || after == "" {
		b.Fatalf("the middle host: %v", err)
	}
	later, _, err := st.Hosts(ctx, roster.HostFilter{InventoryID: inv.ID, After: after, Limit: 1})
	if err != nil || len(later) != 1 {
		b.Fatalf("the host after the middle one: %v", err)
	}
	middle := fmt.Sprintf("/ui/inventories/prod/hosts/%d", later[0].ID)
	runs, _, err := st.SyncRuns(ctx, roster.SyncRunFilter{InventoryID: inv.ID, Limit: 1})
	if err != nil || len(runs) != 1 {
		b.Fatalf("the first sync's run: %v", err)
	}
	runID := runs[0].ID
	// Changing a group's vars moves the inventory's generation: the
	// group tree is built again.
	round := 0
	regroup := func() {
		round++
		must(b, st.SetGroupVars(ctx, inv.ID, "roles", json.RawMessage(fmt.Sprintf(`{"round": %d}`, round))))
	}

	type page struct {
		name, path, want string
		before           func() // untimed, before each request
	}
	cases := []page{
		{"overview", "/", "prod", nil},
		{"inventories", "/ui/inventories", ">prod</a>", nil},
		{"hosts-first-page", "/ui/inventories/prod", "host-000049", nil},
		{"hosts-name-glob-prefix", "/ui/inventories/prod?name=host-0777*", "host-077749", nil},
		{"hosts-name-glob-infix", "/ui/inventories/prod?name=*777*", "host-007770", nil},
		{"hosts-group-large", "/ui/inventories/prod?group=role_db", "host-000001", nil},
		{"hosts-group-of-one", "/ui/inventories/prod?group=tag_Name_host_012345", "host-012345", nil},
		{"hosts-var-common", "/ui/inventories/prod?var=instance_type%3Dm5.large", "host-000002", nil},
		{"hosts-var-rare", "/ui/inventories/prod?var=instance_type%3Dx1.32xlarge", "host-000007", nil},
		{"hosts-var-none", "/ui/inventories/prod?var=instance_type%3Dnone", "No host matches", nil},
		{"hosts-var-bool-and-disabled", "/ui/inventories/prod?var=ebs_optimized%3Dtrue&enabled=false", "host-000000", nil},
		{"hosts-ungrouped-none", "/ui/inventories/prod?group=ungrouped", "No host matches on this page", nil},
		{"hosts-later-page", "/ui/inventories/prod?after=" + url.QueryEscape(after), later[0].Name, nil},
		{"host", middle, "Change history", nil},
		{"groups", "/ui/inventories/prod/groups", "too many groups", nil},
		{"groups-first-view", "/ui/inventories/prod/groups", "too many groups", srv.ForgetGroupTrees},
		{"groups-after-a-change", "/ui/inventories/prod/groups", "too many groups", regroup},
		{"sources", "/ui/sources", ">ec2<", nil},
		{"source", "/ui/sources/prod/ec2", "Sync now", nil},
		{"runs", "/ui/runs", "succeeded", nil},
		{"run-with-100k-changes", ui.RunPath(runID), "added", nil},
		{"run-changes-changed", ui.RunPath(runID) + "?kind=changed", "Changes", nil},
		{"schedules", "/ui/schedules", "ec2", nil},
		{"credentials", "/ui/credentials", "Credentials", nil},
		{"access", "/ui/access", "Tokens", nil},
		{"people", "/ui/people", "alice", nil},
		{"audit", "/ui/audit", "role_binding", nil},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				if c.before != nil {
					b.StopTimer()
					c.before()
					b.StartTimer()
				}
				start := time.Now()
				body := get(c.path)
				lat = append(lat, time.Since(start))
				if !bytes.Contains(body, []byte(c.want)) {
					b.Fatalf("GET %s lacks %q", c.path, c.want)
				}
			}
			if c.before != nil {
				// The last change's tree is built in the background: let it
				// end before the next case is timed.
				for deadline := time.Now().Add(30 * time.Second); bytes.Contains(get(c.path), []byte(`id="stale-tree"`)); {
					if time.Now().After(deadline) {
						b.Fatal("the group tree was not rebuilt in 30 s")
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
		})
	}
}

// seedWebUIBench writes the benchmark's inventory: n hosts, as a first
// sync with its history writes them.
func seedWebUIBench(b *testing.B, st roster.Store, n int) {
	ctx := context.Background()
	inv := &roster.Inventory{Name: "prod"}
	must(b, st.CreateInventory(ctx, inv))
	src := &roster.Source{InventoryID: inv.ID, Name: "ec2", Provider: "aws", OnMissing: roster.OnMissingRemove}
	must(b, st.CreateSource(ctx, src))
	run := &roster.SyncRun{SourceID: src.ID, InventoryID: inv.ID, Trigger: roster.TriggerCLI}
	if _, err := st.CreateSyncRun(ctx, run); err != nil {
		b.Fatal(err)
	}
	types := []string{"t3.micro", "t3.small", "m5.large", "c5.xlarge"}
	hosts := make([]*roster.Host, n)
	for i := range hosts {
		typ := types[i%len(types)]
		if i%10_000 == 7 {
			typ = "x1.32xlarge" // one host in 10,000
		}
		vars, err := json.Marshal(map[string]any{"blob": strings.Repeat("x", 1500), "instance_type": typ,
			"placement": map[string]any{"region": "us-east-1"}, "ebs_optimized": i%2 == 0})
		if err != nil {
			b.Fatal(err)
		}
		hosts[i] = &roster.Host{ExternalID: fmt.Sprintf("i-%08d", i), Scope: "us-east-1", Name: fmt.Sprintf("host-%06d", i), Enabled: i%50 != 0,
			Address: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
			Groups: []string{"aws_ec2", "arch_x86_64", fmt.Sprintf("tag_Name_host_%06d", i), "env_prod", "role_" + []string{"web", "db", "cache"}[i%3],
				"instance_type_" + strings.ReplaceAll(typ, ".", "_"), "sg_1", "sg_2"},
			Vars: vars, Hash: fmt.Sprint(i)}
	}
	now := time.Now()
	run.StartedAt, run.Status = &now, roster.SyncSucceeded
	start := time.Now()
	edges := []roster.GroupEdge{{Parent: "roles", Child: "role_web"}, {Parent: "roles", Child: "role_db"}, {Parent: "roles", Child: "role_cache"}}
	must(b, st.FinishSyncRun(ctx, run, &roster.HostChanges{Add: hosts, Scopes: []string{"us-east-1"}, Edges: edges, ReplaceEdges: true, Record: true}))
	b.Logf("%d hosts written in %s", n, time.Since(start).Round(time.Millisecond))
}
