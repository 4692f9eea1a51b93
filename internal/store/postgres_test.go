package store_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/store/storetest"
	"github.com/rosterhq/roster/internal/testenv"
)

func openPostgres(t *testing.T, dsn string) *store.Postgres {
	t.Helper()
	s, err := store.OpenPostgres(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPostgresConformance(t *testing.T) {
	p := testenv.Postgres(t)
	storetest.Run(t, func(t *testing.T) roster.Store {
		return openPostgres(t, p.CreateDatabase(t))
	})
}

func TestPostgresSchedulerConformance(t *testing.T) {
	p := testenv.Postgres(t)
	storetest.RunScheduler(t, func(t *testing.T) storetest.SchedulerStore {
		// Enough connections for every node of the claim race to be in
		// the database at once.
		s, err := store.OpenPostgres(t.Context(), p.CreateDatabase(t), store.PostgresMaxConns(16))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestPostgresWebhooks(t *testing.T) {
	p := testenv.Postgres(t)
	storetest.RunWebhooks(t, func(t *testing.T) (roster.Store, roster.WebhookStore) {
		s := openPostgres(t, p.CreateDatabase(t))
		return s, s
	})
}

// TestPostgresSchedulerAcrossProcesses races stores with pools of their
// own, as separate Roster processes on one database are.
func TestPostgresSchedulerAcrossProcesses(t *testing.T) {
	p := testenv.Postgres(t)
	const nodes = 4
	open := func(t *testing.T) []*store.Postgres {
		dsn := p.CreateDatabase(t)
		stores := make([]*store.Postgres, nodes)
		for i := range stores {
			stores[i] = openPostgres(t, dsn)
			t.Cleanup(func() { stores[i].Close() })
		}
		return stores
	}
	// race runs fn on every node at once and returns what each returned.
	race := func(stores []*store.Postgres, fn func(*store.Postgres) error) []error {
		errs := make([]error, len(stores))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() {
				<-start
				errs[i] = fn(s)
			})
		}
		close(start)
		wg.Wait()
		return errs
	}
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	newSource := func(t *testing.T, s *store.Postgres, name string) *roster.Source {
		t.Helper()
		inv := &roster.Inventory{Name: name}
		if err := s.CreateInventory(t.Context(), inv); err != nil {
			t.Fatal(err)
		}
		src := &roster.Source{InventoryID: inv.ID, Name: name, Provider: "aws", OnMissing: roster.OnMissingRemove,
			Schedule: "1m", ScheduleJitter: roster.DefaultJitter}
		if err := s.CreateSource(t.Context(), src); err != nil {
			t.Fatal(err)
		}
		return src
	}

	t.Run("ClaimEachTickOnce", func(t *testing.T) {
		stores := open(t)
		ctx := t.Context()
		src := newSource(t, stores[0], "prod")
		tick := time.Time{} // planning first: the zero tick
		for round := range 8 {
			next := &roster.ScheduledSync{Tick: t0.Add(time.Duration(round) * time.Minute), Due: t0.Add(time.Duration(round) * time.Minute)}
			var mu sync.Mutex
			var claims []*roster.SyncRun
			errs := race(stores, func(s *store.Postgres) error {
				run, claimed, err := s.ClaimScheduledSync(ctx, src.ID, tick, next)
				if err == nil && claimed {
					mu.Lock()
					claims = append(claims, run)
					mu.Unlock()
				}
				return err
			})
			for _, err := range errs {
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if len(claims) != 1 {
				t.Fatalf("round %d: tick %v claimed %d times by %d nodes, want once", round, tick, len(claims), nodes)
			}
			if run := claims[0]; tick.IsZero() != (run == nil) {
				t.Fatalf("round %d: claim of tick %v made run %+v", round, tick, run)
			} else if run != nil {
				run.Status = roster.SyncSucceeded
				if err := stores[0].FinishSyncRun(ctx, run, nil); err != nil {
					t.Fatal(err)
				}
			}
			tick = next.Tick
		}
		runs, _, err := stores[0].SyncRuns(ctx, roster.SyncRunFilter{SourceID: src.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 7 {
			t.Fatalf("%d runs for 7 ticks", len(runs))
		}
	})

	t.Run("TakeCallbackOnce", func(t *testing.T) {
		stores := open(t)
		ctx := t.Context()
		src := newSource(t, stores[0], "prod")
		for round := range 4 {
			now := t0.Add(time.Duration(round) * time.Minute)
			oks := make([]bool, nodes)
			waits := make([]time.Duration, nodes)
			i := 0
			var mu sync.Mutex
			errs := race(stores, func(s *store.Postgres) error {
				ok, wait, err := s.TakeCallback(ctx, src.ID, now, 30*time.Second)
				mu.Lock()
				oks[i], waits[i] = ok, wait
				i++
				mu.Unlock()
				return err
			})
			taken := 0
			for k := range nodes {
				if errs[k] != nil {
					t.Fatal(errs[k])
				}
				switch {
				case oks[k]:
					taken++
				case waits[k] != 30*time.Second:
					t.Errorf("round %d: refused callback waits %v, want 30s", round, waits[k])
				}
			}
			if taken != 1 {
				t.Fatalf("round %d: %d of %d callbacks at once taken, want 1", round, taken, nodes)
			}
		}
	})

	// A run that synced its source records it on the source while a
	// claim of the source waits for the run: neither may deadlock.
	t.Run("FinishWhileClaiming", func(t *testing.T) {
		stores := open(t)
		ctx := t.Context()
		src := newSource(t, stores[0], "prod")
		tick := time.Time{}
		if _, _, err := stores[0].ClaimScheduledSync(ctx, src.ID, tick, &roster.ScheduledSync{Tick: t0, Due: t0}); err != nil {
			t.Fatal(err)
		}
		tick = t0
		for round := range 20 {
			run := &roster.SyncRun{SourceID: src.ID, InventoryID: src.InventoryID, Trigger: roster.TriggerAPI}
			if active, err := stores[0].CreateSyncRun(ctx, run); err != nil || active != nil {
				t.Fatalf("round %d: CreateSyncRun: active %v, %v", round, active, err)
			}
			next := tick.Add(time.Minute)
			var claimed *roster.SyncRun
			errs := race(stores[:2], func(s *store.Postgres) error {
				if s == stores[0] {
					run.Status = roster.SyncSucceeded
					return s.FinishSyncRun(ctx, run, nil)
				}
				var err error
				claimed, _, err = s.ClaimScheduledSync(ctx, src.ID, tick, &roster.ScheduledSync{Tick: next, Due: next})
				return err
			})
			for _, err := range errs {
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if claimed != nil {
				claimed.Status = roster.SyncFailed
				if err := stores[0].FinishSyncRun(ctx, claimed, nil); err != nil {
					t.Fatal(err)
				}
			}
			tick = next
		}
	})
}

// TestPostgresGenerationLocks races the writes that move an inventory's
// generation, each on a pool of its own as on separate nodes: a sync
// finishing with hosts (it holds its source's row when it bumps), the
// inventory's deletion (it locks the inventory, then its sources), a
// source's deletion and a group-vars write. None may deadlock; the losers
// find what they wrote to gone.
func TestPostgresGenerationLocks(t *testing.T) {
	p := testenv.Postgres(t)
	dsn := p.CreateDatabase(t)
	nodes := make([]*store.Postgres, 4)
	for i := range nodes {
		nodes[i] = openPostgres(t, dsn)
		t.Cleanup(func() { nodes[i].Close() })
	}
	ctx := t.Context()
	for round := range 20 {
		inv := &roster.Inventory{Name: fmt.Sprintf("prod-%d", round)}
		if err := nodes[0].CreateInventory(ctx, inv); err != nil {
			t.Fatal(err)
		}
		var srcs [2]*roster.Source
		for i := range srcs {
			srcs[i] = &roster.Source{InventoryID: inv.ID, Name: fmt.Sprintf("src-%d", i), Provider: "aws", OnMissing: roster.OnMissingRemove}
			if err := nodes[0].CreateSource(ctx, srcs[i]); err != nil {
				t.Fatal(err)
			}
		}
		run := &roster.SyncRun{SourceID: srcs[0].ID, InventoryID: inv.ID, Trigger: roster.TriggerAPI}
		if _, err := nodes[0].CreateSyncRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		run.StartedAt, run.Status = &now, roster.SyncSucceeded
		var hosts []*roster.Host
		for i := range 200 {
			hosts = append(hosts, &roster.Host{ExternalID: strconv.Itoa(i), Scope: "r", Name: fmt.Sprintf("h%d", i), Enabled: true,
				Groups: []string{"web"}, Vars: json.RawMessage(`{}`), Hash: "x"})
		}
		writes := []func(*store.Postgres) error{
			func(s *store.Postgres) error {
				return s.FinishSyncRun(ctx, run, &roster.HostChanges{Add: hosts, Scopes: []string{"r"}, ReplaceEdges: true,
					Edges: []roster.GroupEdge{{Parent: "all_web", Child: "web"}}})
			},
			func(s *store.Postgres) error { return s.DeleteInventory(ctx, inv.ID) },
			func(s *store.Postgres) error { return s.DeleteSource(ctx, srcs[1].ID) },
			func(s *store.Postgres) error {
				return s.SetGroupVars(ctx, inv.ID, "web", json.RawMessage(`{"port":80}`))
			},
		}
		errs := make([]error, len(writes))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, write := range writes {
			wg.Go(func() {
				<-start
				errs[i] = write(nodes[i])
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if code := roster.ErrorCode(err); err != nil && code != roster.ENOTFOUND && code != roster.ECONFLICT {
				t.Fatalf("round %d, write %d: %v", round, i, err)
			}
		}
	}
}

// TestPostgresScheduleStorage checks the stored forms of the scheduling
// fields: intervals (the default jitter a negative one), and intervals
// set by hand in days.
func TestPostgresScheduleStorage(t *testing.T) {
	p := testenv.Postgres(t)
	dsn := p.CreateDatabase(t)
	s := openPostgres(t, dsn)
	defer s.Close()
	ctx := t.Context()
	inv := &roster.Inventory{Name: "prod"}
	if err := s.CreateInventory(ctx, inv); err != nil {
		t.Fatal(err)
	}
	src := &roster.Source{InventoryID: inv.ID, Name: "ec2", Provider: "aws", OnMissing: roster.OnMissingRemove,
		Schedule: "@hourly", ScheduleJitter: roster.DefaultJitter, Timeout: 90 * time.Second}
	if err := s.CreateSource(ctx, src); err != nil {
		t.Fatal(err)
	}
	if got := p.Psql(t, dsn, `SELECT schedule_jitter || ' ' || timeout || ' ' || update_cache_timeout FROM sources`); got != "-00:00:00.000001 00:01:30 00:00:00" {
		t.Fatalf("stored durations = %q", got)
	}
	p.Psql(t, dsn, `UPDATE sources SET update_cache_timeout = '1 day 2 hours', schedule_jitter = '-5 minutes'`)
	got, err := s.Source(ctx, src.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.UpdateCacheTimeout != 26*time.Hour || got.ScheduleJitter != roster.DefaultJitter || got.Timeout != 90*time.Second {
		t.Fatalf("durations read back: cache %v, jitter %v, timeout %v", got.UpdateCacheTimeout, got.ScheduleJitter, got.Timeout)
	}
}

// migrations lists the applied migrations and when they were applied.
func migrations(t *testing.T, p *testenv.PostgresServer, dsn string) string {
	t.Helper()
	return p.Psql(t, dsn, `SELECT string_agg(version || '@' || applied_at, ',' ORDER BY version) FROM schema_migrations`)
}

func TestPostgresReopenKeepsData(t *testing.T) {
	p := testenv.Postgres(t)
	dsn := p.CreateDatabase(t)
	s := openPostgres(t, dsn)
	if err := s.CreateInventory(t.Context(), &roster.Inventory{Name: "prod"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := migrations(t, p, dsn)
	if before == "" {
		t.Fatal("no migration recorded")
	}
	s = openPostgres(t, dsn) // migrations run again: must be a no-op
	defer s.Close()
	if after := migrations(t, p, dsn); after != before {
		t.Fatalf("reopening changed schema_migrations:\n%s\nto\n%s", before, after)
	}
	if _, err := s.Inventory(t.Context(), "prod"); err != nil {
		t.Fatalf("after reopening: %v", err)
	}
}

func TestPostgresConcurrentOpen(t *testing.T) {
	p := testenv.Postgres(t)
	dsn := p.CreateDatabase(t)
	const n = 4
	stores := make([]*store.Postgres, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = store.OpenPostgres(t.Context(), dsn)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d of %d racing on a fresh database: %v", i+1, n, err)
		}
		defer stores[i].Close()
	}
	files, _ := filepath.Glob("migrations/postgres/*.sql")
	if got := p.Psql(t, dsn, `SELECT count(*) || '/' || count(DISTINCT version) FROM schema_migrations`); got != strconv.Itoa(len(files))+"/"+strconv.Itoa(len(files)) {
		t.Fatalf("schema_migrations rows/versions = %s, want each of %d migrations once", got, len(files))
	}
	// Every store works on the one schema.
	for i, s := range stores {
		if err := s.CreateInventory(t.Context(), &roster.Inventory{Name: "inv-" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := stores[0].Inventories(t.Context())
	if err != nil || len(list) != n {
		t.Fatalf("Inventories = %d, %v; want %d", len(list), err, n)
	}
}

// TestHostNameGlobEscaping checks that the name filter's '*' is the only
// wildcard in both stores: the characters SQL's LIKE and SQLite's GLOB
// treat specially match themselves.
func TestHostNameGlobEscaping(t *testing.T) {
	stores := map[string]func(t *testing.T) roster.Store{
		"sqlite": func(t *testing.T) roster.Store {
			s, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "roster.db"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"postgres": func(t *testing.T) roster.Store {
			return openPostgres(t, testenv.Postgres(t).CreateDatabase(t))
		},
	}
	names := []string{"web_1", "webx1", "web%1", "web-10", `web\1`, "web[1]", "web?1", "WEB_1"}
	for kind, open := range stores {
		t.Run(kind, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			ctx := t.Context()
			inv := &roster.Inventory{Name: "prod"}
			if err := s.CreateInventory(ctx, inv); err != nil {
				t.Fatal(err)
			}
			src := &roster.Source{InventoryID: inv.ID, Name: "ec2", Provider: "aws", OnMissing: roster.OnMissingRemove}
			if err := s.CreateSource(ctx, src); err != nil {
				t.Fatal(err)
			}
			run := &roster.SyncRun{SourceID: src.ID, InventoryID: inv.ID, Trigger: roster.TriggerAPI}
			if _, err := s.CreateSyncRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			var add []*roster.Host
			for i, n := range names {
				add = append(add, &roster.Host{ExternalID: "i-" + strconv.Itoa(i), Scope: "r", Name: n, Enabled: true, Vars: []byte(`{}`), Hash: "h"})
			}
			run.Status = roster.SyncSucceeded
			if err := s.FinishSyncRun(ctx, run, &roster.HostChanges{Add: add, Scopes: []string{"r"}}); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				pattern string
				want    []string
			}{
				{"web_*", []string{"web_1"}},
				{"web%*", []string{"web%1"}},
				{`web\*`, []string{`web\1`}},
				{"web[*", []string{"web[1]"}},
				{"web?*", []string{"web?1"}},
				{"*1", []string{"WEB_1", `web\1`, "web%1", "web?1", "web_1", "webx1"}},
				{"web*1", []string{`web\1`, "web%1", "web?1", "web_1", "webx1"}},
				{"*_*", []string{"WEB_1", "web_1"}},
			} {
				hosts, _, err := s.Hosts(ctx, roster.HostFilter{InventoryID: inv.ID, Name: tc.pattern})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, h := range hosts {
					got = append(got, h.Name)
				}
				if slices.Sort(tc.want); !slices.Equal(got, tc.want) {
					t.Errorf("name %q: %q, want %q", tc.pattern, got, tc.want)
				}
			}
		})
	}
}

// TestPostgresMatchesSQLite applies the same syncs, large enough to take
// the bulk paths in several batches, to both stores and compares what they
// then hold, host by host (vars byte for byte) and group by group.
func TestPostgresMatchesSQLite(t *testing.T) {
	const n = 3000
	sq, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	pg := openPostgres(t, testenv.Postgres(t).CreateDatabase(t))
	defer pg.Close()

	type state struct {
		hosts  []roster.Host
		groups []*roster.Group
	}
	apply := func(t *testing.T, s roster.Store) state {
		ctx := t.Context()
		inv := &roster.Inventory{Name: "prod"}
		if err := s.CreateInventory(ctx, inv); err != nil {
			t.Fatal(err)
		}
		src := &roster.Source{InventoryID: inv.ID, Name: "ec2", Provider: "aws", OnMissing: roster.OnMissingDisable}
		if err := s.CreateSource(ctx, src); err != nil {
			t.Fatal(err)
		}
		sync := func(c *roster.HostChanges) {
			t.Helper()
			run := &roster.SyncRun{SourceID: src.ID, InventoryID: inv.ID, Trigger: roster.TriggerAPI}
			if _, err := s.CreateSyncRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			run.Status = roster.SyncSucceeded
			if err := s.FinishSyncRun(ctx, run, c); err != nil {
				t.Fatal(err)
			}
		}
		hosts := make([]*roster.Host, n)
		for i := range hosts {
			hosts[i] = &roster.Host{ExternalID: fmt.Sprintf("i-%05d", i), Scope: fmt.Sprintf("region-%d", i%3), Name: fmt.Sprintf("host-%05d", i),
				Address: "10.0.0.1", Enabled: i%10 != 0, Groups: []string{"aws_ec2", fmt.Sprintf("tag_%d", i), "env_prod"},
				Vars: json.RawMessage(fmt.Sprintf(`{"z": %d, "a": "x"}`, i)), Hash: "h1"}
		}
		sync(&roster.HostChanges{Add: hosts, Scopes: []string{"region-0", "region-1", "region-2"},
			Edges: []roster.GroupEdge{{Parent: "env", Child: "env_prod"}}, ReplaceEdges: true})
		var update []*roster.Host
		var remove, disable []int64
		for i, h := range hosts {
			switch i % 4 {
			case 0, 2:
				u := *h
				u.Name = fmt.Sprintf("renamed-%05d", i)
				u.Groups = []string{fmt.Sprintf("shard_%d", i%7), "env_prod", "env_prod"} // a group named twice is one membership
				u.Vars = json.RawMessage(fmt.Sprintf(`{"i":%d,  "b":[1, 2]}`, i))
				u.Hash = "h2"
				update = append(update, &u)
			case 1:
				remove = append(remove, h.ID)
			case 3:
				disable = append(disable, h.ID)
			}
		}
		sync(&roster.HostChanges{Update: update, Remove: remove, Disable: disable, Scopes: []string{"region-0", "region-0"},
			Edges: []roster.GroupEdge{{Parent: "env", Child: "env_dev"}, {Parent: "env", Child: "env_dev"}}})
		if err := s.SetGroupVars(ctx, inv.ID, "env", json.RawMessage(`{"b": 1,"a":2}`)); err != nil {
			t.Fatal(err)
		}
		var st state
		_, err := s.WalkInventory(ctx, inv.ID, func(h *roster.Host) error {
			c := *h
			c.Groups = slices.Clone(h.Groups)
			c.Vars = slices.Clone(h.Vars)
			// Ids, owners and times differ between the stores by nature.
			c.ID, c.InventoryID, c.SourceID, c.FirstSeen, c.LastSeen = 0, "", "", time.Time{}, time.Time{}
			st.hosts = append(st.hosts, c)
			return nil
		}, func(*roster.Group) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if st.groups, err = s.Groups(ctx, inv.ID); err != nil {
			t.Fatal(err)
		}
		return st
	}
	want, got := apply(t, sq), apply(t, pg)
	if len(got.hosts) != len(want.hosts) || len(got.hosts) != n*3/4 {
		t.Fatalf("postgres holds %d hosts, sqlite %d; want %d", len(got.hosts), len(want.hosts), n*3/4)
	}
	for i := range want.hosts {
		if !reflect.DeepEqual(got.hosts[i], want.hosts[i]) {
			t.Fatalf("host %d differs:\npostgres %+v\nsqlite   %+v", i, got.hosts[i], want.hosts[i])
		}
	}
	if len(got.groups) != len(want.groups) {
		t.Fatalf("postgres has %d groups, sqlite %d", len(got.groups), len(want.groups))
	}
	for i := range want.groups {
		if g, w := got.groups[i], want.groups[i]; !reflect.DeepEqual(g, w) {
			t.Fatalf("group %d differs:\npostgres %+v (vars %s)\nsqlite   %+v (vars %s)", i, g, g.Vars, w, w.Vars)
		}
	}
}
