package jobs_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/jobs"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/testenv"
)

const benchSources = 1000

// benchQueue opens a fresh store and (unstarted) queue of the kind.
func benchQueue(b *testing.B, kind string, pg *testenv.PostgresServer) (jobs.Store, *jobs.Queue) {
	b.Helper()
	var st interface {
		jobs.Store
		Close() error
	}
	var q *jobs.Queue
	var err error
	cfg := jobs.Config{Log: logger()}
	switch kind {
	case "sqlite":
		path := filepath.Join(b.TempDir(), "roster.db")
		s, err := store.OpenSQLite(b.Context(), path)
		if err != nil {
			b.Fatal(err)
		}
		st, cfg.Store = s, s
		q, err = jobs.OpenSQLite(b.Context(), path, cfg)
	case "postgres":
		s, err := store.OpenPostgres(b.Context(), pg.CreateDatabase(b))
		if err != nil {
			b.Fatal(err)
		}
		st, cfg.Store = s, s
		q, err = jobs.OpenPostgres(b.Context(), s.Pool(), cfg)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { q.Stop(b.Context()); st.Close() })
	return st, q
}

// BenchmarkSchedule measures one scheduler tick that finds 1,000 sources
// due, claims each tick (a store transaction per source) and queues the
// runs' River jobs (one InsertMany per batch of 500), next to the baseline
// of inserting 1,000 River jobs one by one, on each store.
func BenchmarkSchedule(b *testing.B) {
	var pg *testenv.PostgresServer
	for _, kind := range []string{"sqlite", "postgres"} {
		if kind == "postgres" {
			pg = testenv.Postgres(b)
		}
		b.Run(kind+"/tick-1000-sources", func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				st, q := benchQueue(b, kind, pg)
				inv := &roster.Inventory{Name: "bench"}
				if err := st.CreateInventory(b.Context(), inv); err != nil {
					b.Fatal(err)
				}
				due := time.Now().Add(-time.Second).Truncate(time.Microsecond)
				for i := range benchSources {
					src := &roster.Source{InventoryID: inv.ID, Name: fmt.Sprintf("s%04d", i), Provider: "aws", OnMissing: roster.OnMissingRemove,
						Schedule: "15m", NextSync: &roster.ScheduledSync{Tick: due, Due: due}}
					if err := st.CreateSource(b.Context(), src); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				res, err := q.Tick(b.Context(), time.Now())
				if err != nil || res.Queued != benchSources {
					b.Fatalf("tick = %+v, %v; want %d queued", res, err, benchSources)
				}
			}
		})
		b.Run(kind+"/river-insert-1000-baseline", func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				_, q := benchQueue(b, kind, pg)
				b.StartTimer()
				for range benchSources {
					id := uuid.NewString()
					if _, err := q.Insert(b.Context(), jobs.SyncArgs{RunID: id, SourceID: id}, nil); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
