package cloudsim_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// TestOddsDrawLikeASwitch: an Odds table draws what the hand-written
// cumulative switch it replaced drew, one Float64 each, so fleets keep
// their bytes.
func TestOddsDrawLikeASwitch(t *testing.T) {
	odds := cloudsim.NewOdds([]string{"running", "stopped", "pending", "terminated"}, 0.80, 0.95, 0.965)
	a, b := rand.New(rand.NewPCG(7, 7)), rand.New(rand.NewPCG(7, 7))
	seen := map[string]int{}
	for range 5000 {
		var want string
		switch p := b.Float64(); {
		case p < 0.80:
			want = "running"
		case p < 0.95:
			want = "stopped"
		case p < 0.965:
			want = "pending"
		default:
			want = "terminated"
		}
		got := odds.Draw(a)
		if got != want {
			t.Fatalf("drew %q, the switch %q", got, want)
		}
		seen[got]++
	}
	if len(seen) != 4 || seen["running"] < seen["stopped"] {
		t.Fatalf("outcomes %v", seen)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("NewOdds took as many bounds as values")
		}
	}()
	cloudsim.NewOdds([]int{1, 2}, 0.5, 0.7)
}

// TestProfileMachine draws a team only when the profile has teams, so
// clouds that draw it later keep their stream.
func TestProfileMachine(t *testing.T) {
	p := cloudsim.Profile{Roles: cloudsim.Roles, Envs: cloudsim.EnvsByWeight}
	a, b := rand.New(rand.NewPCG(1, 2)), rand.New(rand.NewPCG(1, 2))
	m := p.Machine(a)
	if m.Team != "" || !slices.Contains(cloudsim.Roles, m.Role) || !slices.Contains(cloudsim.EnvsByWeight, m.Env) {
		t.Fatalf("machine %+v", m)
	}
	b.IntN(len(cloudsim.Roles))
	b.IntN(len(cloudsim.EnvsByWeight))
	if a.Uint64() != b.Uint64() {
		t.Fatal("a profile without teams drew more than a role and an environment")
	}
	p.Teams = cloudsim.Teams
	if m := p.Machine(a); !slices.Contains(cloudsim.Teams, m.Team) {
		t.Fatalf("no team in %+v", m)
	}
}

func TestNamer(t *testing.T) {
	n := cloudsim.Namer{}
	got := []string{n.Next("web"), n.Next("db"), n.Next("web")}
	if !slices.Equal(got, []string{"web-0001", "db-0001", "web-0002"}) {
		t.Fatalf("names %q", got)
	}
	if n.Bump("web") != 3 || cloudsim.Name("x", 12345) != "x-12345" {
		t.Fatal("Bump or Name")
	}
}

func TestTags(t *testing.T) {
	if cloudsim.TagsOf(nil) != nil {
		t.Fatal("no tags given became tags")
	}
	if got := cloudsim.TagsOf(map[string]string{}); got == nil || len(got) != 0 {
		t.Fatalf("empty tags: %v", got)
	}
	tags := cloudsim.TagsOf(map[string]string{"b": "2", "Name": "n", "a": "1"}, "Name")
	if fmt.Sprint(tags) != "[{Name n} {a 1} {b 2}]" {
		t.Fatalf("order %v", tags)
	}
	tags = cloudsim.SetTag(tags, "a", "x")
	tags = cloudsim.SetTag(tags, "c", "3")
	tags = cloudsim.DeleteTag(tags, "Name")
	if fmt.Sprint(tags) != "[{a x} {b 2} {c 3}]" {
		t.Fatalf("after edits %v", tags)
	}
	if v, ok := cloudsim.LookupTag(tags, "b"); !ok || v != "2" {
		t.Fatal("LookupTag")
	}
}

// TestAppendExtras draws each extra's chance in order, and its value only
// when the machine carries it.
func TestAppendExtras(t *testing.T) {
	drawn := 0
	extras := []cloudsim.Extra{
		{Chance: 0, Key: "never", Value: func(*rand.Rand, cloudsim.Machine) string { drawn++; return "" }},
		{Chance: 1, Key: "always", Value: func(_ *rand.Rand, m cloudsim.Machine) string { return m.Role + "-x" }},
		{Chance: 1, Key: "fixed", Value: cloudsim.Fixed("v")},
	}
	r := rand.New(rand.NewPCG(3, 3))
	got := cloudsim.AppendExtras(r, []cloudsim.Tag{{Key: "k", Value: "v"}}, cloudsim.Machine{Role: "web"}, extras)
	if drawn != 0 || fmt.Sprint(got) != "[{k v} {always web-x} {fixed v}]" {
		t.Fatalf("extras %v (never's value drawn %d times)", got, drawn)
	}
}

// TestScatter24 hands out distinct addresses that never end in .0 or
// .255, with the prefix in the high bits.
func TestScatter24(t *testing.T) {
	n, seen := 0, map[string]bool{}
	for range 20000 {
		used, x := cloudsim.Scatter24(&n, 2, 2)
		if x&255 == 0 || x&255 == 255 || used >= n {
			t.Fatalf("host part %06x (counter %d of %d)", x, used, n)
		}
		ip := cloudsim.IPv4(52, x)
		if seen[ip] {
			t.Fatalf("%s handed out twice", ip)
		}
		seen[ip] = true
	}
	var m int
	_, a := cloudsim.Scatter24(&m, 0, 2)
	m = 0
	_, b := cloudsim.Scatter24(&m, 1, 2)
	if a == b {
		t.Fatal("the prefix does not change the address")
	}
}

func TestIDs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	u := cloudsim.FormatUUID(cloudsim.Bytes(r, 16))
	if len(u) != 36 || u[14] != '4' || !strings.ContainsRune("89ab", rune(u[19])) {
		t.Fatalf("uuid %s", u)
	}
	if h := cloudsim.Hex64(r); len(h) != 16 {
		t.Fatalf("hex %s", h)
	}
	if m := cloudsim.MAC(r, "fa:16:3e"); len(m) != 17 || !strings.HasPrefix(m, "fa:16:3e:") {
		t.Fatalf("mac %s", m)
	}
	if cloudsim.RequestID() == cloudsim.RequestID() {
		t.Fatal("request ids repeat")
	}
}

func TestPublicIP(t *testing.T) {
	dyn, static := cloudsim.PublicIP{Addr: "1.2.3.4"}, cloudsim.PublicIP{Addr: "5.6.7.8", Static: true}
	if dyn.Shown(true) != "1.2.3.4" || dyn.Shown(false) != "" || static.Shown(false) != "5.6.7.8" {
		t.Fatal("a dynamic address shows only while held, a static one always")
	}
}

type machine struct {
	id   string
	tags []cloudsim.Tag
}

var errNoMachine = errors.New("no such machine")

// TestCore: mutations of unknown ids wrap the fleet's error, Fresh skips
// ids taken, Collect follows the cloud's order, the tagger edits tags.
func TestCore(t *testing.T) {
	c := cloudsim.NewCore[string, machine](42, errNoMachine)
	if c.Seed != 42 || c.Added.Uint64() != cloudsim.Stream(42, cloudsim.AddStream).Uint64() {
		t.Fatal("the core's seed or added stream")
	}
	order := []*machine{{id: "b"}, {id: "a"}}
	for _, m := range order {
		c.Put(m.id, m)
	}
	ids := []string{"a", "b", "c"}
	if got := c.Fresh(func() string { id := ids[0]; ids = ids[1:]; return id }); got != "c" {
		t.Fatalf("fresh id %s", got)
	}
	if err := c.Mutate("zz", func(*machine) error { return nil }); !errors.Is(err, errNoMachine) || !strings.Contains(err.Error(), "zz") {
		t.Fatalf("unknown id: %v", err)
	}
	tg := cloudsim.NewTagger(c, func(m *machine) *[]cloudsim.Tag { return &m.tags })
	if err := tg.SetTag("a", "env", "prod"); err != nil {
		t.Fatal(err)
	}
	if err := tg.SetTag("a", "role", "web"); err != nil {
		t.Fatal(err)
	}
	if err := tg.DeleteTag("a", "env"); err != nil {
		t.Fatal(err)
	}
	got := cloudsim.Collect(c, slices.Values(order), func(m *machine) string { return m.id + fmt.Sprint(m.tags) })
	if !slices.Equal(got, []string{"b[]", "a[{role web}]"}) || c.Len() != 2 {
		t.Fatalf("collected %q", got)
	}
	if s, ok := cloudsim.Snapshot(c, "a", func(m *machine) string { return m.id }); !ok || s != "a" {
		t.Fatal("Snapshot")
	}
	if _, ok := cloudsim.Snapshot(c, "zz", func(m *machine) string { return m.id }); ok {
		t.Fatal("Snapshot of an unknown id")
	}
}

func TestExchangeReply(t *testing.T) {
	rec := httptest.NewRecorder()
	x := cloudsim.NewExchange(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	x.W.Header().Set("X-Request-Id", "r1")
	x.Reply(http.StatusTeapot, "application/json", []byte(`{}`))
	h := rec.Result().Header
	if rec.Code != http.StatusTeapot || x.Status != http.StatusTeapot || rec.Body.String() != "{}" ||
		h.Get("Content-Type") != "application/json" || h.Get("Content-Length") != "2" || h.Get("X-Request-Id") != "r1" {
		t.Fatalf("answer %d %q %v", rec.Code, rec.Body, h)
	}
	if x.Elapsed() <= 0 || cloudsim.OrDiscard(nil) == nil {
		t.Fatal("Elapsed or OrDiscard")
	}
}

func TestScopes(t *testing.T) {
	if got := cloudsim.Scopes(nil, []string{"a", "b"}); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("defaults %q", got)
	}
	if got := cloudsim.Scopes([]string{"x", "x", "y"}, []string{"a"}); !slices.Equal(got, []string{"x", "y"}) {
		t.Fatalf("given %q", got)
	}
	if cloudsim.ScopeStream(1, "a").Uint64() == cloudsim.ScopeStream(1, "b").Uint64() {
		t.Fatal("two scopes drew the same stream")
	}
}
