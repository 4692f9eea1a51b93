package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// scheduleEvery is how often the cluster test's leader looks for due ticks.
const scheduleEvery = time.Second

// clusterNode is one `roster serve` process of the cluster test.
type clusterNode struct {
	name string
	cmd  *exec.Cmd
	url  string
	log  string
	done chan error
}

func (n *clusterNode) id(host string) string { return fmt.Sprintf("%s-%d", host, n.cmd.Process.Pid) }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startNode starts `roster serve` on dsn; args are more flags (a flag
// given twice takes its last value).
func startNode(t *testing.T, bin, name, dsn string, env []string, args ...string) *clusterNode {
	t.Helper()
	return startNodeAt(t, bin, name, dsn, freeAddr(t), env, args...)
}

// startNodeAt is startNode listening on addr.
func startNodeAt(t *testing.T, bin, name, dsn, addr string, env []string, args ...string) *clusterNode {
	t.Helper()
	dir := t.TempDir()
	n := &clusterNode{name: name, url: "http://" + addr, log: filepath.Join(dir, "roster.log"), done: make(chan error, 1)}
	logf, err := os.Create(n.log)
	if err != nil {
		t.Fatal(err)
	}
	n.cmd = exec.Command(bin, "serve", "--database", dsn, "--listen", addr, "--data-dir", dir,
		"--schedule-every", scheduleEvery.String(), "--sync-timeout", "5s", "--sync-timeout-max", "5s", "--sync-concurrency", "4",
		"--log-format", "text", "--log-level", "info")
	n.cmd.Args = append(n.cmd.Args, args...)
	n.cmd.Env = append(os.Environ(), env...)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.done <- n.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(20 * time.Second):
			n.cmd.Process.Kill()
		}
		if t.Failed() {
			b, _ := os.ReadFile(n.log)
			t.Logf("%s log (last 4 KiB):\n%s", name, tail(string(b), 4096))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(n.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n
			}
		}
		select {
		case err := <-n.done:
			b, _ := os.ReadFile(n.log)
			t.Fatalf("%s exited: %v\n%s", name, err, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// adminToken creates an admin token with the roster binary bin, on the
// database its flags name (--database or --data-dir), and returns it.
func adminToken(t *testing.T, bin string, database ...string) roster.Secret {
	t.Helper()
	out, err := exec.Command(bin, append([]string{"token", "create", "--name", "admin", "--role", "admin"}, database...)...).Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	return roster.Secret(strings.TrimSpace(string(out)))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// cluster is a PostgreSQL database served by several `roster serve`
// processes, with sources syncing every 5 seconds from the EC2 simulator.
type cluster struct {
	nodes   []*clusterNode
	pool    *pgxpool.Pool
	token   roster.Secret
	sources []string // ids
}

func newCluster(t *testing.T, nodeCount, sourceCount int) *cluster {
	t.Helper()
	pg := testenv.Postgres(t)
	dsn := pg.CreateDatabase(t)
	sim := awssim.New(awssim.Options{Seed: 41, Size: 20, Regions: []string{"us-east-1"},
		// Syncs take a while, so that a kill finds some running.
		Faults: awssim.Faults{Latency: 400 * time.Millisecond, Ops: []string{"DescribeInstances"}}})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	key := make([]byte, 32)
	env := []string{"ROSTER_SECRET_KEY=" + base64.StdEncoding.EncodeToString(key),
		"AWS_ACCESS_KEY_ID=" + simAccessKey, "AWS_SECRET_ACCESS_KEY=" + simSecretKey}

	c := &cluster{}
	for i := range nodeCount {
		c.nodes = append(c.nodes, startNode(t, bin, fmt.Sprintf("node%d", i+1), dsn, env, "--sync-lease", "5s"))
	}
	c.token = adminToken(t, bin, "--database", dsn)
	var err error
	if c.pool, err = pgxpool.New(t.Context(), dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.pool.Close)

	// Any node serves writes: the sources are made through all of them.
	for i := range sourceCount {
		api := client.New(c.nodes[i%nodeCount].url, c.token)
		inv := fmt.Sprintf("inv-%02d", i)
		must(t, api.Do(t.Context(), "POST", "/inventories", map[string]any{"name": inv}, nil))
		var src struct{ ID string }
		must(t, api.Do(t.Context(), "POST", "/inventories/"+inv+"/sources", map[string]any{
			"name": "ec2", "provider": "aws", "schedule": "5s", "schedule_jitter": "0s",
			"config": map[string]any{"regions": []string{"us-east-1"}, "endpoint_url": simSrv.URL},
		}, &src))
		c.sources = append(c.sources, src.ID)
	}
	return c
}

// leader is the node River has elected, or nil between two leaders.
func (c *cluster) leader(t *testing.T) *clusterNode {
	t.Helper()
	var id string
	if err := c.pool.QueryRow(t.Context(), `SELECT leader_id FROM river_leader`).Scan(&id); errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	for _, n := range c.nodes {
		if n.id(host) == id {
			return n
		}
	}
	return nil
}

// stopSchedules removes every source's schedule and waits until no run or
// sync job is pending.
func (c *cluster) stopSchedules(t *testing.T, via *clusterNode) time.Time {
	t.Helper()
	api := client.New(via.url, c.token)
	for _, id := range c.sources {
		must(t, api.Do(t.Context(), "PATCH", "/sources/"+id, map[string]any{"schedule": ""}, nil))
	}
	stopped := time.Now()
	waitQuiet(t, c.pool)
	return stopped
}

// checkNoOverlapNoDouble fails the test if two runs of a source overlapped,
// a tick ran twice, or a run had two sync jobs.
func (c *cluster) checkNoOverlapNoDouble(t *testing.T) {
	t.Helper()
	var overlaps int
	must(t, c.pool.QueryRow(t.Context(), `SELECT count(*) FROM sync_runs a JOIN sync_runs b
		ON a.source_id = b.source_id AND a.id < b.id
		WHERE a.started_at < COALESCE(b.finished_at, 'infinity') AND b.started_at < COALESCE(a.finished_at, 'infinity')`).Scan(&overlaps))
	if overlaps != 0 {
		t.Errorf("%d pairs of runs of one source overlapped", overlaps)
	}
	// No tick ran twice: one run per tick (the store's unique index; this
	// checks nothing got around it), and no run was queued as two sync
	// jobs (by two nodes' ticks, or a rescue and a requeue).
	var doubled, twoJobs int
	must(t, c.pool.QueryRow(t.Context(), `SELECT count(*) FROM (SELECT source_id, scheduled_for FROM sync_runs
		WHERE scheduled_for IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) d`).Scan(&doubled))
	must(t, c.pool.QueryRow(t.Context(), `SELECT count(*) FROM (SELECT args->>'run_id' FROM river_job
		WHERE kind = 'roster.sync' GROUP BY 1 HAVING count(*) > 1) d`).Scan(&twoJobs))
	if doubled != 0 || twoJobs != 0 {
		t.Errorf("%d ticks ran more than once; %d runs had more than one sync job", doubled, twoJobs)
	}
	var unfinished int
	must(t, c.pool.QueryRow(t.Context(), `SELECT count(*) FROM sync_runs WHERE status IN ('queued', 'running')`).Scan(&unfinished))
	if unfinished != 0 {
		t.Errorf("%d runs never finished", unfinished)
	}
}

// TestClusterOnPostgres runs three `roster serve` processes on one
// PostgreSQL database, with 50 sources syncing every 5 seconds from the
// EC2 simulator, and kills one node with SIGKILL in the middle of a sync.
// No source may ever sync twice at once, no schedule tick may run twice,
// every source keeps syncing on schedule, and the killed node's sync is
// retried by the others.
func TestClusterOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and three Roster processes")
	}
	c := newCluster(t, 3, 50)
	nodes, pool, sourceIDs := c.nodes, c.pool, c.sources
	start := time.Now()

	// Let the schedules run, then kill a node that is running a sync. The
	// victim is not River's leader: the leader runs the scheduler tick,
	// and while a new one is elected (up to about 20 s: River's leader
	// lease, then the next election) ticks run late, and ticks missed
	// meanwhile are coalesced into one
	// (README: "Schedules"), which this test would count as missed. The
	// leader can change until the kill; whoever leads then is spared.
	time.Sleep(12 * time.Second)
	host, _ := os.Hostname()
	var victim *clusterNode
	var cutRuns []string
	deadline := time.Now().Add(30 * time.Second)
	for victim == nil {
		leader := c.leader(t)
		for _, n := range nodes {
			if leader == nil {
				break // between two leaders: look again
			}
			if n == leader {
				continue
			}
			// Runs the node is in the middle of: running runs whose
			// job the node is working, started less than 100 ms ago
			// (a sync takes at least the simulator's 400 ms), so that
			// they are still running when the kill lands.
			rows, err := pool.Query(t.Context(), `SELECT r.id FROM sync_runs r JOIN river_job j ON j.args->>'run_id' = r.id
				WHERE r.status = 'running' AND r.started_at > now() - interval '100 milliseconds'
				AND j.kind = 'roster.sync' AND j.state = 'running'
				AND j.attempted_by[array_length(j.attempted_by, 1)] = $1`, n.id(host))
			must(t, err)
			var ids []string
			for rows.Next() {
				var id string
				must(t, rows.Scan(&id))
				ids = append(ids, id)
			}
			rows.Close()
			if len(ids) > 0 {
				victim, cutRuns = n, ids
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no node but the leader was ever seen running a sync")
		}
		time.Sleep(20 * time.Millisecond)
	}
	must(t, victim.cmd.Process.Signal(syscall.SIGKILL))
	<-victim.done
	killedAt := time.Now()
	if c.leader(t) == victim {
		t.Fatal("the victim became leader just before the kill; this test spares the leader")
	}
	// What the dead node held, frozen until River rescues its jobs: runs
	// it was in the middle of (cut off), and runs whose job it had taken
	// but not yet started (their sources are busy until the rescue too).
	// A run seen above may have ended before the kill.
	rows, err := pool.Query(t.Context(), `SELECT r.id, r.source_id, r.status FROM river_job j JOIN sync_runs r ON j.args->>'run_id' = r.id
		WHERE j.kind = 'roster.sync' AND j.state = 'running' AND j.attempted_by[array_length(j.attempted_by, 1)] = $1
		AND r.status IN ('queued', 'running')`, victim.id(host))
	must(t, err)
	cutRuns = nil
	held := map[string]bool{} // sources
	for rows.Next() {
		var id, src, status string
		must(t, rows.Scan(&id, &src, &status))
		held[src] = true
		if status == "running" {
			cutRuns = append(cutRuns, id)
		}
	}
	rows.Close()
	must(t, rows.Err())
	if len(cutRuns) == 0 {
		t.Fatal("every run of the victim ended before the kill: nothing was cut off")
	}
	t.Logf("killed %s (pid %d) while it ran %d syncs and held %d sources, %s after the sources were made",
		victim.name, victim.cmd.Process.Pid, len(cutRuns), len(held), killedAt.Sub(start).Round(time.Second))

	// The survivors carry on: the killed node's runs are failed when
	// their lease (5 s) ends, and retried; its River jobs are rescued once
	// the longest run and the time to record it have passed (5 s + 10 s +
	// two 5 s margins), when River's rescuer next looks (every 30 s):
	// 25-55 s. Schedules stop after 30 s; waitQuiet waits for the rescue.
	time.Sleep(30 * time.Second)
	stoppedAt := c.stopSchedules(t, nodes[0])
	// No source synced twice at once, no tick ran twice, every run ended.
	c.checkNoOverlapNoDouble(t)
	// Every tick of every source ran: consecutive scheduled runs of a
	// source are one interval apart, except where the source was still
	// syncing at a tick (a source never syncs twice at once: that tick is
	// skipped). That covers a run cut off by the kill, whose source is
	// busy until its job is rescued, and a sync that overran its
	// interval. The scheduler looks every second (--schedule-every); a run
	// created up to three looks after a tick counts as active at it.
	rows, err = pool.Query(t.Context(), `SELECT source_id, scheduled_for,
		lag(scheduled_for) OVER (PARTITION BY source_id ORDER BY scheduled_for)
		FROM sync_runs WHERE scheduled_for IS NOT NULL ORDER BY 1, 2`)
	must(t, err)
	type gap struct {
		src        string
		prev, tick time.Time
	}
	var gaps []gap
	ticks := map[string]int{}
	for rows.Next() {
		var g gap
		var prev *time.Time
		must(t, rows.Scan(&g.src, &g.tick, &prev))
		ticks[g.src]++
		if prev != nil && g.tick.Sub(*prev) != 5*time.Second {
			g.prev = *prev
			gaps = append(gaps, g)
		}
	}
	rows.Close()
	must(t, rows.Err())
	for _, g := range gaps {
		for m := g.prev.Add(5 * time.Second); m.Before(g.tick); m = m.Add(5 * time.Second) {
			var busy bool
			must(t, pool.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM sync_runs WHERE source_id = $1
				AND created_at <= $2::timestamptz + $3::interval AND COALESCE(finished_at, 'infinity') >= $2)`,
				g.src, m, 3*scheduleEvery).Scan(&busy))
			if !busy {
				t.Errorf("source %s: tick %s was missed (ticks %s then %s, and no run in between)",
					g.src, m.Format(time.RFC3339), g.prev.Format(time.RFC3339), g.tick.Format(time.RFC3339))
			}
		}
	}
	// Sources the dead node held wait for its lease to end; the others
	// keep their schedule.
	minTicks := int(stoppedAt.Sub(start)/(5*time.Second)) - 2
	for _, id := range sourceIDs {
		if !held[id] && ticks[id] < minTicks {
			t.Errorf("source %s ran %d scheduled syncs in %s, want at least %d", id, ticks[id], stoppedAt.Sub(start).Round(time.Second), minTicks)
		}
	}
	// The runs cut off by the kill were recorded as such, and every
	// source the dead node held synced again elsewhere.
	for _, id := range cutRuns {
		var status, msg string
		must(t, pool.QueryRow(t.Context(), `SELECT status, error FROM sync_runs WHERE id = $1`, id).Scan(&status, &msg))
		if status != "failed" || !strings.Contains(msg, "stopped during the run") {
			t.Errorf("cut-off run %s: %s %q, want failed for the stopped process", id, status, msg)
		}
	}
	for src := range held {
		var after int
		must(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM sync_runs WHERE source_id = $1 AND status = 'succeeded' AND started_at > $2`,
			src, killedAt).Scan(&after))
		if after == 0 {
			t.Errorf("source %s: no successful sync after the node holding it was killed", src)
		}
	}
	// The work was shared: each surviving node ran syncs.
	for _, n := range nodes {
		if n == victim {
			continue
		}
		var worked int
		must(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM river_job WHERE kind = 'roster.sync' AND $1 = ANY(attempted_by)`, n.id(host)).Scan(&worked))
		if worked == 0 {
			t.Errorf("%s ran no sync", n.name)
		}
	}
	var total int
	must(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM sync_runs`).Scan(&total))
	t.Logf("%d runs in %s; %d sources held by the killed node", total, stoppedAt.Sub(start).Round(time.Second), len(held))
}

// waitQuiet waits until no run or sync job is pending.
func waitQuiet(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	for {
		var runs, jobs int
		err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM sync_runs WHERE status IN ('queued', 'running')),
			(SELECT count(*) FROM river_job WHERE kind = 'roster.sync' AND state IN ('available', 'running', 'retryable', 'scheduled'))`).Scan(&runs, &jobs)
		if err == nil && runs == 0 && jobs == 0 {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("still %d unfinished runs and %d pending sync jobs", runs, jobs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestClusterLeaderFailover kills the node River elected leader, the one
// whose periodic job ticks the schedules: another node takes over, and the
// schedules go on from it after at most the failover (River's lease, then
// the next election), each tick still run once.
func TestClusterLeaderFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and two Roster processes")
	}
	c := newCluster(t, 2, 10)
	time.Sleep(8 * time.Second) // a few ticks under the first leader
	leader := c.leader(t)
	for deadline := time.Now().Add(30 * time.Second); leader == nil; leader = c.leader(t) {
		if time.Now().After(deadline) {
			t.Fatal("no leader was elected")
		}
		time.Sleep(100 * time.Millisecond)
	}
	must(t, leader.cmd.Process.Signal(syscall.SIGKILL))
	<-leader.done
	killedAt := time.Now()
	var survivor *clusterNode
	for _, n := range c.nodes {
		if n != leader {
			survivor = n
		}
	}
	t.Logf("killed the leader %s (pid %d)", leader.name, leader.cmd.Process.Pid)

	// Within the failover (about 20 s) and two more intervals, every
	// source the dead leader did not hold has a scheduled run again.
	const failover = 25 * time.Second
	time.Sleep(failover + 10*time.Second)
	if l := c.leader(t); l != survivor {
		t.Fatalf("leader after the kill: %v, want %s", l, survivor.name)
	}
	var resumed int
	must(t, c.pool.QueryRow(t.Context(), `SELECT count(DISTINCT source_id) FROM sync_runs
		WHERE scheduled_for > $1 AND created_at < $2`, killedAt, killedAt.Add(failover+5*time.Second)).Scan(&resumed))
	// A source whose job the dead node held waits for River's rescue
	// (25-55 s with a 5 s longest run) before it can tick again.
	var held int
	must(t, c.pool.QueryRow(t.Context(), `SELECT count(DISTINCT r.source_id) FROM river_job j JOIN sync_runs r ON j.args->>'run_id' = r.id
		WHERE j.kind = 'roster.sync' AND $1 = ANY(j.attempted_by) AND r.created_at < $2 AND COALESCE(r.finished_at, 'infinity') > $2`,
		leader.id(mustHostname(t)), killedAt).Scan(&held))
	if resumed < len(c.sources)-held {
		t.Errorf("%d of %d sources ticked again within %s of the leader's death (%d were held by it)", resumed, len(c.sources), failover+5*time.Second, held)
	}
	// The ticks that fell in the failover ran late, once each.
	c.stopSchedules(t, survivor)
	c.checkNoOverlapNoDouble(t)
	rows, err := c.pool.Query(t.Context(), `SELECT source_id, scheduled_for, created_at FROM sync_runs
		WHERE trigger = 'schedule' AND scheduled_for BETWEEN $1 AND $2 ORDER BY 1, 2`, killedAt, killedAt.Add(failover))
	must(t, err)
	late := 0
	for rows.Next() {
		var src string
		var tick, created time.Time
		must(t, rows.Scan(&src, &tick, &created))
		if created.Sub(tick) > 2*time.Second {
			late++
		}
	}
	rows.Close()
	must(t, rows.Err())
	t.Logf("%d scheduled runs queued late during the failover; %d sources ticked again, %d held by the dead leader", late, resumed, held)
}

func mustHostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}
