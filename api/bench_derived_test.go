package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/derived"
)

// fillInventory makes a plain inventory of n hosts written as one sync
// writes them; host i has env prod when prod(i).
func fillInventory(b *testing.B, st roster.Store, name string, n int, prod func(int) bool) *roster.Inventory {
	b.Helper()
	ctx := b.Context()
	inv := &roster.Inventory{Name: name}
	must(b, st.CreateInventory(ctx, inv))
	src := &roster.Source{InventoryID: inv.ID, Name: "ec2", Provider: "aws", Config: map[string]any{}, OnMissing: roster.OnMissingRemove}
	must(b, st.CreateSource(ctx, src))
	run := &roster.SyncRun{SourceID: src.ID, InventoryID: inv.ID, Trigger: roster.TriggerCLI}
	_, err := st.CreateSyncRun(ctx, run)
	must(b, err)
	c := &roster.HostChanges{Scopes: []string{"us-east-1"}, ReplaceEdges: true}
	for i := range n {
		env := "dev"
		if prod(i) {
			env = "prod"
		}
		h := fmt.Sprintf("%s-%06d.example.internal", name, i)
		vars, _ := json.Marshal(map[string]any{
			"env": env, "instance_id": fmt.Sprintf("i-%012x", i), "instance_type": "m5.large", "private_ip_address": fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
			"placement":    map[string]any{"region": "us-east-1", "availability_zone": "us-east-1" + string(rune('a'+i%4))},
			"tags":         map[string]any{"Name": h, "Role": []string{"web", "db", "cache", "queue"}[i%4], "Team": "platform"},
			"ansible_host": fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
		})
		groups := []string{"env_" + env, "role_" + []string{"web", "db", "cache", "queue"}[i%4]}
		c.Add = append(c.Add, &roster.Host{ExternalID: strconv.Itoa(i), Scope: "us-east-1", Name: h, Address: "10.0.0.1", Enabled: true, Groups: groups, Vars: vars, Hash: h})
	}
	now := time.Now()
	run.StartedAt, run.Status = &now, roster.SyncSucceeded
	must(b, st.FinishSyncRun(ctx, run, c))
	return inv
}

// BenchmarkDerivedRead compares reads of a smart inventory selecting
// 50,000 of the 100,000 hosts of its input with reads of a plain
// inventory of 50,000 hosts, in one store and one run (issue 19): the
// whole Ansible document rendered (the inventory's generation moved:
// the first read after a change), the document already rendered, one
// host's vars (roster-inventory --host), and a page of 1,000 hosts. It
// also reports how long the smart inventory's run (its materialisation)
// took. Sizes: ROSTER_BENCH_DERIVED_SIZE (the input's hosts; default
// 100,000).
func BenchmarkDerivedRead(b *testing.B) {
	size := 100_000
	if s := os.Getenv("ROSTER_BENCH_DERIVED_SIZE"); s != "" {
		var err error
		if size, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	st, err := store.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "roster.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine := syncer.New(st, sources.NewRegistry(derived.NewDrivers(st)...), log, syncer.WithSpillDir(b.TempDir()))

	start := time.Now()
	fillInventory(b, st, "plain", size/2, func(int) bool { return true })
	input := fillInventory(b, st, "input", size, func(i int) bool { return i%2 == 0 })
	fill := time.Since(start)
	smart := &roster.Inventory{Name: "smart", Kind: roster.KindSmart, Inputs: []string{input.ID}}
	must(b, st.CreateInventory(b.Context(), smart))
	src := &roster.Source{InventoryID: smart.ID, Name: "smart", Provider: "smart", Config: map[string]any{"host_filter": "variables__env=prod"}, OnMissing: roster.OnMissingRemove}
	must(b, st.CreateSource(b.Context(), src))
	materialise := func() (time.Duration, *roster.SyncRun) {
		e := engine.Inline()
		run, _, err := e.Trigger(b.Context(), src, roster.TriggerCLI)
		must(b, err)
		start := time.Now()
		must(b, e.Run(b.Context(), run, nil))
		return time.Since(start), run
	}
	first, run := materialise()
	if run.Counts.Added != size/2 {
		b.Fatalf("the smart inventory has %d hosts, want %d", run.Counts.Added, size/2)
	}
	again, _ := materialise()
	b.Logf("filled %d + %d hosts in %s; smart inventory's first run %s, unchanged re-run %s", size/2, size, fill.Round(time.Millisecond),
		first.Round(time.Millisecond), again.Round(time.Millisecond))

	value, hash := roster.NewTokenValue()
	must(b, st.CreateToken(b.Context(), &roster.Token{Name: "admin", Role: roster.RoleAdmin}, hash))
	apiSrv := api.NewServer(api.Config{Store: st, Engine: engine, Log: log, DocumentDir: b.TempDir()})
	b.Cleanup(func() { apiSrv.Close() })
	h, err := apiSrv.Handler()
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	get := func(b *testing.B, path string) int64 {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+value.Reveal())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return n
	}
	for _, inv := range []struct{ name, id, host string }{
		{"plain-50k", "plain", "plain-000124.example.internal"},
		{"smart-50k", "smart", "input-000248.example.internal"},
	} {
		round := 0
		b.Run(inv.name+"/render", func(b *testing.B) {
			var n int64
			for b.Loop() {
				// A change the document shows (group vars) moves the
				// generation: this read renders it again.
				b.StopTimer()
				round++
				must(b, st.SetGroupVars(context.Background(), mustInv(b, st, inv.id), "all", json.RawMessage(fmt.Sprintf(`{"round":%d}`, round))))
				b.StartTimer()
				n = get(b, "/api/v1/inventories/"+inv.id+"/ansible")
			}
			b.ReportMetric(float64(n)/1e6, "MB")
		})
		b.Run(inv.name+"/cached", func(b *testing.B) {
			get(b, "/api/v1/inventories/"+inv.id+"/ansible")
			for b.Loop() {
				get(b, "/api/v1/inventories/"+inv.id+"/ansible")
			}
		})
		b.Run(inv.name+"/host", func(b *testing.B) {
			for b.Loop() {
				get(b, "/api/v1/inventories/"+inv.id+"/ansible?host="+inv.host)
			}
		})
		b.Run(inv.name+"/page", func(b *testing.B) {
			for b.Loop() {
				get(b, "/api/v1/inventories/"+inv.id+"/hosts?limit=1000&group=role_web")
			}
		})
	}
}

func mustInv(b *testing.B, st roster.Store, ref string) string {
	inv, err := st.Inventory(context.Background(), ref)
	must(b, err)
	return inv.ID
}
