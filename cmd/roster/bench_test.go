package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
)

// The scale target: 100,000 instances over 16 regions
// (ROSTER_BENCH_SIZE overrides the size for quick runs).
var benchSize = envInt("ROSTER_BENCH_SIZE", 100_000)

func envInt(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err != nil || n <= 0 {
		return def
	}
	return n
}

const (
	benchRegions = "us-east-1,us-east-2,us-west-1,us-west-2,eu-west-1,eu-west-2,eu-west-3,eu-central-1,eu-north-1,ap-south-1,ap-northeast-1,ap-northeast-2,ap-southeast-1,ap-southeast-2,ca-central-1,sa-east-1"
)

// benchConfig is a realistic source: the aws_ec2 documentation's
// keyed_groups, a compose and a conditional group.
func benchConfig(simURL string) map[string]any {
	var regions []any
	for _, r := range strings.Split(benchRegions, ",") {
		regions = append(regions, r)
	}
	return map[string]any{
		"regions":      regions,
		"endpoint_url": simURL,
		"hostnames":    []any{"tag:Name", "private-dns-name"},
		"compose":      map[string]any{"ansible_host": "private_ip_address"},
		"groups":       map[string]any{"webservers": "tags.Role | default('') == 'web'"},
		"keyed_groups": []any{
			map[string]any{"prefix": "arch", "key": "architecture"},
			map[string]any{"prefix": "tag", "key": "tags"},
			map[string]any{"prefix": "instance_type", "key": "instance_type"},
			map[string]any{"prefix": "security_groups", "key": `security_groups|json_query("[].group_id")`},
			map[string]any{"prefix": "aws_region", "key": "placement.region"},
		},
	}
}

// simProcess runs `roster simulate aws` in its own process, so that the
// benchmark's memory figures are Roster's alone.
func simProcess(b testing.TB, size int) string {
	b.Helper()
	bin := buildBinary(b, "./cmd/roster", b.TempDir())
	cmd := exec.Command(bin, "simulate", "aws", "--listen", "127.0.0.1:0", "--size", fmt.Sprint(size), "--regions", benchRegions)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("simulator: %v", err)
	}
	go io.Copy(io.Discard, stdout)
	i := strings.LastIndex(line, " at ")
	if i < 0 {
		b.Fatalf("simulator said %q", line)
	}
	return strings.TrimSpace(line[i+4:])
}

type benchEnv struct {
	st     *store.SQLite
	path   string
	engine *syncer.Engine
	reg    *sources.Registry
	src    *roster.Source
}

func newBenchEnv(b *testing.B, simURL string) *benchEnv {
	b.Helper()
	path := filepath.Join(b.TempDir(), "roster.db")
	st, err := store.OpenSQLite(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	reg := sources.NewRegistry(aws.Driver{Credentials: credentials.NewStaticCredentialsProvider(simAccessKey, simSecretKey, "")})
	e := &benchEnv{st: st, path: path, reg: reg, engine: syncer.New(st, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	inv := &roster.Inventory{Name: "bench"}
	if err := st.CreateInventory(context.Background(), inv); err != nil {
		b.Fatal(err)
	}
	e.src = &roster.Source{InventoryID: inv.ID, Name: "ec2", Provider: "aws", Config: benchConfig(simURL), OnMissing: roster.OnMissingRemove}
	if err := st.CreateSource(context.Background(), e.src); err != nil {
		b.Fatal(err)
	}
	return e
}

func (e *benchEnv) sync(b *testing.B) *roster.SyncRun {
	run, _, err := e.engine.Trigger(context.Background(), e.src, roster.TriggerCLI)
	if err != nil {
		b.Fatal(err)
	}
	if err := e.engine.Run(context.Background(), run, nil); err != nil || run.Status != roster.SyncSucceeded {
		b.Fatalf("sync %s: %v", run.Status, err)
	}
	return run
}

// peakHeap samples the live heap while fn runs and returns the highest
// value seen, in MB.
func peakHeap(fn func()) float64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	fn()
	close(done)
	wg.Wait()
	return float64(peak) / (1 << 20)
}

// BenchmarkSync measures one source of 100,000 instances over 16 regions:
// fetch-only (the SDK and the simulator, no Roster work: the baseline), a
// full first sync into an empty database, and an unchanged re-sync, which
// must write no host row.
func BenchmarkSync(b *testing.B) {
	simURL := simProcess(b, benchSize)

	b.Run("fetch-only", func(b *testing.B) {
		e := newBenchEnv(b, simURL)
		defer e.st.Close()
		var n int
		for b.Loop() {
			b.ReportMetric(peakHeap(func() { n = fetchOnly(b, e) }), "peak-heap-MB")
		}
		b.ReportMetric(float64(n), "hosts")
	})
	b.Run("full", func(b *testing.B) {
		var run *roster.SyncRun
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			e := newBenchEnv(b, simURL)
			b.StartTimer()
			b.ReportMetric(peakHeap(func() { run = e.sync(b) }), "peak-heap-MB")
			b.StopTimer()
			e.st.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(run.Counts.Added), "hosts")
	})
	b.Run("unchanged", func(b *testing.B) {
		e := newBenchEnv(b, simURL)
		defer e.st.Close()
		first := e.sync(b)
		before := hostRowsFingerprint(b, e.path)
		b.ResetTimer()
		var run *roster.SyncRun
		for b.Loop() {
			b.ReportMetric(peakHeap(func() { run = e.sync(b) }), "peak-heap-MB")
		}
		b.StopTimer()
		if run.Counts.Unchanged != first.Counts.Added || run.Counts.Added+run.Counts.Updated+run.Counts.Removed != 0 {
			b.Fatalf("re-sync changed hosts: %+v", run.Counts)
		}
		if after := hostRowsFingerprint(b, e.path); after != before {
			b.Fatalf("an unchanged re-sync wrote host rows (%s → %s)", before, after)
		}
		b.ReportMetric(float64(run.Counts.Unchanged), "hosts")
	})
}

// fetchOnly is the baseline: every instance fetched and translated by the
// provider, nothing constructed or stored.
func fetchOnly(b *testing.B, e *benchEnv) int {
	p, _, err := e.reg.Open(context.Background(), e.src, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	scopes, err := p.Scopes(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	sources.CollectScopes(context.Background(), p, scopes, 0, func(o sources.Outcome) {
		if o.Err != nil {
			b.Error(o.Err)
		}
		mu.Lock()
		n += len(o.Instances)
		mu.Unlock()
	})
	return n
}

func hostRowsFingerprint(b *testing.B, path string) string {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var n, seen int64
	if err := db.QueryRow(`SELECT count(*), COALESCE(max(last_seen), 0) + COALESCE(sum(length(vars)), 0) FROM hosts`).Scan(&n, &seen); err != nil {
		b.Fatal(err)
	}
	return fmt.Sprintf("%d/%d", n, seen)
}

// BenchmarkAnsibleList measures `roster-inventory --list` (the real binary,
// as Ansible runs it) for the 100,000-host inventory: against Roster, and,
// as the baseline, against a server sending the same bytes from a static
// file (http.ServeFile, with sendfile). The cases:
//   - static-baseline, roster: the script without its cache (every read
//     fetches and checks the whole document); Roster's document is
//     rendered before the timed reads, and the first read's time, render
//     included, is reported as first-read-s;
//   - roster-cached: the script with its cache kept from an earlier read:
//     Roster answers 304 and the kept copy is printed;
//   - roster-10-at-once: ten scripts without cache reading at once; the
//     server's heap growth over the heap before them is reported;
//   - roster-gzip: as roster, the script asking for gzip (ROSTER_GZIP=on;
//     on loopback it asks for none by default); the first read, which
//     compresses the document, is reported as first-read-s, and the
//     encoded size as wire-MB.
//
// Besides the mean (ns/op), each case reports its median read, median-s.
func BenchmarkAnsibleList(b *testing.B) {
	simURL := simProcess(b, benchSize)
	e := newBenchEnv(b, simURL)
	defer e.st.Close()
	e.sync(b)
	// ROSTER_INVENTORY_BIN measures another build of the script (an
	// older commit's, for a before/after in one harness).
	script := os.Getenv("ROSTER_INVENTORY_BIN")
	if script == "" {
		script = buildBinary(b, "./cmd/roster-inventory", b.TempDir())
	}
	value, hash := roster.NewTokenValue()
	if err := e.st.CreateToken(context.Background(), &roster.Token{Name: "bench", Role: roster.RoleRunner, Inventories: []string{e.src.InventoryID}}, hash); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	apiSrv := api.NewServer(api.Config{Store: e.st, Engine: e.engine, Log: log, DocumentDir: b.TempDir()})
	defer apiSrv.Close()
	h, err := apiSrv.Handler()
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	docPath := filepath.Join(b.TempDir(), "inventory.json")
	f, err := os.Create(docPath)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if _, err := api.WriteAnsibleInventory(context.Background(), w, e.st, e.src.InventoryID, false, api.HostNaming{Policy: roster.NamesMerge}); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	fi, err := os.Stat(docPath)
	if err != nil {
		b.Fatal(err)
	}
	docSize := fi.Size()
	static := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		http.ServeFile(w, r, docPath)
	}))
	defer static.Close()

	gzipMode := "off"
	read := func(url, cache string) error {
		cmd := exec.Command(script, "--list")
		cmd.Env = append(os.Environ(), "ROSTER_URL="+url, "ROSTER_TOKEN="+value.Reveal(), "ROSTER_INVENTORY=bench", "ROSTER_CACHE="+cache,
			"ROSTER_GZIP="+gzipMode)
		cw := &countWriter{}
		cmd.Stdout = cw
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("roster-inventory: %v: %s", err, stderr.String())
		}
		if cw.n != docSize {
			return fmt.Errorf("printed %d bytes, want %d", cw.n, docSize)
		}
		return nil
	}
	// (The script's own memory is TestLargeDocumentInBoundedMemory's:
	// a child's Maxrss counts the forking process.)
	list := func(b *testing.B, url, cache string) {
		if err := read(url, cache); err != nil {
			b.Fatal(err)
		}
	}
	run := func(b *testing.B, url, cache string) {
		var times []time.Duration
		b.ReportMetric(peakHeap(func() {
			for b.Loop() {
				start := time.Now()
				list(b, url, cache)
				times = append(times, time.Since(start))
			}
		}), "server-peak-heap-MB")
		b.ReportMetric(median(times).Seconds(), "median-s")
		b.ReportMetric(float64(docSize)/(1<<20), "output-MB")
	}
	b.Run("static-baseline", func(b *testing.B) { run(b, static.URL, "off") })
	b.Run("roster", func(b *testing.B) {
		start := time.Now()
		list(b, srv.URL, "off") // renders the document, once per generation
		first := time.Since(start)
		run(b, srv.URL, "off")
		b.ReportMetric(first.Seconds(), "first-read-s")
	})
	b.Run("roster-cached", func(b *testing.B) {
		cache := b.TempDir()
		list(b, srv.URL, cache) // keeps the document and its ETag
		run(b, srv.URL, cache)
	})
	b.Run("roster-gzip", func(b *testing.B) {
		gzipMode = "on"
		defer func() { gzipMode = "off" }()
		start := time.Now()
		list(b, srv.URL, "off") // compresses the document, once per generation
		first := time.Since(start)
		run(b, srv.URL, "off")
		b.ReportMetric(first.Seconds(), "first-read-s")
		b.ReportMetric(float64(gzipSize(b, srv.URL, value))/(1<<20), "wire-MB")
	})
	b.Run("roster-10-at-once", func(b *testing.B) {
		list(b, srv.URL, "off")
		b.ReportMetric(heapGrowth(func() {
			for b.Loop() {
				var wg sync.WaitGroup
				errs := make(chan error, 10)
				for range 10 {
					wg.Go(func() {
						errs <- read(srv.URL, "off")
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		}), "server-heap-growth-MB")
	})
}

// gzipSize is the size of the gzip-encoded --list document.
func gzipSize(b *testing.B, url string, token roster.Secret) int64 {
	req, err := http.NewRequest(http.MethodGet, url+"/api/v1/inventories/bench/ansible", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token.Reveal())
	req.Header.Set("Accept-Encoding", "gzip") // set here: the transport leaves the body encoded
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.Header.Get("Content-Encoding") != "gzip" {
		b.Fatalf("gzip document: %v, Content-Encoding %q", err, resp.Header.Get("Content-Encoding"))
	}
	return n
}

// heapGrowth runs fn and returns how far the heap rose above what it
// was before, in MiB, sampled every 5 ms.
func heapGrowth(fn func()) float64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	before := sample[0].Value.Uint64()
	peak := peakHeap(fn) * (1 << 20)
	return (peak - float64(before)) / (1 << 20)
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}
