package cloudsim_test

import (
	"context"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/cloudsim"
	"github.com/rosterhq/roster/internal/testenv"
)

// TestMain runs the tests in the user's world (see testenv.Main).
func TestMain(m *testing.M) { testenv.Main(m) }

func kinds(t *testing.T, j *cloudsim.Injector, c cloudsim.Call, n int) []cloudsim.Verdict {
	t.Helper()
	var out []cloudsim.Verdict
	for range n {
		v, ok := j.Admit(context.Background(), c)
		if !ok {
			t.Fatal("Admit gave up without a cancelled context")
		}
		out = append(out, v)
	}
	return out
}

// TestEveryNth: a request due both a throttle and an error is throttled,
// errors are numbered for clouds that alternate their 5xx, and Set
// restarts the count.
func TestEveryNth(t *testing.T) {
	j := cloudsim.NewInjector(1, cloudsim.Faults{ThrottleEvery: 3, ErrorEvery: 2, RetryAfter: 2 * time.Second}, cloudsim.Policy{})
	c := cloudsim.Call{Op: "list", Scope: "r1"}
	got := kinds(t, j, c, 6)
	want := []cloudsim.Kind{cloudsim.None, cloudsim.Error, cloudsim.Throttle, cloudsim.Error, cloudsim.None, cloudsim.Throttle}
	for i, v := range got {
		if v.Kind != want[i] {
			t.Fatalf("request %d: kind %v, want %v (all %+v)", i+1, v.Kind, want[i], got)
		}
	}
	if got[1].Nth != 1 || got[3].Nth != 2 || got[2].RetryAfter != 2*time.Second {
		t.Fatalf("verdicts %+v", got)
	}
	j.Set(cloudsim.Faults{ThrottleEvery: 2})
	if v := kinds(t, j, c, 2); v[0].Kind != cloudsim.None || v[1].Kind != cloudsim.Throttle || v[1].RetryAfter != time.Second {
		t.Fatalf("after Set: %+v", v)
	}
	if n := j.Stats().Calls("list", "R1"); n != 8 {
		t.Fatalf("calls %d, want 8 (scopes match without case)", n)
	}
}

// TestPolicy: Ops limits who is faulted, else the cloud's default set;
// DenyScopes folds case and spares the calls the cloud says it must.
func TestPolicy(t *testing.T) {
	p := cloudsim.Policy{
		DefaultOps: func(op string) bool { return op != "token" },
		Deniable:   func(c cloudsim.Call) bool { return c.Op != "sts" },
	}
	j := cloudsim.NewInjector(1, cloudsim.Faults{ErrorEvery: 1, DenyScopes: []string{"Denied"}, FailAfterPage: 1}, p)
	if v := kinds(t, j, cloudsim.Call{Op: "token"}, 1)[0]; v.Kind != cloudsim.None {
		t.Fatalf("token faulted by default: %+v", v)
	}
	if v := kinds(t, j, cloudsim.Call{Op: "list", Scope: "denied"}, 1)[0]; v.Kind != cloudsim.Deny {
		t.Fatalf("denied scope: %+v", v)
	}
	if v := kinds(t, j, cloudsim.Call{Op: "sts", Scope: "denied"}, 1)[0]; v.Kind != cloudsim.Error {
		t.Fatalf("undeniable call: %+v", v)
	}
	if !j.FailPage(cloudsim.Call{Op: "list"}, 2, 500, "InternalError") || j.FailPage(cloudsim.Call{Op: "list"}, 1, 500, "") {
		t.Fatal("FailAfterPage 1 must fail page 2, not page 1")
	}
	j.Set(cloudsim.Faults{ErrorEvery: 1, FailAfterPage: 1, Ops: []string{"token"}})
	if v := kinds(t, j, cloudsim.Call{Op: "token"}, 1)[0]; v.Kind != cloudsim.Error {
		t.Fatalf("token named in Ops: %+v", v)
	}
	if v := kinds(t, j, cloudsim.Call{Op: "list"}, 1)[0]; v.Kind != cloudsim.None {
		t.Fatalf("list not named in Ops: %+v", v)
	}
	if j.FailPage(cloudsim.Call{Op: "list"}, 2, 500, "") {
		t.Fatal("FailAfterPage applied to an operation Ops leaves out")
	}
	st := j.Stats()
	if st.Faulted("", "") != 1 || st.InjectedStatus[500] != 1 || st.InjectedCodes["InternalError"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRatesRepeat: the same seed draws the same faults.
func TestRatesRepeat(t *testing.T) {
	run := func(seed int64) (out []cloudsim.Kind) {
		j := cloudsim.NewInjector(seed, cloudsim.Faults{ThrottleRate: 0.3, ErrorRate: 0.3}, cloudsim.Policy{})
		for _, v := range kinds(t, j, cloudsim.Call{Op: "x"}, 50) {
			out = append(out, v.Kind)
		}
		return out
	}
	a, b, c := run(7), run(7), run(8)
	faulted := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 7 differs at %d", i)
		}
		if a[i] != cloudsim.None {
			faulted++
		}
	}
	if faulted < 10 || faulted > 40 || slicesEqual(a, c) {
		t.Fatalf("rates: %d of 50 faulted; seeds 7 and 8 equal: %v", faulted, slicesEqual(a, c))
	}
}

func slicesEqual(a, b []cloudsim.Kind) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// TestLatencyStopsWithTheClient: Admit waits the latency, or gives up
// when the request's context ends.
func TestLatencyStopsWithTheClient(t *testing.T) {
	j := cloudsim.NewInjector(1, cloudsim.Faults{Latency: 30 * time.Millisecond}, cloudsim.Policy{})
	start := time.Now()
	if _, ok := j.Admit(context.Background(), cloudsim.Call{Op: "x"}); !ok || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("ok %v after %v", ok, time.Since(start))
	}
	j.Set(cloudsim.Faults{Latency: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, ok := j.Admit(ctx, cloudsim.Call{Op: "x"}); ok {
		t.Fatal("Admit answered after the client left")
	}
}

// TestRetryAfterSeconds rounds up to whole seconds, at least one.
func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, 7 * time.Second: 7} {
		if got := cloudsim.RetryAfterSeconds(d); got != want {
			t.Errorf("%v: %d, want %d", d, got, want)
		}
	}
}

type answer struct {
	status int
	code   string
}

func (a *answer) Status() int  { return a.status }
func (a *answer) Code() string { return a.code }

// TestRenderer: verdicts become the cloud's answers, server errors in
// turn, and each answer is counted by status and code.
func TestRenderer(t *testing.T) {
	internal, unavailable := &answer{500, "InternalError"}, &answer{503, "Unavailable"}
	r := cloudsim.Renderer[*answer]{
		Deny:     func(c cloudsim.Call) *answer { return &answer{403, "Denied:" + c.Scope} },
		Throttle: func(_ cloudsim.Call, v cloudsim.Verdict) *answer { return &answer{429, v.RetryAfter.String()} },
		Errors:   []*answer{internal, unavailable},
		Page:     internal,
	}
	j := cloudsim.NewInjector(1, cloudsim.Faults{ErrorEvery: 1, DenyScopes: []string{"no"}, FailAfterPage: 1}, cloudsim.Policy{})
	var got []*answer
	for _, scope := range []string{"a", "a", "a", "no"} {
		f, ok := r.Admit(context.Background(), j, cloudsim.Call{Op: "list", Scope: scope})
		if !ok {
			t.Fatal("not ok")
		}
		got = append(got, f)
	}
	if got[0] != internal || got[1] != unavailable || got[2] != internal || got[3].code != "Denied:no" {
		t.Fatalf("answers %v %v %v %v", got[0], got[1], got[2], got[3])
	}
	j.Set(cloudsim.Faults{ThrottleEvery: 2, FailAfterPage: 1})
	if f, _ := r.Admit(context.Background(), j, cloudsim.Call{Op: "list"}); f != nil {
		t.Fatalf("first request answered %v", f)
	}
	if f, _ := r.Admit(context.Background(), j, cloudsim.Call{Op: "list"}); f == nil || f.status != 429 || f.code != "1s" {
		t.Fatalf("second request answered %v", f)
	}
	if f, failed := r.FailPage(j, cloudsim.Call{Op: "list"}, 2); !failed || f != internal {
		t.Fatalf("page 2: %v %v", f, failed)
	}
	st := j.Stats()
	if st.InjectedCodes["InternalError"] != 3 || st.InjectedCodes["Unavailable"] != 1 || st.InjectedStatus[403] != 1 || st.InjectedStatus[429] != 1 {
		t.Fatalf("stats %+v", st)
	}
}
