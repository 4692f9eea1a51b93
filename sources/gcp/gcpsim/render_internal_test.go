package gcpsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
)

func TestAppendStringIsValidJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "<a href='x'>&=</a>", "ctl\x00\x01\x1f\x7f", "tab\tnl\ncr\r",
		"ünïcödé €𝄞", "bad\xffutf8\xc3", "\u2028\u2029"} {
		b := googleJSON.Append(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q rendered as %s: %v", s, b, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if got != want {
			t.Fatalf("%q came back as %q", s, got)
		}
		if strings.ContainsAny(string(b), "<>&='") {
			t.Fatalf("%q rendered as %s: <>&=' are escaped by Google's front ends", s, b)
		}
		if !utf8.Valid(b) {
			t.Fatalf("invalid UTF-8 out: %q", b)
		}
	}
}

// renderPage renders the first aggregated page of project as the server
// does.
func renderPage(s *Server, project string, size int) []byte {
	w := getJW()
	defer putJW(w)
	s.fleet.core.RLock()
	page, _, _ := s.fleet.page(project, nil, cursor{page: 1}, size, nil)
	s.renderAggregated(w, project, page, "instances", "compute#instanceAggregatedList", (*jsonw).instance)
	s.fleet.core.RUnlock()
	w.b = append(w.b, '}')
	return append([]byte(nil), w.b...)
}

func TestRenderedPageDecodes(t *testing.T) {
	s, err := New(Options{Seed: 1, Size: 300, Projects: []string{"roster-prod"}})
	if err != nil {
		t.Fatal(err)
	}
	body := renderPage(s, "roster-prod", 500)
	var generic map[string]any
	if err := json.Unmarshal(body, &generic); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	var page computepb.InstanceAggregatedList
	// Unknown fields are errors here: every field rendered must exist in
	// the API's schema.
	if err := protojson.Unmarshal(body, &page); err != nil {
		t.Fatalf("not an InstanceAggregatedList: %v", err)
	}
	n := 0
	for _, sl := range page.GetItems() {
		n += len(sl.GetInstances())
	}
	if n != 300 || len(page.GetItems()) != len(s.fleet.catalog.list) {
		t.Fatalf("%d instances in %d scopes", n, len(page.GetItems()))
	}
}

// BenchmarkRenderPage renders a 500-instance aggregated page.
func BenchmarkRenderPage(b *testing.B) {
	s, err := New(Options{Seed: 1, Size: 500, Projects: []string{"roster-prod"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var size int
	for b.Loop() {
		size = len(renderPage(s, "roster-prod", 500))
	}
	b.ReportMetric(float64(size), "bytes/page")
}

// BenchmarkServePage serves one 500-instance page of a 100,000-instance
// project (authentication, paging, rendering; no network, no client).
func BenchmarkServePage(b *testing.B) {
	s, err := New(Options{Seed: 1, Size: 100_000, Projects: []string{"roster-prod"}})
	if err != nil {
		b.Fatal(err)
	}
	s.tokens["bench"] = &accessToken{email: "bench", compute: true, expires: time.Now().Add(time.Hour)}
	for _, filtered := range []bool{false, true} {
		name := "unfiltered"
		url := "/compute/v1/projects/roster-prod/aggregated/instances?maxResults=500"
		if filtered {
			name = "filtered"
			url += "&filter=" + strings.ReplaceAll("(status = RUNNING) (labels.env = prod)", " ", "%20")
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("Authorization", "Bearer bench")
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkClientDecodePage is the client library's share of a page: what
// its REST transport does with the bytes (protojson into the Compute
// types), for comparison with BenchmarkRenderPage.
func BenchmarkClientDecodePage(b *testing.B) {
	s, err := New(Options{Seed: 1, Size: 500, Projects: []string{"roster-prod"}})
	if err != nil {
		b.Fatal(err)
	}
	body := renderPage(s, "roster-prod", 500)
	b.ReportAllocs()
	for b.Loop() {
		var out computepb.InstanceAggregatedList
		if err := (protojson.UnmarshalOptions{AllowPartial: true, DiscardUnknown: true}).Unmarshal(body, &out); err != nil {
			b.Fatal(err)
		}
	}
}
