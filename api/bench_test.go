package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// BenchmarkReadLatency measures API reads of a 20,000-host inventory
// (a page of hosts filtered by group, and one host's vars as
// `roster-inventory --host` asks for them): with nothing else running
// (the baseline), and while a source of the same inventory re-syncs in a
// loop, each sync rewriting all 20,000 hosts. It reports the p50 and p99
// latency of 400 reads.
func BenchmarkReadLatency(b *testing.B) {
	sim := awssim.New(awssim.Options{Seed: 9, Size: 20000, Regions: []string{"us-east-1", "eu-west-1"}})
	simSrv := httptest.NewServer(sim)
	b.Cleanup(simSrv.Close)
	st, err := store.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "roster.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := sources.NewRegistry(aws.Driver{Credentials: credentials.NewStaticCredentialsProvider("AKIDBENCH", "secret", "")})
	engine := syncer.New(st, reg, log)
	inv := &roster.Inventory{Name: "prod"}
	must(b, st.CreateInventory(b.Context(), inv))
	src := &roster.Source{InventoryID: inv.ID, Name: "ec2", Provider: "aws", OnMissing: roster.OnMissingRemove, Config: map[string]any{
		"regions": []any{"us-east-1", "eu-west-1"}, "endpoint_url": simSrv.URL,
		"keyed_groups": []any{map[string]any{"key": "placement.region", "prefix": "region"}},
		"compose":      map[string]any{"round": "'0'"},
	}}
	must(b, st.CreateSource(b.Context(), src))
	resync := func(round int) {
		cfg := src.Config
		cfg["compose"] = map[string]any{"round": fmt.Sprintf("'%d'", round)}
		if _, err := st.UpdateSource(context.Background(), src.ID, roster.SourceUpdate{Config: cfg}); err != nil {
			b.Error(err)
			return
		}
		run, _, err := engine.Trigger(context.Background(), src, roster.TriggerCLI)
		if err == nil {
			err = engine.Run(context.Background(), run, nil)
		}
		if err != nil {
			b.Error(err)
		}
	}
	resync(0)
	value, hash := roster.NewTokenValue()
	must(b, st.CreateToken(b.Context(), &roster.Token{Name: "runner", Role: roster.RoleRunner}, hash))
	h, err := api.NewServer(api.Config{Store: st, Engine: engine, Log: log}).Handler()
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	enabled := true
	hosts, _, err := st.Hosts(b.Context(), roster.HostFilter{InventoryID: inv.ID, Enabled: &enabled, Limit: 1000})
	if err != nil || len(hosts) == 0 {
		b.Fatal("no hosts", err)
	}

	read := func(i int) time.Duration {
		path := "/api/v1/inventories/prod/hosts?group=region_eu_west_1&limit=100"
		if i%2 == 1 {
			path = "/api/v1/inventories/prod/ansible?host=" + hosts[i%len(hosts)].Name
		}
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+value.Reveal())
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return time.Since(start)
	}
	measure := func(b *testing.B) {
		const reads = 400
		var lat []time.Duration
		for b.Loop() {
			lat = lat[:0]
			for i := range reads {
				lat = append(lat, read(i))
			}
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("idle", measure)
	b.Run("during-syncs", func(b *testing.B) {
		var stop atomic.Bool
		var wg sync.WaitGroup
		var rounds atomic.Int64
		wg.Go(func() {
			for round := 1; !stop.Load(); round++ {
				resync(round)
				rounds.Add(1)
			}
		})
		measure(b)
		stop.Store(true)
		wg.Wait()
		if rounds.Load() == 0 {
			b.Fatal("no sync ran during the reads")
		}
		b.ReportMetric(float64(rounds.Load()), "syncs")
	})
}
