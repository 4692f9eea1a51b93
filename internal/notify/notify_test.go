package notify_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/notify"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/vault"
)

// env is a real store and local secret backend in a temp dir, with an
// inventory "prod" and its source "ec2".
type env struct {
	store   *store.SQLite
	backend *vault.Local
	svc     *notify.Service
	inv     *roster.Inventory
	src     *roster.Source
	dir     string
	logs    *syncBuffer
	log     *slog.Logger
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "roster.db"))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	key, err := vault.GenerateLocalKey()
	must(t, err)
	backend, err := vault.NewLocal(st, key, vault.LocalOptions{Logger: log})
	must(t, err)
	e := &env{store: st, backend: backend, svc: notify.NewService(st, backend, log), dir: dir, logs: logs, log: log}
	e.inv = &roster.Inventory{Name: "prod"}
	must(t, st.CreateInventory(ctx, e.inv))
	e.src = e.newSource(t, "ec2")
	return e
}

func (e *env) newSource(t *testing.T, name string) *roster.Source {
	t.Helper()
	src := &roster.Source{InventoryID: e.inv.ID, Name: name, Provider: "aws", OnMissing: roster.OnMissingRemove}
	must(t, e.store.CreateSource(t.Context(), src))
	return src
}

// finishedRun records a run of src that ran 1.5s and ended as given.
func (e *env) finishedRun(t *testing.T, src *roster.Source, status roster.SyncStatus, counts roster.SyncCounts, errText string, warnings ...string) *roster.SyncRun {
	t.Helper()
	ctx := t.Context()
	run := &roster.SyncRun{SourceID: src.ID, InventoryID: src.InventoryID, Trigger: roster.TriggerAPI}
	active, err := e.store.CreateSyncRun(ctx, run)
	must(t, err)
	if active != nil {
		t.Fatalf("source %s has an active run", src.Name)
	}
	started := time.Now().UTC().Truncate(time.Millisecond)
	finished := started.Add(1500 * time.Millisecond)
	run.StartedAt = &started
	run.Status, run.Counts, run.Error, run.Warnings = status, counts, errText, warnings
	// The store stamps the end when it has written the run.
	e.store.SetClock(func() time.Time { return finished })
	defer e.store.SetClock(time.Now)
	must(t, e.store.FinishSyncRun(ctx, run, nil))
	got, err := e.store.SyncRun(ctx, run.ID)
	must(t, err)
	return got
}

// receiver is a local HTTP endpoint answering with a script of responses
// (the last one repeats) and recording every request.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []request
	// respond answers request n (from 0).
	respond func(n int, w http.ResponseWriter, r *http.Request)
}

type request struct {
	at     time.Time
	path   string
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, request{at: time.Now(), path: r.URL.RequestURI(), header: r.Header.Clone(), body: body})
		rc.mu.Unlock()
		rc.respond(n, w, r)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// statuses answers with the given statuses in turn, the last one after.
func statuses(codes ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(codes[min(n, len(codes)-1)])
	}
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.got...)
}

// The secret parts of every test URL: a leak check looks for them.
const (
	secretPath  = "T0SECRETPATH/B0SECRET/xoxSECRETHOOK"
	secretQuery = "QUERYSECRETTOKEN"
	signingKey  = "SIGNINGSECRET-0123456789abcdef"
)

func (rc *receiver) url() string {
	return rc.srv.URL + "/services/" + secretPath + "?token=" + secretQuery
}

// riverEnv is a real River client on riversqlite over a SQLite file, with
// the delivery worker registered.
type riverEnv struct {
	client *river.Client[*sql.Tx]
	events <-chan *river.Event
}

func (e *env) startRiver(t *testing.T, opts notify.WorkerOptions) *riverEnv {
	t.Helper()
	r := e.newRiver(t, opts)
	must(t, r.client.Start(t.Context()))
	return r
}

// newRiver makes the client without starting it.
func (e *env) newRiver(t *testing.T, opts notify.WorkerOptions) *riverEnv {
	t.Helper()
	ctx := t.Context()
	// River's tables live in Roster's own database file, as in
	// production (internal/jobs opens it the same way): a second handle,
	// immediate transactions so a busy database makes them wait.
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(filepath.Join(e.dir, "roster.db"))+
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	must(t, err)
	db.SetMaxOpenConns(1) // as riversqlite advises
	t.Cleanup(func() { db.Close() })
	driver := riversqlite.New(db)
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: e.log})
	must(t, err)
	_, err = migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	must(t, err)

	opts.Logger = e.log
	opts.RetryBase = cmpOr(opts.RetryBase, 10*time.Millisecond)
	opts.RetryMax = cmpOr(opts.RetryMax, 50*time.Millisecond)
	workers := river.NewWorkers()
	river.AddWorker(workers, notify.NewWorker(e.store, e.backend, opts))
	client, err := river.NewClient(driver, &river.Config{
		Queues:            map[string]river.QueueConfig{notify.Queue: {MaxWorkers: 2}},
		Workers:           workers,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		Logger:            e.log,
		TestOnly:          true,
	})
	must(t, err)
	events, cancel := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobCancelled, river.EventKindJobFailed)
	t.Cleanup(func() {
		cancel()
		stopCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		client.Stop(stopCtx)
	})
	return &riverEnv{client: client, events: events}
}

func cmpOr(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// waitFinal waits for n jobs to reach a final state and returns them by id.
func (r *riverEnv) waitFinal(t *testing.T, n int) map[int64]*rivertype.JobRow {
	t.Helper()
	done := map[int64]*rivertype.JobRow{}
	timeout := time.After(20 * time.Second)
	for len(done) < n {
		select {
		case ev := <-r.events:
			switch ev.Job.State {
			case rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded:
				done[ev.Job.ID] = ev.Job
			}
		case <-timeout:
			t.Fatalf("%d of %d jobs finished in 20s", len(done), n)
		}
	}
	return done
}

// quiet checks that no job event comes for a while: nothing is retried.
func (r *riverEnv) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ev := <-r.events:
		t.Fatalf("unexpected job event %s for job %d (%s)", ev.Kind, ev.Job.ID, ev.Job.State)
	case <-time.After(d):
	}
}

func (e *env) notifier(r *riverEnv) *notify.Notifier {
	return notify.NewNotifier(e.store, r.client, notify.NotifierOptions{Logger: e.log})
}

func (e *env) webhook(t *testing.T, in notify.WebhookInput) *roster.Webhook {
	t.Helper()
	if in.InventoryID == "" && in.SourceID == "" {
		in.InventoryID = e.inv.ID
	}
	if in.Events == nil {
		in.Events = roster.WebhookEvents()
	}
	w, err := e.svc.Create(t.Context(), in)
	must(t, err)
	return w
}

func (e *env) deliveries(t *testing.T, webhookID string) []*roster.WebhookDelivery {
	t.Helper()
	ds, _, err := e.store.WebhookDeliveries(t.Context(), roster.DeliveryFilter{WebhookID: webhookID})
	must(t, err)
	return ds
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, b)
	}
	return v
}

func jsonEqual(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if g, w := decode(t, got), decode(t, []byte(want)); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

func ts(t *time.Time) string { return `"` + t.UTC().Format(time.RFC3339Nano) + `"` }

func TestGenericPayloadAndSignature(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, statuses(204))
	w := e.webhook(t, notify.WebhookInput{Name: "ops", URL: roster.Secret(rc.url()), SigningSecret: signingKey})
	r := e.startRiver(t, notify.WorkerOptions{})
	run := e.finishedRun(t, e.src, roster.SyncSucceeded, roster.SyncCounts{Seen: 10, Added: 2, Updated: 1, Removed: 1, Unchanged: 6}, "", "host i-1 named by fallback")
	must(t, e.notifier(r).SyncFinished(t.Context(), run))
	r.waitFinal(t, 2)

	got := rc.requests()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2 (sync.succeeded and hosts.changed)", len(got))
	}
	byEvent := map[string]request{}
	for _, req := range got {
		byEvent[req.header.Get("Roster-Event")] = req
	}
	for _, event := range []roster.WebhookEvent{roster.EventSyncSucceeded, roster.EventHostsChanged} {
		req, ok := byEvent[string(event)]
		if !ok {
			t.Fatalf("no %s request", event)
		}
		id := notify.EventID(run.ID, event)
		jsonEqual(t, string(event), req.body, `{
			"id": "`+id+`",
			"event": "`+string(event)+`",
			"time": `+ts(run.FinishedAt)+`,
			"inventory": {"id": "`+e.inv.ID+`", "name": "prod"},
			"source": {"id": "`+e.src.ID+`", "name": "ec2", "provider": "aws"},
			"run": {
				"id": "`+run.ID+`", "trigger": "api", "status": "succeeded",
				"started_at": `+ts(run.StartedAt)+`, "finished_at": `+ts(run.FinishedAt)+`,
				"duration_ms": 1500,
				"counts": {"seen": 10, "added": 2, "updated": 1, "removed": 1, "disabled": 0, "unchanged": 6},
				"error": "", "warning_count": 1
			}
		}`)
		h := req.header
		if h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != "roster" || h.Get("Roster-Event-Id") != id || h.Get("Roster-Webhook-Id") != w.ID {
			t.Errorf("headers of %s = %v", event, h)
		}
		if req.path != "/services/"+secretPath+"?token="+secretQuery {
			t.Errorf("request went to %s", req.path)
		}
		sig := h.Get(notify.SignatureHeader)
		if err := notify.VerifySignature(signingKey, sig, req.body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("signature %q of %s: %v", sig, event, err)
		}
		if err := notify.VerifySignature("another-secret-of-some-length", sig, req.body, time.Now(), 5*time.Minute); !errors.Is(err, notify.ErrSignatureMismatch) {
			t.Errorf("a wrong secret verifies: %v", err)
		}
		tampered := bytes.Replace(req.body, []byte(`"added":2`), []byte(`"added":3`), 1)
		if err := notify.VerifySignature(signingKey, sig, tampered, time.Now(), 5*time.Minute); !errors.Is(err, notify.ErrSignatureMismatch) {
			t.Errorf("a tampered body verifies: %v", err)
		}
	}
	ds := e.deliveries(t, w.ID)
	if len(ds) != 2 || ds[0].Outcome != roster.DeliveryDelivered || ds[0].StatusCode != 204 || ds[0].Attempt != 1 || ds[0].Error != "" || ds[0].RunID != run.ID {
		t.Fatalf("delivery log = %+v", ds)
	}
}

func TestSlackPayload(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, statuses(200))
	e.webhook(t, notify.WebhookInput{Name: "chat", Format: roster.WebhookSlack, URL: roster.Secret(rc.url()), Events: []roster.WebhookEvent{roster.EventSyncFailed}})
	r := e.startRiver(t, notify.WorkerOptions{})
	run := e.finishedRun(t, e.src, roster.SyncFailed, roster.SyncCounts{}, "us-east-1: AccessDenied <ec2:DescribeInstances> & more")
	must(t, e.notifier(r).SyncFinished(t.Context(), run))
	r.waitFinal(t, 1)
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests", len(got))
	}
	id := notify.EventID(run.ID, roster.EventSyncFailed)
	escaped := "us-east-1: AccessDenied &lt;ec2:DescribeInstances&gt; &amp; more"
	jsonEqual(t, "slack body", got[0].body, `{
		"text": "Roster: Sync of prod/ec2 failed: `+escaped+`",
		"attachments": [{
			"fallback": "Roster: Sync of prod/ec2 failed: `+escaped+`",
			"color": "#a30200",
			"title": "Sync of prod/ec2 failed",
			"text": "`+escaped+`",
			"fields": [
				{"title": "Inventory", "value": "prod", "short": true},
				{"title": "Source", "value": "ec2 (aws)", "short": true},
				{"title": "Status", "value": "failed", "short": true},
				{"title": "Trigger", "value": "api", "short": true},
				{"title": "Added", "value": "0", "short": true},
				{"title": "Updated", "value": "0", "short": true},
				{"title": "Removed", "value": "0", "short": true},
				{"title": "Disabled", "value": "0", "short": true},
				{"title": "Hosts seen", "value": "0", "short": true},
				{"title": "Duration", "value": "1.5s", "short": true}
			],
			"footer": "Roster · run `+run.ID+` · event `+id+`",
			"ts": `+jsonInt(run.FinishedAt.Unix())+`
		}]
	}`)
	if got[0].header.Get(notify.SignatureHeader) != "" {
		t.Error("a webhook without a signing secret sent a signature")
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestRetriesThenDelivered(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, statuses(500, 503, 200))
	w := e.webhook(t, notify.WebhookInput{Name: "ops", URL: roster.Secret(rc.url()), SigningSecret: signingKey, Events: []roster.WebhookEvent{roster.EventSyncPartial}})
	r := e.startRiver(t, notify.WorkerOptions{})
	run := e.finishedRun(t, e.src, roster.SyncPartial, roster.SyncCounts{Seen: 3, Unchanged: 3}, "")
	must(t, e.notifier(r).SyncFinished(t.Context(), run))
	jobs := r.waitFinal(t, 1)
	for _, j := range jobs {
		if j.State != rivertype.JobStateCompleted || j.Attempt != 3 {
			t.Fatalf("job %s after %d attempts", j.State, j.Attempt)
		}
	}
	got := rc.requests()
	if len(got) != 3 {
		t.Fatalf("%d requests, want 3", len(got))
	}
	for _, req := range got[1:] {
		if !bytes.Equal(req.body, got[0].body) || req.header.Get("Roster-Event-Id") != got[0].header.Get("Roster-Event-Id") {
			t.Error("a retry sent another body or event id")
		}
		if err := notify.VerifySignature(signingKey, req.header.Get(notify.SignatureHeader), req.body, time.Now(), time.Minute); err != nil {
			t.Errorf("retry signature: %v", err)
		}
	}
	ds := e.deliveries(t, w.ID) // newest first
	want := []struct {
		attempt, status int
		outcome         roster.DeliveryOutcome
		err             string
	}{
		{3, 200, roster.DeliveryDelivered, ""},
		{2, 503, roster.DeliveryRetrying, "HTTP 503 Service Unavailable"},
		{1, 500, roster.DeliveryRetrying, "HTTP 500 Internal Server Error"},
	}
	if len(ds) != len(want) {
		t.Fatalf("delivery log has %d entries, want 3", len(ds))
	}
	for i, d := range ds {
		if d.Attempt != want[i].attempt || d.StatusCode != want[i].status || d.Outcome != want[i].outcome || d.Error != want[i].err ||
			d.EventID != notify.EventID(run.ID, roster.EventSyncPartial) || d.Event != roster.EventSyncPartial || d.Duration <= 0 || d.Time.IsZero() {
			t.Errorf("delivery %d = %+v, want %+v", i, d, want[i])
		}
	}
	r.quiet(t, 300*time.Millisecond)
	if n := len(rc.requests()); n != 3 {
		t.Fatalf("delivered again: %d requests", n)
	}
}

func TestGoneIsPermanent(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, statuses(410))
	w := e.webhook(t, notify.WebhookInput{Name: "ops", URL: roster.Secret(rc.url()), Events: []roster.WebhookEvent{roster.EventSyncFailed}})
	r := e.startRiver(t, notify.WorkerOptions{})
	run := e.finishedRun(t, e.src, roster.SyncCanceled, roster.SyncCounts{}, "canceled by the user")
	must(t, e.notifier(r).SyncFinished(t.Context(), run))
	for _, j := range r.waitFinal(t, 1) {
		if j.State != rivertype.JobStateCancelled || j.Attempt != 1 {
			t.Fatalf("job %s after %d attempts, want cancelled after 1", j.State, j.Attempt)
		}
	}
	r.quiet(t, 300*time.Millisecond)
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	ds := e.deliveries(t, w.ID)
	if len(ds) != 1 || ds[0].Outcome != roster.DeliveryFailed || ds[0].StatusCode != 410 || ds[0].Error != "HTTP 410 Gone" {
		t.Fatalf("delivery log = %+v", ds)
	}
	var body notify.Event
	must(t, json.Unmarshal(rc.requests()[0].body, &body))
	if body.Event != roster.EventSyncFailed || body.Run.Status != roster.SyncCanceled || body.Run.Error != "canceled by the user" {
		t.Fatalf("a canceled run's body = %+v", body)
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter string
		max        time.Duration
		atLeast    time.Duration
	}{
		{"honoured", "1", 5 * time.Second, time.Second},
		{"bounded", "3600", 300 * time.Millisecond, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 0 {
					w.Header().Set("Retry-After", tc.retryAfter)
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			w := e.webhook(t, notify.WebhookInput{Name: "ops", URL: roster.Secret(rc.url()), Events: []roster.WebhookEvent{roster.EventSyncSucceeded}})
			r := e.startRiver(t, notify.WorkerOptions{RetryAfterMax: tc.max})
			run := e.finishedRun(t, e.src, roster.SyncSucceeded, roster.SyncCounts{}, "")
			must(t, e.notifier(r).SyncFinished(t.Context(), run))
			r.waitFinal(t, 1)
			got := rc.requests()
			if len(got) != 2 {
				t.Fatalf("%d requests, want 2", len(got))
			}
			gap := got[1].at.Sub(got[0].at)
			if gap < tc.atLeast || gap > tc.atLeast+3*time.Second {
				t.Fatalf("retried after %s, want %s or a little more", gap, tc.atLeast)
			}
			ds := e.deliveries(t, w.ID)
			if len(ds) != 2 || ds[1].StatusCode != 429 || ds[1].Outcome != roster.DeliveryRetrying || ds[1].Error != "HTTP 429 Too Many Requests" || ds[0].Outcome != roster.DeliveryDelivered {
				t.Fatalf("delivery log = %+v", ds)
			}
		})
	}
}

// countingInserter counts what River skipped as duplicates.
type countingInserter struct {
	notify.JobInserter
	mu                  sync.Mutex
	inserted, duplicate int
}

func (c *countingInserter) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	res, err := c.JobInserter.Insert(ctx, args, opts)
	if err == nil {
		c.mu.Lock()
		if res.UniqueSkippedAsDuplicate {
			c.duplicate++
		} else {
			c.inserted++
		}
		c.mu.Unlock()
	}
	return res, err
}

func TestSubscribersAndDuplicates(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, statuses(200))
	other := e.newSource(t, "gce")
	invAll := e.webhook(t, notify.WebhookInput{Name: "inv-all", URL: roster.Secret(rc.url() + "&hook=inv-all")})
	srcFail := e.webhook(t, notify.WebhookInput{Name: "ec2-fail", SourceID: e.src.ID, URL: roster.Secret(rc.url() + "&hook=ec2-fail"), Events: []roster.WebhookEvent{roster.EventSyncFailed}})
	e.webhook(t, notify.WebhookInput{Name: "ec2-ok", SourceID: e.src.ID, URL: roster.Secret(rc.url() + "&hook=ec2-ok"), Events: []roster.WebhookEvent{roster.EventSyncSucceeded}})
	e.webhook(t, notify.WebhookInput{Name: "gce-fail", SourceID: other.ID, URL: roster.Secret(rc.url() + "&hook=gce-fail"), Events: []roster.WebhookEvent{roster.EventSyncFailed}})
	e.webhook(t, notify.WebhookInput{Name: "off", URL: roster.Secret(rc.url() + "&hook=off"), Disabled: true})

	r := e.startRiver(t, notify.WorkerOptions{})
	jobs := &countingInserter{JobInserter: r.client}
	n := notify.NewNotifier(e.store, jobs, notify.NotifierOptions{Logger: e.log})
	run := e.finishedRun(t, e.src, roster.SyncFailed, roster.SyncCounts{}, "boom")
	must(t, n.SyncFinished(t.Context(), run))
	must(t, n.SyncFinished(t.Context(), run)) // raised twice: e.g. a retried finish
	r.waitFinal(t, 2)
	must(t, n.SyncFinished(t.Context(), run)) // and again once delivered
	r.quiet(t, 300*time.Millisecond)

	hooks := map[string]int{}
	for _, req := range rc.requests() {
		hooks[req.path[strings.LastIndex(req.path, "=")+1:]]++
	}
	if !reflect.DeepEqual(hooks, map[string]int{"inv-all": 1, "ec2-fail": 1}) {
		t.Fatalf("requests per webhook = %v, want one each to inv-all and ec2-fail", hooks)
	}
	if jobs.inserted != 2 || jobs.duplicate != 4 {
		t.Fatalf("inserted %d, skipped %d duplicates; want 2 and 4", jobs.inserted, jobs.duplicate)
	}
	for _, id := range []string{invAll.ID, srcFail.ID} {
		if ds := e.deliveries(t, id); len(ds) != 1 || ds[0].Outcome != roster.DeliveryDelivered {
			t.Fatalf("delivery log of %s = %+v", id, ds)
		}
	}

	// An unfinished run raises nothing.
	must(t, n.SyncFinished(t.Context(), &roster.SyncRun{ID: "r", SourceID: e.src.ID, InventoryID: e.inv.ID, Status: roster.SyncRunning}))
	if jobs.inserted != 2 {
		t.Fatal("an unfinished run was notified")
	}
}

func TestChangedWebhookDropsItsJobs(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, statuses(200))
	deleted := e.webhook(t, notify.WebhookInput{Name: "deleted", URL: roster.Secret(rc.url())})
	disabled := e.webhook(t, notify.WebhookInput{Name: "disabled", URL: roster.Secret(rc.url())})
	unsubscribed := e.webhook(t, notify.WebhookInput{Name: "unsubscribed", URL: roster.Secret(rc.url())})
	run := e.finishedRun(t, e.src, roster.SyncSucceeded, roster.SyncCounts{}, "")
	// Enqueue with a client that does not work jobs yet, change the
	// webhooks, then work.
	r := e.newRiver(t, notify.WorkerOptions{})
	must(t, e.notifier(r).SyncFinished(t.Context(), run))
	must(t, e.svc.Delete(t.Context(), deleted.ID))
	off := false
	_, err := e.svc.Update(t.Context(), disabled.ID, notify.WebhookChange{Enabled: &off})
	must(t, err)
	_, err = e.svc.Update(t.Context(), unsubscribed.ID, notify.WebhookChange{Events: []roster.WebhookEvent{roster.EventSyncFailed}})
	must(t, err)
	must(t, r.client.Start(t.Context()))
	for _, j := range r.waitFinal(t, 3) {
		if j.State != rivertype.JobStateCancelled {
			t.Fatalf("job of a changed webhook: %s", j.State)
		}
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("%d requests", n)
	}
	for _, w := range []*roster.Webhook{disabled, unsubscribed} {
		ds := e.deliveries(t, w.ID)
		if len(ds) != 1 || ds[0].Outcome != roster.DeliverySkipped || ds[0].StatusCode != 0 || !strings.Contains(ds[0].Error, "before the delivery") {
			t.Fatalf("delivery log of %s = %+v", w.Name, ds)
		}
	}
}

// TestNoSecretLeaks fails deliveries every way there is and looks for the
// URL's secret path and query and the signing secret everywhere they must
// not be: the delivery log, the logs (Roster's and River's), River's job
// errors, and the errors the service returns.
func TestNoSecretLeaks(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	var seen []string // every error text a user or operator could see

	failing := newReceiver(t, statuses(500))
	gone := newReceiver(t, statuses(410))
	redirect := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere/"+secretPath+"?token="+secretQuery, http.StatusFound)
	})
	slow := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	closed := "http://" + l.Addr().String() + "/services/" + secretPath + "?token=" + secretQuery
	l.Close()

	urls := map[string]string{
		"failing":  failing.url(),
		"gone":     gone.url(),
		"redirect": redirect.url(),
		"slow":     slow.url(),
		"closed":   closed,
		"userinfo": strings.Replace(closed, "http://", "http://user:"+secretQuery+"@", 1),
	}
	hooks := map[string]*roster.Webhook{}
	for name, u := range urls {
		hooks[name] = e.webhook(t, notify.WebhookInput{Name: name, URL: roster.Secret(u), SigningSecret: signingKey, Events: []roster.WebhookEvent{roster.EventSyncFailed}})
		if strings.Contains(hooks[name].URLRedacted, "services") || strings.Contains(hooks[name].URLRedacted, "user") {
			t.Fatalf("redacted URL %q shows the path or user", hooks[name].URLRedacted)
		}
	}
	// Five hooks fail on every attempt; give them two.
	r := e.startRiver(t, notify.WorkerOptions{Timeout: 200 * time.Millisecond})
	n := notify.NewNotifier(e.store, r.client, notify.NotifierOptions{Logger: e.log, MaxAttempts: 2})
	run := e.finishedRun(t, e.src, roster.SyncFailed, roster.SyncCounts{}, "boom")
	must(t, n.SyncFinished(ctx, run))
	jobs := r.waitFinal(t, len(urls))

	wantErr := map[string]string{
		"failing":  "HTTP 500 Internal Server Error",
		"gone":     "HTTP 410 Gone",
		"redirect": "HTTP 302 Found: redirects are not followed",
		"slow":     "timeout: no answer within 200ms",
		"closed":   "cannot connect: connection refused",
		"userinfo": "cannot connect: connection refused",
	}
	for name, w := range hooks {
		ds := e.deliveries(t, w.ID)
		if len(ds) == 0 {
			t.Fatalf("%s: nothing in the delivery log", name)
		}
		for _, d := range ds {
			if !strings.HasPrefix(d.Error, wantErr[name]) {
				t.Errorf("%s: delivery error %q, want it to start with %q", name, d.Error, wantErr[name])
			}
			seen = append(seen, d.Error)
		}
	}
	for id := range jobs {
		job, err := r.client.JobGet(ctx, id)
		must(t, err)
		for _, ae := range job.Errors {
			seen = append(seen, ae.Error)
		}
		seen = append(seen, string(job.EncodedArgs))
	}

	// The service's errors never quote a URL or a secret either.
	for _, in := range []notify.WebhookInput{
		{Name: "bad-scheme", InventoryID: e.inv.ID, URL: "ftp://example.com/" + secretPath + "?token=" + secretQuery, Events: roster.WebhookEvents()},
		{Name: "plain", InventoryID: e.inv.ID, URL: roster.Secret("http://example.com/" + secretPath + "?token=" + secretQuery), Events: roster.WebhookEvents()},
		{Name: "fragment", InventoryID: e.inv.ID, URL: roster.Secret("https://example.com/" + secretPath + "#" + secretQuery), Events: roster.WebhookEvents()},
		{Name: "unparsable", InventoryID: e.inv.ID, URL: roster.Secret("https://exa mple.com/" + secretPath + "%zz"), Events: roster.WebhookEvents()},
		{Name: "short-key", InventoryID: e.inv.ID, URL: roster.Secret("https://example.com/" + secretPath), SigningSecret: "SIGNINGSECRET", Events: roster.WebhookEvents()},
	} {
		_, err := e.svc.Create(ctx, in)
		if roster.ErrorCode(err) != roster.EINVALID {
			t.Fatalf("%s: %v", in.Name, err)
		}
		seen = append(seen, err.Error())
	}
	seen = append(seen, e.logs.String())

	for _, text := range seen {
		for _, secret := range []string{secretPath, "SECRETPATH", "xoxSECRETHOOK", secretQuery, "SIGNINGSECRET", signingKey} {
			if strings.Contains(text, secret) {
				t.Errorf("%q leaked into: %s", secret, text)
			}
		}
	}
	if !strings.Contains(e.logs.String(), "webhook delivery failed") {
		t.Error("the attempts were not logged")
	}
}

func TestServiceValidation(t *testing.T) {
	e := newEnv(t)
	good := func() notify.WebhookInput {
		return notify.WebhookInput{Name: "ops", InventoryID: e.inv.ID, URL: "https://hooks.example.com/x/y", Events: []roster.WebhookEvent{roster.EventSyncFailed}}
	}
	for _, tc := range []struct {
		name   string
		change func(*notify.WebhookInput)
		fields []string
	}{
		{"no name", func(in *notify.WebhookInput) { in.Name = "" }, []string{"name"}},
		{"no scope", func(in *notify.WebhookInput) { in.InventoryID = "" }, []string{"inventory"}},
		{"both scopes", func(in *notify.WebhookInput) { in.SourceID = e.src.ID }, []string{"inventory"}},
		{"unknown format", func(in *notify.WebhookInput) { in.Format = "pigeon" }, []string{"format"}},
		{"no events", func(in *notify.WebhookInput) { in.Events = nil }, []string{"events"}},
		{"unknown event", func(in *notify.WebhookInput) {
			in.Events = []roster.WebhookEvent{roster.EventSyncFailed, "sync.started"}
		}, []string{"events[1]"}},
		{"duplicate event", func(in *notify.WebhookInput) {
			in.Events = []roster.WebhookEvent{roster.EventSyncFailed, roster.EventSyncFailed}
		}, []string{"events[1]"}},
		{"no url", func(in *notify.WebhookInput) { in.URL = "" }, []string{"url"}},
		{"relative url", func(in *notify.WebhookInput) { in.URL = "/hooks/x" }, []string{"url"}},
		{"plain http", func(in *notify.WebhookInput) { in.URL = "http://hooks.example.com/x" }, []string{"url"}},
		{"other scheme", func(in *notify.WebhookInput) { in.URL = "ftp://hooks.example.com/x" }, []string{"url"}},
		{"no host", func(in *notify.WebhookInput) { in.URL = "https:///x" }, []string{"url"}},
		{"signed slack", func(in *notify.WebhookInput) { in.Format, in.SigningSecret = roster.WebhookSlack, signingKey }, []string{"signing_secret"}},
		{"short signing secret", func(in *notify.WebhookInput) { in.SigningSecret = "short" }, []string{"signing_secret"}},
		{"several", func(in *notify.WebhookInput) { in.Name, in.Events, in.URL = "", nil, "" }, []string{"name", "events", "url"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := good()
			tc.change(&in)
			_, err := e.svc.Create(t.Context(), in)
			if roster.ErrorCode(err) != roster.EINVALID {
				t.Fatalf("error = %v, want invalid", err)
			}
			var fields []string
			for _, f := range roster.ErrorFields(err) {
				fields = append(fields, f.Field)
			}
			if !reflect.DeepEqual(fields, tc.fields) {
				t.Fatalf("fields = %v (%v), want %v", fields, err, tc.fields)
			}
		})
	}
	// Plain http is fine to the loopback, or when allowed.
	for _, in := range []notify.WebhookInput{
		{Name: "loopback", URL: "http://127.0.0.1:8080/x"},
		{Name: "localhost", URL: "http://localhost/x"},
		{Name: "v6", URL: "http://[::1]:9000/x"},
		{Name: "allowed", URL: "http://hooks.internal/x", AllowInsecure: true},
	} {
		in.InventoryID, in.Events = e.inv.ID, []roster.WebhookEvent{roster.EventSyncFailed}
		if _, err := e.svc.Create(t.Context(), in); err != nil {
			t.Errorf("%s: %v", in.Name, err)
		}
	}
	// Scopes that do not exist.
	in := good()
	in.InventoryID = "nope"
	if _, err := e.svc.Create(t.Context(), in); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Errorf("missing inventory: %v", err)
	}
	in = good()
	in.InventoryID, in.SourceID = "", "nope"
	if _, err := e.svc.Create(t.Context(), in); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Errorf("missing source: %v", err)
	}
}

func TestServiceLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	w, err := e.svc.Create(ctx, notify.WebhookInput{
		Name: "ops", InventoryID: "prod", URL: "https://user:pw@hooks.example.com:8443/" + secretPath + "?token=" + secretQuery,
		SigningSecret: signingKey, Events: []roster.WebhookEvent{roster.EventSyncFailed},
	})
	must(t, err)
	if w.URLRedacted != "https://hooks.example.com:8443/…" || w.InventoryID != e.inv.ID || !w.HasSigningSecret || !w.Enabled ||
		w.SecretPath != notify.SecretPrefix+w.ID || w.SecretVersion != 1 || w.Type != roster.TypeWebhook {
		t.Fatalf("created = %+v", w)
	}
	secrets, _, err := e.backend.GetSecrets(ctx, w.SecretPath)
	must(t, err)
	if secrets["url"].Reveal() != "https://user:pw@hooks.example.com:8443/"+secretPath+"?token="+secretQuery || secrets["signing_secret"].Reveal() != signingKey {
		t.Fatal("the backend does not hold the URL and signing secret")
	}
	// Fields that are not secrets change without touching the backend.
	name, off := "oncall", false
	w, err = e.svc.Update(ctx, w.ID, notify.WebhookChange{Name: &name, Enabled: &off, Events: []roster.WebhookEvent{roster.EventSyncFailed, roster.EventSyncPartial}})
	must(t, err)
	if w.Name != "oncall" || w.Enabled || len(w.Events) != 2 || w.SecretVersion != 1 {
		t.Fatalf("updated = %+v", w)
	}
	// A slack webhook is not signed.
	slack := roster.WebhookSlack
	_, err = e.svc.Update(ctx, w.ID, notify.WebhookChange{Format: &slack})
	if fields := roster.ErrorFields(err); len(fields) != 1 || fields[0].Field != "signing_secret" {
		t.Fatalf("slack with a signing secret: %v", err)
	}
	none := roster.Secret("")
	newURL := roster.Secret("https://hooks.slack.com/services/T1/B2/zzz")
	w, err = e.svc.Update(ctx, w.ID, notify.WebhookChange{Format: &slack, SigningSecret: &none, URL: &newURL})
	must(t, err)
	if w.Type != roster.TypeSlack || w.HasSigningSecret || w.URLRedacted != "https://hooks.slack.com/…" || w.SecretVersion != 2 {
		t.Fatalf("after the new URL = %+v", w)
	}
	secrets, _, err = e.backend.GetSecrets(ctx, w.SecretPath)
	must(t, err)
	if secrets["url"] != newURL || len(secrets) != 1 {
		t.Fatal("the backend does not hold the new URL alone")
	}
	// Plain http to another host needs allow_insecure, and keeps needing it.
	plain := roster.Secret("http://hooks.internal/x")
	_, err = e.svc.Update(ctx, w.ID, notify.WebhookChange{URL: &plain})
	if fields := roster.ErrorFields(err); len(fields) != 1 || fields[0].Field != "url" {
		t.Fatalf("plain http: %v", err)
	}
	yes, no := true, false
	w, err = e.svc.Update(ctx, w.ID, notify.WebhookChange{URL: &plain, AllowInsecure: &yes})
	must(t, err)
	if !w.AllowInsecure || w.URLRedacted != "http://hooks.internal/…" {
		t.Fatalf("insecure = %+v", w)
	}
	_, err = e.svc.Update(ctx, w.ID, notify.WebhookChange{AllowInsecure: &no})
	if fields := roster.ErrorFields(err); len(fields) != 1 || fields[0].Field != "allow_insecure" {
		t.Fatalf("withdrawing allow_insecure from an http URL: %v", err)
	}
	_, err = e.svc.Update(ctx, "missing", notify.WebhookChange{Name: &name})
	if roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("update of a missing webhook: %v", err)
	}

	// Deleting removes the record and the secrets.
	must(t, e.svc.Delete(ctx, w.ID))
	if _, err := e.store.Webhook(ctx, w.ID); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("record after delete: %v", err)
	}
	if _, _, err := e.backend.GetSecrets(ctx, w.SecretPath); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("secrets after delete: %v", err)
	}

	// Purging a source's webhooks before deleting it leaves no secret behind.
	a := e.webhook(t, notify.WebhookInput{Name: "a", SourceID: e.src.ID, URL: "https://hooks.example.com/a"})
	b := e.webhook(t, notify.WebhookInput{Name: "b", URL: "https://hooks.example.com/b"})
	got, err := e.svc.Purge(ctx, roster.WebhookFilter{SourceID: e.src.ID})
	must(t, err)
	if got != 1 {
		t.Fatalf("purged %d", got)
	}
	must(t, e.store.DeleteSource(ctx, e.src.ID))
	if _, _, err := e.backend.GetSecrets(ctx, a.SecretPath); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("secrets of a purged webhook: %v", err)
	}
	if _, _, err := e.backend.GetSecrets(ctx, b.SecretPath); err != nil {
		t.Fatalf("the inventory's webhook lost its secrets: %v", err)
	}
	if _, err := e.svc.Purge(ctx, roster.WebhookFilter{}); roster.ErrorCode(err) != roster.EINVALID {
		t.Fatalf("purge of everything: %v", err)
	}
}

func TestSignature(t *testing.T) {
	body := []byte(`{"id":"x"}`)
	at := time.Unix(1700000000, 0)
	h := notify.Sign(signingKey, at, body)
	if !strings.HasPrefix(h, "t=1700000000,v1=") || len(h) != len("t=1700000000,v1=")+64 {
		t.Fatalf("header = %q", h)
	}
	for _, tc := range []struct {
		name   string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", h, body, at.Add(time.Minute), nil},
		{"rotated: second v1 matches", "t=1700000000,v1=" + strings.Repeat("00", 32) + "," + h[len("t=1700000000,"):], body, at, nil},
		{"other body", h, []byte(`{"id":"y"}`), at, notify.ErrSignatureMismatch},
		{"other time", strings.Replace(h, "t=1700000000", "t=1700000001", 1), body, at, notify.ErrSignatureMismatch},
		{"too old", h, body, at.Add(10 * time.Minute), notify.ErrSignatureExpired},
		{"from the future", h, body, at.Add(-10 * time.Minute), notify.ErrSignatureExpired},
		{"empty", "", body, at, notify.ErrNoSignature},
		{"no v1", "t=1700000000", body, at, notify.ErrNoSignature},
		{"no t", h[len("t=1700000000,"):], body, at, notify.ErrNoSignature},
	} {
		if err := notify.VerifySignature(signingKey, tc.header, tc.body, tc.now, 5*time.Minute); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := notify.VerifySignature(signingKey, h, body, at.Add(time.Hour), 0); err != nil {
		t.Errorf("no tolerance: %v", err)
	}
}

func TestRunEvents(t *testing.T) {
	changed := roster.SyncCounts{Seen: 3, Disabled: 1}
	for _, tc := range []struct {
		status roster.SyncStatus
		counts roster.SyncCounts
		want   []roster.WebhookEvent
	}{
		{roster.SyncSucceeded, roster.SyncCounts{Seen: 3, Unchanged: 3}, []roster.WebhookEvent{roster.EventSyncSucceeded}},
		{roster.SyncSucceeded, changed, []roster.WebhookEvent{roster.EventSyncSucceeded, roster.EventHostsChanged}},
		{roster.SyncPartial, changed, []roster.WebhookEvent{roster.EventSyncPartial, roster.EventHostsChanged}},
		{roster.SyncFailed, roster.SyncCounts{}, []roster.WebhookEvent{roster.EventSyncFailed}},
		{roster.SyncFailed, changed, []roster.WebhookEvent{roster.EventSyncFailed}},
		{roster.SyncCanceled, roster.SyncCounts{}, []roster.WebhookEvent{roster.EventSyncFailed}},
		{roster.SyncRunning, changed, nil},
		{roster.SyncQueued, roster.SyncCounts{}, nil},
	} {
		if got := roster.RunEvents(&roster.SyncRun{Status: tc.status, Counts: tc.counts}); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("RunEvents(%s, %+v) = %v, want %v", tc.status, tc.counts, got, tc.want)
		}
	}
}

func TestHTTPS(t *testing.T) {
	var hits int
	var mu sync.Mutex
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name      string
		transport http.RoundTripper
		outcome   roster.DeliveryOutcome
		err       string
	}{
		{"untrusted certificate", nil, roster.DeliveryFailed, "tls: the server's certificate is not trusted: certificate signed by unknown authority (gave up after 1 attempts)"},
		{"trusted", srv.Client().Transport, roster.DeliveryDelivered, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			w := e.webhook(t, notify.WebhookInput{Name: "tls", URL: roster.Secret(srv.URL + "/services/" + secretPath + "?token=" + secretQuery), Events: []roster.WebhookEvent{roster.EventSyncSucceeded}})
			if w.URLRedacted != srv.URL+"/…" {
				t.Fatalf("redacted = %q", w.URLRedacted)
			}
			r := e.startRiver(t, notify.WorkerOptions{Transport: tc.transport})
			n := notify.NewNotifier(e.store, r.client, notify.NotifierOptions{Logger: e.log, MaxAttempts: 1})
			must(t, n.SyncFinished(t.Context(), e.finishedRun(t, e.src, roster.SyncSucceeded, roster.SyncCounts{}, "")))
			r.waitFinal(t, 1)
			ds := e.deliveries(t, w.ID)
			if len(ds) != 1 || ds[0].Outcome != tc.outcome || ds[0].Error != tc.err {
				t.Fatalf("delivery log = %+v", ds[0])
			}
			if logs := e.logs.String(); strings.Contains(logs, secretPath) || strings.Contains(logs, secretQuery) {
				t.Fatal("the logs hold the URL's secrets")
			}
		})
	}
	if hits != 1 {
		t.Fatalf("%d requests reached the server, want 1", hits)
	}
}

// TestStopInterruptsDelivery stops River mid-request (as jobs.Queue.Stop
// does): the job goes back to the queue without losing an attempt.
func TestStopInterruptsDelivery(t *testing.T) {
	e := newEnv(t)
	arrived := make(chan struct{}, 1)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	w := e.webhook(t, notify.WebhookInput{Name: "slow", URL: roster.Secret(rc.url()), SigningSecret: signingKey, Events: []roster.WebhookEvent{roster.EventSyncSucceeded}})
	r := e.startRiver(t, notify.WorkerOptions{})
	must(t, e.notifier(r).SyncFinished(t.Context(), e.finishedRun(t, e.src, roster.SyncSucceeded, roster.SyncCounts{}, "")))
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no request")
	}
	stopCtx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	must(t, r.client.StopAndCancel(stopCtx))
	jobs, err := r.client.JobList(t.Context(), river.NewJobListParams().Queues(notify.Queue))
	must(t, err)
	if len(jobs.Jobs) != 1 || jobs.Jobs[0].State != rivertype.JobStateAvailable || jobs.Jobs[0].Attempt != 0 {
		t.Fatalf("jobs after stopping = %+v", jobs.Jobs)
	}
	for _, ae := range jobs.Jobs[0].Errors {
		if strings.Contains(ae.Error, secretPath) || strings.Contains(ae.Error, secretQuery) {
			t.Fatalf("job error %q holds the URL", ae.Error)
		}
	}
	ds := e.deliveries(t, w.ID)
	if len(ds) != 1 || ds[0].Outcome != roster.DeliveryRetrying || !strings.HasPrefix(ds[0].Error, "interrupted: ") {
		t.Fatalf("delivery log = %+v", ds)
	}
	if logs := e.logs.String(); strings.Contains(logs, secretPath) || strings.Contains(logs, secretQuery) || strings.Contains(logs, signingKey) {
		t.Fatal("the logs hold a secret")
	}
}
