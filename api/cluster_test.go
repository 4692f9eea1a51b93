package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

func TestSourceScheduleFields(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	before := time.Now()
	r := f.do("POST", "/api/v1/inventories/prod/sources", f.admin, map[string]any{"name": "ec2", "provider": "aws", "config": f.awsConfig(nil),
		"schedule": "15m", "schedule_jitter": "30s", "timeout": "10m", "update_cache_timeout": 60})
	wantStatus(t, r, http.StatusCreated)
	var src api.Source
	r.json(t, &src)
	if deref(src.Schedule) != "15m" || deref(src.ScheduleJitter) != "30s" || deref(src.Timeout) != "10m0s" || src.UpdateCacheTimeout == nil || *src.UpdateCacheTimeout != 60 {
		t.Fatalf("source = %+v", src)
	}
	if src.NextSyncAt == nil || src.NextSyncAt.Before(before) || src.NextSyncAt.After(before.Add(15*time.Minute+30*time.Second)) {
		t.Fatalf("next_sync_at = %v, want within the first interval plus jitter", src.NextSyncAt)
	}

	// Bad values name their fields and change nothing.
	r = f.do("PATCH", "/api/v1/sources/"+src.Id, f.admin, map[string]any{"schedule": "often", "schedule_jitter": "soon", "timeout": "-1m"})
	wantStatus(t, r, http.StatusBadRequest)
	for _, field := range []string{"schedule", "schedule_jitter", "timeout"} {
		if !slices.Contains(r.fields(), field) {
			t.Errorf("errors %v do not name %s", r.fields(), field)
		}
	}
	var got api.Source
	f.do("GET", "/api/v1/sources/"+src.Id, f.admin, nil).json(t, &got)
	if deref(got.Schedule) != "15m" || !got.NextSyncAt.Equal(*src.NextSyncAt) {
		t.Fatalf("a refused update changed the source: %+v", got)
	}
	wantStatus(t, f.do("POST", "/api/v1/inventories/prod/sources", f.admin, map[string]any{"name": "x", "provider": "aws",
		"config": f.awsConfig(nil), "schedule": "1s"}), http.StatusBadRequest)
	// A jitter as long as the period would shuffle ticks: refused, also
	// when it is the schedule that shrinks under the jitter.
	for _, body := range []map[string]any{{"schedule_jitter": "15m"}, {"schedule": "30s"}} {
		r = f.do("PATCH", "/api/v1/sources/"+src.Id, f.admin, body)
		wantStatus(t, r, http.StatusBadRequest)
		if !slices.Contains(r.fields(), "schedule_jitter") {
			t.Errorf("PATCH %v: errors %v do not name schedule_jitter", body, r.fields())
		}
	}
	// A source saved with such a jitter before it was checked can still
	// be edited otherwise.
	long := 20 * time.Minute
	_, err := f.store.UpdateSource(t.Context(), src.Id, roster.SourceUpdate{ScheduleJitter: &long})
	must(t, err)
	wantStatus(t, f.do("PATCH", "/api/v1/sources/"+src.Id, f.admin, map[string]any{"timeout": "5m"}), http.StatusOK)
	wantStatus(t, f.do("PATCH", "/api/v1/sources/"+src.Id, f.admin, map[string]any{"schedule": "15m", "timeout": "6m"}), http.StatusOK)
	wantStatus(t, f.do("PATCH", "/api/v1/sources/"+src.Id, f.admin, map[string]any{"schedule_jitter": "30s"}), http.StatusOK)
	r = f.do("PATCH", "/api/v1/sources/"+src.Id, f.admin, map[string]any{"update_cache_timeout": -5})
	wantStatus(t, r, http.StatusBadRequest)
	if !slices.Contains(r.fields(), "update_cache_timeout") {
		t.Errorf("errors %v do not name update_cache_timeout", r.fields())
	}

	// A cron schedule; then none.
	r = f.do("PATCH", "/api/v1/sources/"+src.Id, f.admin, map[string]any{"schedule": "0 3 * * *", "schedule_jitter": "", "timeout": ""})
	wantStatus(t, r, http.StatusOK)
	got = api.Source{}
	r.json(t, &got)
	if got.NextSyncAt == nil || got.NextSyncAt.UTC().Hour() != 3 || got.ScheduleJitter != nil {
		t.Fatalf("after a cron schedule: %+v", got)
	}
	if got.Timeout != nil {
		t.Fatalf("timeout %q after resetting it", *got.Timeout)
	}
	r = f.do("PATCH", "/api/v1/sources/"+src.Id, f.admin, map[string]any{"schedule": ""})
	wantStatus(t, r, http.StatusOK)
	got = api.Source{}
	r.json(t, &got)
	if got.Schedule != nil || got.NextSyncAt != nil {
		t.Fatalf("after removing the schedule: %+v", got)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// runs lists a source's runs, newest first.
func (f *fixture) runs(srcID string) []api.SyncRun {
	f.t.Helper()
	var list api.SyncRunList
	r := f.do("GET", "/api/v1/sources/"+srcID+"/syncs", f.admin, nil)
	wantStatus(f.t, r, http.StatusOK)
	r.json(f.t, &list)
	return list.Items
}

// waitFor polls cond until it holds or 30s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestProvisioningCallback(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	src := f.source("prod", "ec2", f.awsConfig(nil))
	operator := f.token("operator", roster.RoleOperator)
	runner := f.scopedToken(&roster.Token{Name: "runner", Role: roster.RoleRunner, Inventories: []string{"prod"}})
	wantStatus(t, f.do("POST", "/api/v1/sources/"+src.Id+"/callback-key", runner, nil), http.StatusForbidden)

	r := f.do("POST", "/api/v1/sources/"+src.Id+"/callback-key", operator, nil)
	wantStatus(t, r, http.StatusCreated)
	var key api.CallbackKey
	r.json(t, &key)
	if !strings.HasPrefix(key.Key, roster.CallbackKeyPrefix) || key.Url != "/api/v1/callbacks/"+key.Key {
		t.Fatalf("key = %+v", key)
	}
	f.secrets = append(f.secrets, key.Key)
	var got api.Source
	f.do("GET", "/api/v1/sources/"+src.Id, f.admin, nil).json(t, &got)
	if got.HasCallbackKey == nil || !*got.HasCallbackKey {
		t.Fatal("source does not say it has a callback key")
	}

	// A booting host calls back, with no token: the source syncs.
	r = f.do("POST", key.Url, "", nil)
	wantStatus(t, r, http.StatusAccepted)
	var acc api.CallbackAccepted
	r.json(t, &acc)
	if acc.RunId == "" || acc.FollowUp || strings.Contains(string(r.body), "scopes") {
		t.Fatalf("callback answer = %s", r.body)
	}
	var run api.SyncRun
	f.do("GET", "/api/v1/syncs/"+acc.RunId, f.admin, nil).json(t, &run)
	if run.Trigger != api.SyncRunTriggerCallback {
		t.Fatalf("the callback's run has trigger %s", run.Trigger)
	}
	waitFor(t, "the callback's sync", func() bool {
		runs := f.runs(src.Id)
		return len(runs) == 1 && runs[0].Status == api.SyncRunStatusSucceeded
	})

	// Paths of odd shapes (redirected, or not found, or mistyped): none
	// logs the key.
	for _, p := range []string{"/api/v1/callbacks//", "/api/v1/callbacks/./", "/api/v1//callbacks/", "/api/v1/CALLBACKS/", "/api/v1/callback/"} {
		req, err := http.NewRequest("POST", f.url+p+key.Key, nil)
		must(t, err)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		must(t, err)
		resp.Body.Close()
	}

	// Again at once: limited per key, with Retry-After.
	r = f.do("POST", key.Url, "", nil)
	wantStatus(t, r, http.StatusTooManyRequests)
	if p := r.problem(t); p.Code != api.ProblemCodeTooManyRequests {
		t.Fatalf("code = %s", p.Code)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 10 {
		t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	if n := len(f.runs(src.Id)); n != 1 {
		t.Fatalf("a limited callback queued a sync (%d runs)", n)
	}

	// Unknown and removed keys are 404.
	wantStatus(t, f.do("POST", "/api/v1/callbacks/rcb_nope", "", nil), http.StatusNotFound)
	wantStatus(t, f.do("DELETE", "/api/v1/sources/"+src.Id+"/callback-key", operator, nil), http.StatusNoContent)
	wantStatus(t, f.do("POST", key.Url, "", nil), http.StatusNotFound)
}

func TestCallbackDuringARunningSyncQueuesAFollowUp(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	src := f.source("prod", "ec2", f.awsConfig(nil))
	r := f.do("POST", "/api/v1/sources/"+src.Id+"/callback-key", f.admin, nil)
	var key api.CallbackKey
	r.json(t, &key)
	f.secrets = append(f.secrets, key.Key)

	// A sync that takes a while is running when the host calls back: it
	// may have listed the region before the host existed.
	f.sim.SetFaults(awssim.Faults{Latency: 700 * time.Millisecond, Ops: []string{"DescribeInstances"}})
	wantStatus(t, f.do("POST", "/api/v1/sources/"+src.Id+"/syncs", f.admin, nil), http.StatusAccepted)
	waitFor(t, "the sync to run", func() bool { runs := f.runs(src.Id); return runs[0].Status == api.SyncRunStatusRunning })
	r = f.do("POST", key.Url, "", nil)
	wantStatus(t, r, http.StatusAccepted)
	var acc api.CallbackAccepted
	r.json(t, &acc)
	if !acc.FollowUp || acc.Status != api.CallbackAcceptedStatusRunning || acc.RunId != f.runs(src.Id)[0].Id {
		t.Fatalf("callback during a running sync = %+v, want the running run and a follow-up", acc)
	}
	f.sim.SetFaults(awssim.Faults{})
	waitFor(t, "the follow-up sync", func() bool {
		runs := f.runs(src.Id)
		return len(runs) == 2 && runs[0].Trigger == api.SyncRunTriggerCallback && runs[0].Status == api.SyncRunStatusSucceeded
	})
	runs := f.runs(src.Id)
	if !runs[0].StartedAt.After(*runs[1].FinishedAt) && !runs[0].StartedAt.Equal(*runs[1].FinishedAt) {
		t.Fatalf("the follow-up started at %v, before the running sync finished at %v", runs[0].StartedAt, runs[1].FinishedAt)
	}
}

func TestFreshReads(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	src := f.source("prod", "ec2", f.awsConfig(nil))
	hostsPath := "/api/v1/inventories/prod/hosts"

	// Never synced: max_age makes the read sync first and wait.
	r := f.do("GET", hostsPath+"?max_age=3600", f.admin, nil)
	wantStatus(t, r, http.StatusOK)
	var page api.HostList
	r.json(t, &page)
	if len(page.Items) == 0 || r.header.Get("Roster-Stale") != "false" {
		t.Fatalf("read with max_age on a never-synced inventory: %d hosts, stale %q", len(page.Items), r.header.Get("Roster-Stale"))
	}
	if age, err := strconv.Atoi(r.header.Get("Age")); err != nil || age > 5 {
		t.Fatalf("Age = %q", r.header.Get("Age"))
	}
	if n := len(f.runs(src.Id)); n != 1 {
		t.Fatalf("%d runs, want the one the read triggered", n)
	}
	// Fresh enough: no sync.
	wantStatus(t, f.do("GET", hostsPath+"?max_age=3600", f.admin, nil), http.StatusOK)
	if n := len(f.runs(src.Id)); n != 1 {
		t.Fatalf("a fresh read triggered a sync (%d runs)", n)
	}
	// stale=serve answers at once with the old data and says so; the sync
	// runs in the background.
	f.sim.SetFaults(awssim.Faults{Latency: 500 * time.Millisecond, Ops: []string{"DescribeInstances"}})
	r = f.do("GET", hostsPath+"?max_age=0&stale=serve", f.admin, nil)
	wantStatus(t, r, http.StatusOK)
	if r.header.Get("Roster-Stale") != "true" || r.header.Get("Age") == "" {
		t.Fatalf("stale=serve: Roster-Stale %q, Age %q", r.header.Get("Roster-Stale"), r.header.Get("Age"))
	}
	waitFor(t, "the background sync", func() bool {
		runs := f.runs(src.Id)
		return len(runs) == 2 && roster.SyncStatus(runs[0].Status).Done()
	})
	f.sim.SetFaults(awssim.Faults{})
	// An auditor changes nothing: its stale read triggers no sync, and
	// says the data is stale.
	r = f.do("GET", hostsPath+"?max_age=0", f.token("auditor", roster.RoleAuditor), nil)
	wantStatus(t, r, http.StatusOK)
	if r.header.Get("Roster-Stale") != "true" {
		t.Fatalf("auditor's stale read: Roster-Stale %q", r.header.Get("Roster-Stale"))
	}
	if n := len(f.runs(src.Id)); n != 2 {
		t.Fatalf("an auditor's read triggered a sync (%d runs, want 2)", n)
	}
	// A bad cursor is refused before anything syncs.
	wantStatus(t, f.do("GET", hostsPath+"?max_age=0&cursor=bogus", f.admin, nil), http.StatusBadRequest)
	if n := len(f.runs(src.Id)); n != 2 {
		t.Fatalf("a read with a bad cursor triggered a sync (%d runs, want 2)", n)
	}
	wantStatus(t, f.do("GET", hostsPath+"?max_age=-1", f.admin, nil), http.StatusBadRequest)
	wantStatus(t, f.do("GET", hostsPath+"?stale=later", f.admin, nil), http.StatusBadRequest)
}

func TestUpdateCacheTimeoutSyncsOnAnsibleLaunch(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	r := f.do("POST", "/api/v1/inventories/prod/sources", f.admin, map[string]any{"name": "ec2", "provider": "aws",
		"config": f.awsConfig(nil), "update_cache_timeout": 3600})
	wantStatus(t, r, http.StatusCreated)
	var src api.Source
	r.json(t, &src)
	runner := f.scopedToken(&roster.Token{Name: "runner", Role: roster.RoleRunner, Inventories: []string{"prod"}})
	// Ansible reads the inventory: the source is older than its cache
	// timeout (it never synced), so the read syncs it first.
	r = f.do("GET", "/api/v1/inventories/prod/ansible", runner, nil)
	wantStatus(t, r, http.StatusOK)
	var doc map[string]json.RawMessage
	r.json(t, &doc)
	var meta struct {
		Hostvars map[string]json.RawMessage `json:"hostvars"`
	}
	json.Unmarshal(doc["_meta"], &meta)
	if len(meta.Hostvars) == 0 || r.header.Get("Roster-Stale") != "false" {
		t.Fatalf("launch read: %d hosts, stale %q", len(meta.Hostvars), r.header.Get("Roster-Stale"))
	}
	// Within the cache timeout: no sync; other reads never sync for it.
	wantStatus(t, f.do("GET", "/api/v1/inventories/prod/ansible", runner, nil), http.StatusOK)
	wantStatus(t, f.do("GET", "/api/v1/inventories/prod/hosts", runner, nil), http.StatusOK)
	if n := len(f.runs(src.Id)); n != 1 {
		t.Fatalf("%d runs, want 1", n)
	}
}

func TestPrometheusSDLoadedByPrometheus(t *testing.T) {
	f := newFixture(t)
	// Bad mappings name their fields.
	r := f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"name": "bad", "prometheus_sd": map[string]any{"labels": map[string]string{"__x": "a", "ok": ""}}})
	wantStatus(t, r, http.StatusBadRequest)
	for _, field := range []string{"prometheus_sd.port", "prometheus_sd.labels.__x", "prometheus_sd.labels.ok"} {
		if !slices.Contains(r.fields(), field) {
			t.Errorf("errors %v do not name %s", r.fields(), field)
		}
	}
	f.inventory("plain")
	wantStatus(t, f.do("GET", "/api/v1/inventories/plain/prometheus-sd", f.admin, nil), http.StatusBadRequest)

	r = f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"name": "prod", "prometheus_sd": map[string]any{
		"address_var": "private_ip_address", "port": 9100, "labels": map[string]string{"region": "placement.region", "instance_type": "instance_type"}}})
	wantStatus(t, r, http.StatusCreated)
	src := f.source("prod", "ec2", f.awsConfig(nil))
	f.syncAndWait(src.Id)
	runner := f.scopedToken(&roster.Token{Name: "prometheus", Role: roster.RoleRunner, Inventories: []string{"prod"}})
	f.secrets = append(f.secrets, runner)

	// What Roster answers...
	r = f.do("GET", "/api/v1/inventories/prod/prometheus-sd", runner, nil)
	wantStatus(t, r, http.StatusOK)
	var groups []api.TargetGroup
	r.json(t, &groups)
	var hosts api.HostList
	f.do("GET", "/api/v1/inventories/prod/hosts?enabled=true&limit=1000", f.admin, nil).json(t, &hosts)
	if len(groups) != len(hosts.Items) || len(groups) == 0 {
		t.Fatalf("%d target groups for %d enabled hosts", len(groups), len(hosts.Items))
	}
	want := map[string]map[string]string{}
	for _, g := range groups {
		if len(g.Targets) != 1 || !strings.HasSuffix(g.Targets[0], ":9100") || g.Labels["region"] == "" || g.Labels["__meta_roster_inventory"] != "prod" {
			t.Fatalf("target group %+v", g)
		}
		want[g.Targets[0]] = g.Labels
	}

	// ...is what the real Prometheus discovers, with a runner token.
	prom := testenv.Prometheus(t, fmt.Sprintf(`
global:
  scrape_interval: 1h
scrape_configs:
  - job_name: roster
    http_sd_configs:
      - url: %s/api/v1/inventories/prod/prometheus-sd
        refresh_interval: 1s
        authorization:
          type: Bearer   # Debian's 2.42 sends no type unless given
          credentials: %s
`, f.url, runner))
	deadline := time.Now().Add(60 * time.Second)
	for {
		targets, err := prom.ActiveTargets(t.Context())
		matched := 0
		if err == nil {
			for _, tg := range targets {
				labels, ok := want[tg.DiscoveredLabels["__address__"]]
				if ok && tg.Labels["region"] == labels["region"] && tg.Labels["instance_type"] == labels["instance_type"] &&
					tg.DiscoveredLabels["__meta_roster_source"] == "ec2" {
					matched++
				}
			}
		}
		if err == nil && matched == len(want) && len(targets) == len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus lists %d targets (%d as expected, err %v), want %d\n%.3000s\nRoster's log:\n%s", len(targets), matched, err, len(want), prom.Logs(), lastLines(f.logs.String(), 5))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The mapping can be removed with an empty object.
	wantStatus(t, f.do("PATCH", "/api/v1/inventories/prod", f.admin, map[string]any{"prometheus_sd": map[string]any{}}), http.StatusOK)
	wantStatus(t, f.do("GET", "/api/v1/inventories/prod/prometheus-sd", runner, nil), http.StatusBadRequest)
}

// receiver is a webhook endpoint.
type receiver struct {
	mu     sync.Mutex
	bodies []map[string]any
	fails  int // answer 503 to this many requests first
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.fails > 0 {
		rc.fails--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	rc.bodies = append(rc.bodies, m)
}

func (rc *receiver) events() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, b := range rc.bodies {
		out = append(out, fmt.Sprint(b["event"]))
	}
	slices.Sort(out)
	return out
}

func TestWebhooksNotifySyncEvents(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	src := f.source("prod", "ec2", f.awsConfig(nil))
	rc := &receiver{fails: 1}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	const secretPath = "/hooks/T000/B000/s3cr3tpathpart"
	f.secrets = append(f.secrets, "s3cr3tpathpart")
	body := map[string]any{"name": "ops", "inventory": "prod", "events": []string{"sync.succeeded", "hosts.changed"}, "url": srv.URL + secretPath}

	operator := f.token("operator", roster.RoleOperator)
	wantStatus(t, f.do("POST", "/api/v1/webhooks", operator, body), http.StatusForbidden)
	bad := map[string]any{"name": "bad", "inventory": "prod", "events": []string{"sync.succeeded"}, "url": "ftp://example.com/x"}
	r := f.do("POST", "/api/v1/webhooks", f.admin, bad)
	wantStatus(t, r, http.StatusBadRequest)
	if !slices.Contains(r.fields(), "url") {
		t.Fatalf("errors %v do not name url", r.fields())
	}
	r = f.do("POST", "/api/v1/webhooks", f.admin, body)
	wantStatus(t, r, http.StatusCreated)
	var hook api.Webhook
	r.json(t, &hook)
	if strings.Contains(string(r.body), "s3cr3t") || !strings.HasSuffix(hook.Url, "/…") || hook.InventoryId == "" {
		t.Fatalf("webhook answer shows %s", r.body)
	}

	f.syncAndWait(src.Id)
	waitFor(t, "two deliveries", func() bool { return len(rc.events()) == 2 })
	if got := rc.events(); !slices.Equal(got, []string{"hosts.changed", "sync.succeeded"}) {
		t.Fatalf("events = %v", got)
	}
	// The first attempt met a 503 and was retried: the log has both.
	var log api.WebhookDeliveryList
	waitFor(t, "the delivery log", func() bool {
		f.do("GET", "/api/v1/webhooks/"+hook.Id+"/deliveries", f.admin, nil).json(t, &log)
		return len(log.Items) == 3
	})
	outcomes := map[string]int{}
	for _, d := range log.Items {
		outcomes[string(d.Outcome)]++
	}
	if outcomes["delivered"] != 2 || outcomes["retrying"] != 1 {
		t.Fatalf("delivery log outcomes = %v", outcomes)
	}
	r = f.do("GET", "/api/v1/webhooks/"+hook.Id+"/deliveries", f.admin, nil)
	if strings.Contains(string(r.body), "s3cr3t") {
		t.Fatal("the delivery log shows the URL's secret path")
	}

	// Deleting the inventory deletes its webhooks (and their secrets).
	wantStatus(t, f.do("DELETE", "/api/v1/inventories/prod", f.admin, nil), http.StatusNoContent)
	wantStatus(t, f.do("GET", "/api/v1/webhooks/"+hook.Id, f.admin, nil), http.StatusNotFound)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
