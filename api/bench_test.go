package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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

// simProcessEnv, set to a fleet size, makes this test binary serve the
// EC2 simulator instead of running tests (see simulatorProcess).
const simProcessEnv = "ROSTER_BENCH_SIMULATOR"

// serveSimulator serves the benchmarks' EC2 fleet until its stdin closes
// (its parent ended), having printed its URL.
func serveSimulator(size string) int {
	n, err := strconv.Atoi(size)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	sim := awssim.New(awssim.Options{Seed: 9, Size: n, Regions: []string{"us-east-1", "eu-west-1"}})
	url, stop, err := sim.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	fmt.Println(url)
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// simulatorProcess runs the EC2 simulator in a process of its own, as the
// cloud is: its CPU is not counted in the server's. It returns its URL.
func simulatorProcess(b *testing.B, size int) string {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), simProcessEnv+"="+strconv.Itoa(size))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("the simulator process: %v", err)
	}
	return strings.TrimSpace(url)
}

// readBench is a 20,000-host inventory on SQLite ("prod", synced from the
// EC2 simulator) served by a real API server.
type readBench struct {
	url   string
	token string // a runner's, limited to the inventory
	admin string
	hosts []string // names of enabled hosts
	// resync re-syncs the inventory's source with a compose that differs
	// by round, so that every sync rewrites all 20,000 hosts.
	resync func(round int)
}

// newReadBench syncs the inventory from a simulator at simURL.
func newReadBench(b *testing.B, simURL string) *readBench {
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
		"regions": []any{"us-east-1", "eu-west-1"}, "endpoint_url": simURL,
		"keyed_groups": []any{map[string]any{"key": "placement.region", "prefix": "region"}},
		"compose":      map[string]any{"round": "'0'"},
	}}
	must(b, st.CreateSource(b.Context(), src))
	rb := &readBench{}
	rb.resync = func(round int) {
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
	rb.resync(0)
	value, hash := roster.NewTokenValue()
	must(b, st.CreateToken(b.Context(), &roster.Token{Name: "runner", Role: roster.RoleRunner, Inventories: []string{inv.ID}}, hash))
	rb.token = value.Reveal()
	value, hash = roster.NewTokenValue()
	must(b, st.CreateToken(b.Context(), &roster.Token{Name: "admin", Role: roster.RoleAdmin}, hash))
	rb.admin = value.Reveal()
	apiSrv := api.NewServer(api.Config{Store: st, Engine: engine, Log: log, DocumentDir: b.TempDir()})
	b.Cleanup(func() { apiSrv.Close() })
	h, err := apiSrv.Handler()
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	rb.url = srv.URL
	enabled := true
	for f := (roster.HostFilter{InventoryID: inv.ID, Enabled: &enabled, Limit: 1000}); ; {
		hosts, next, err := st.Hosts(b.Context(), f)
		if err != nil {
			b.Fatal(err)
		}
		for _, h := range hosts {
			rb.hosts = append(rb.hosts, h.Name)
		}
		if next == "" {
			break
		}
		f.After = next
	}
	if len(rb.hosts) == 0 {
		b.Fatal("no hosts")
	}
	return rb
}

// asAdmin, in a context, makes get use the admin's token: an unlimited
// token, whose reads look up no grants.
type asAdmin struct{}

// get asks for path with the runner's token.
func (rb *readBench) get(ctx context.Context, client *http.Client, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", rb.url+path, nil)
	if err != nil {
		return nil, err
	}
	token := rb.token
	if ctx.Value(asAdmin{}) != nil {
		token = rb.admin
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return client.Do(req)
}

// BenchmarkReadLatency measures API reads of a 20,000-host inventory
// (a page of hosts filtered by group, and one host's vars as
// `roster-inventory --host` asks for them): with nothing else running
// (the baseline), and while a source of the same inventory re-syncs in a
// loop, each sync rewriting all 20,000 hosts. It reports the p50 and p99
// latency of 400 reads.
func BenchmarkReadLatency(b *testing.B) {
	sim := httptest.NewServer(awssim.New(awssim.Options{Seed: 9, Size: 20000, Regions: []string{"us-east-1", "eu-west-1"}}))
	b.Cleanup(sim.Close)
	rb := newReadBench(b, sim.URL)

	ctx := context.Background()
	read := func(i int) time.Duration {
		path := "/api/v1/inventories/prod/hosts?group=region_eu_west_1&limit=100"
		if i%2 == 1 {
			path = "/api/v1/inventories/prod/ansible?host=" + rb.hosts[i%len(rb.hosts)]
		}
		start := time.Now()
		resp, err := rb.get(ctx, http.DefaultClient, path)
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
	// The runner's reads find what it may see (a grants query); the
	// admin's, unlimited, do not: the cost of reads following grants.
	b.Run("idle-as-admin", func(b *testing.B) {
		ctx = context.WithValue(context.Background(), asAdmin{}, true)
		defer func() { ctx = context.Background() }()
		measure(b)
	})
	b.Run("during-syncs", func(b *testing.B) {
		var stop atomic.Bool
		var wg sync.WaitGroup
		var rounds atomic.Int64
		wg.Go(func() {
			for round := 1; !stop.Load(); round++ {
				rb.resync(round)
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

var isolationFor = flag.Duration("read-isolation-for", 20*time.Second, "how long each phase of BenchmarkReadIsolation lasts")

// BenchmarkReadIsolation is a crowd of clients reading a 20,000-host
// inventory (SQLite) for -read-isolation-for: 180 clients ask for one
// host's vars (as `roster-inventory --host` does), each pausing 0-1 s
// between reads, first alone (the baseline) and then among 20 clients
// that fetch the whole Ansible document (39 MB) back to back, 5 of them
// reading it slowly (4 MiB/s, as over a thin link), while the inventory's
// source re-syncs in a loop (every sync rewriting all 20,000 hosts). A
// poller asks /readyz every 100 ms throughout. Clients arrive at random
// within the first second. The EC2 simulator and the clients run in
// processes of their own.
//
// It reports single-host latency (p50, p99 of the answered reads), whole
// documents served, the 429s by class, every other failure (any other
// status, transport errors, truncated documents) and the /readyz answers
// that were not 200. Two more phases run the documents and the syncs of
// the mix each alone.
func BenchmarkReadIsolation(b *testing.B) {
	rb := newReadBench(b, simulatorProcess(b, 20000))
	b.Run("baseline", func(b *testing.B) {
		for b.Loop() {
			rb.crowd(b, crowd{hostClients: 180})
		}
	})
	b.Run("mixed", func(b *testing.B) {
		for b.Loop() {
			rb.crowd(b, crowd{hostClients: 180, docClients: 15, slowClients: 5, syncing: true})
		}
	})
	// Each load of the mix alone, to tell where its cost comes from.
	b.Run("documents-only", func(b *testing.B) {
		for b.Loop() {
			rb.crowd(b, crowd{hostClients: 180, docClients: 15, slowClients: 5})
		}
	})
	b.Run("sync-only", func(b *testing.B) {
		for b.Loop() {
			rb.crowd(b, crowd{hostClients: 180, syncing: true})
		}
	})
}

// crowd is the make-up of one phase of BenchmarkReadIsolation.
type crowd struct {
	hostClients, docClients, slowClients int
	syncing                              bool
}

// crowdSpec is what a crowd process needs to run a phase's clients.
type crowdSpec struct {
	URL, Token, HostsFile                string
	HostClients, DocClients, SlowClients int
	For                                  time.Duration
}

// crowdTally is what the clients of one phase saw.
type crowdTally struct {
	mu        sync.Mutex
	HostLatUS []int64        // answered single-host reads, microseconds
	Docs      int            // whole documents read to their end
	DocBytes  int64          //
	Throttled map[string]int // class → 429s
	Failures  map[string]int // "class: what" → count
	Readyz    map[string]int // status (or error) → count
}

func (t *crowdTally) fail(class, what string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if what == "429" {
		t.Throttled[class]++
		return
	}
	t.Failures[class+": "+what]++
}

// crowd runs one phase: the clients in a process of their own, as Ansible
// runs are (their reading and their garbage are not the server's), and
// the syncs here, beside the server.
func (rb *readBench) crowd(b *testing.B, c crowd) {
	hosts := filepath.Join(b.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte(strings.Join(rb.hosts, "\n")), 0o600); err != nil {
		b.Fatal(err)
	}
	spec, _ := json.Marshal(crowdSpec{URL: rb.url, Token: rb.token, HostsFile: hosts, HostClients: c.hostClients,
		DocClients: c.docClients, SlowClients: c.slowClients, For: *isolationFor})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crowdProcessEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	var out bytes.Buffer
	cmd.Stdout = &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	syncs := 0
	if c.syncing {
		for round := 1; time.Since(start) < *isolationFor; round++ {
			rb.resync(round)
			syncs++
		}
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("the crowd process: %v", err)
	}
	elapsed := *isolationFor
	var t crowdTally
	if err := json.Unmarshal(out.Bytes(), &t); err != nil {
		b.Fatalf("the crowd process's tally: %v\n%s", err, out.Bytes())
	}

	if len(t.HostLatUS) == 0 {
		b.Fatalf("no single-host read was answered; failures: %v", t.Failures)
	}
	slices.Sort(t.HostLatUS)
	ms := func(us int64) float64 { return float64(us) / 1000 }
	b.ReportMetric(ms(t.HostLatUS[len(t.HostLatUS)/2]), "host-p50-ms")
	b.ReportMetric(ms(t.HostLatUS[len(t.HostLatUS)*99/100]), "host-p99-ms")
	b.ReportMetric(float64(len(t.HostLatUS))/elapsed.Seconds(), "host-reads/s")
	b.ReportMetric(float64(t.Throttled["host"]), "host-429s")
	if c.docClients+c.slowClients > 0 {
		b.ReportMetric(float64(t.Docs)/elapsed.Seconds(), "docs/s")
		b.ReportMetric(float64(t.DocBytes)/elapsed.Seconds()/(1<<20), "doc-MiB/s")
		b.ReportMetric(float64(t.Throttled["document"]), "doc-429s")
	}
	failures := 0
	for what, n := range t.Failures {
		failures += n
		b.Logf("%d× %s", n, what)
	}
	b.ReportMetric(float64(failures), "failures")
	notReady := 0
	for st, n := range t.Readyz {
		if st != "200" {
			notReady += n
			b.Logf("/readyz answered %s %d times", st, n)
		}
	}
	b.ReportMetric(float64(notReady), "readyz-not-200")
	if c.syncing {
		b.ReportMetric(float64(syncs), "syncs")
	}
	b.ReportMetric(0, "ns/op")
}

// crowdProcessEnv, set to a crowdSpec in JSON, makes this test binary run
// a crowd's clients and print their tally instead of running tests.
const crowdProcessEnv = "ROSTER_BENCH_CROWD"

// runCrowd runs the clients of spec for spec.For and prints their tally.
func runCrowd(specJSON string) int {
	var spec crowdSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	b, err := os.ReadFile(spec.HostsFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	hosts := strings.Split(string(b), "\n")
	ctx, cancel := context.WithTimeout(context.Background(), spec.For)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxIdleConns: 512}}
	defer client.CloseIdleConnections()
	get := func(ctx context.Context, path string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", spec.URL+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+spec.Token)
		return client.Do(req)
	}
	t := &crowdTally{Throttled: map[string]int{}, Failures: map[string]int{}, Readyz: map[string]int{}}
	// status reads a response; "" when it is a 200 (whose body is
	// consumed by read), else the failure to count.
	status := func(resp *http.Response, err error, read func(io.Reader) (int64, error)) (int64, string) {
		if err != nil {
			if ctx.Err() != nil {
				return 0, "" // the phase ended mid-request: not a failure
			}
			return 0, "transport: " + err.Error()
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			io.Copy(io.Discard, resp.Body)
			return 0, strconv.Itoa(resp.StatusCode)
		}
		n, err := read(resp.Body)
		if err != nil && ctx.Err() == nil {
			return n, "body: " + err.Error()
		}
		return n, ""
	}
	// Clients start at random within the first second, as they would
	// arrive, not all in the same instant.
	arrive := func() { sleepCtx(ctx, time.Duration(rand.Int64N(int64(time.Second)))) }
	var wg sync.WaitGroup
	for range spec.HostClients {
		wg.Go(func() {
			for arrive(); ctx.Err() == nil; {
				path := "/api/v1/inventories/prod/ansible?host=" + hosts[rand.IntN(len(hosts))]
				start := time.Now()
				resp, err := get(ctx, path)
				_, fail := status(resp, err, func(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) })
				lat := time.Since(start)
				switch {
				case ctx.Err() != nil:
				case fail != "":
					t.fail("host", fail)
				default:
					t.mu.Lock()
					t.HostLatUS = append(t.HostLatUS, lat.Microseconds())
					t.mu.Unlock()
				}
				sleepCtx(ctx, time.Duration(rand.Int64N(int64(time.Second))))
			}
		})
	}
	for i := range spec.DocClients + spec.SlowClients {
		slow := i >= spec.DocClients
		wg.Go(func() {
			for arrive(); ctx.Err() == nil; {
				resp, err := get(ctx, "/api/v1/inventories/prod/ansible")
				n, fail := status(resp, err, func(r io.Reader) (int64, error) { return readDocument(ctx, r, slow) })
				switch {
				case ctx.Err() != nil:
				case fail != "":
					t.fail("document", fail)
					sleepCtx(ctx, 100*time.Millisecond) // a 429 is retried, not hammered
				default:
					t.mu.Lock()
					t.Docs++
					t.DocBytes += n
					t.mu.Unlock()
				}
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			req, _ := http.NewRequestWithContext(rctx, "GET", spec.URL+"/readyz", nil)
			resp, err := client.Do(req)
			cancel()
			switch {
			case ctx.Err() != nil:
			case err != nil:
				t.Readyz["error"]++ // the poller is the only writer of Readyz
			default:
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				t.Readyz[strconv.Itoa(resp.StatusCode)]++
			}
			sleepCtx(ctx, 100*time.Millisecond)
		}
	})
	wg.Wait()
	if err := json.NewEncoder(os.Stdout).Encode(t); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// readDocument reads a whole Ansible document, slowly (4 MiB/s) when slow,
// and checks that it is complete.
func readDocument(ctx context.Context, r io.Reader, slow bool) (int64, error) {
	buf := make([]byte, 64<<10)
	var n int64
	var tail []byte
	for {
		m, err := r.Read(buf)
		n += int64(m)
		tail = append(tail, buf[:m]...)
		tail = tail[max(0, len(tail)-2):]
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
		if slow {
			sleepCtx(ctx, time.Second*time.Duration(m)/(4<<20))
		}
	}
	if string(tail) != "}\n" {
		return n, fmt.Errorf("truncated document (%d bytes)", n)
	}
	return n, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
