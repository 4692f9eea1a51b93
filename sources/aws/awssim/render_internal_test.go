package awssim

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestWildcards(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"web-0042", "web-0042", true},
		{"web-0042", "web-00421", false},
		{"web-*", "web-0042", true},
		{"web-*", "web-", true},
		{"web-*", "api-1", false},
		{"*", "", true},
		{"*-0042", "web-0042", true},
		{"w?b-*2", "web-0042", true},
		{"w?b-*2", "wb-0042", false},
		{"?", "é", true},
		{"??", "é", false},
		{"*a*b*c", "xaxbxbxc", true},
		{"*a*b*c", "xaxbxbxcx", false},
		{`web\*`, "web*", true},
		{`web\*`, "web-1", false},
		{`what\?`, "what?", true},
		{`a\\b`, `a\b`, true},
		{"R&D / 42", "R&D / 42", true},
		{"WEB-*", "web-0042", false}, // case-sensitive
	} {
		if got := compilePattern(tc.pattern).match(tc.s); got != tc.want {
			t.Errorf("%q matches %q = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestAppendEscaped(t *testing.T) {
	for in, want := range map[string]string{
		"plain":            "plain",
		`R&D <"x"> 'y'`:    `R&amp;D &lt;"x"&gt; 'y'`,
		"crlf\r\n\ttab":    "crlf&#xD;\n\ttab",
		"bell\x07 nul\x00": "bell\uFFFD nul\uFFFD",
		"bad\xffutf8 é":    "bad\uFFFDutf8 é",
	} {
		if got := string(appendEscaped(nil, in)); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
		var v struct {
			S string `xml:",chardata"`
		}
		if err := xml.Unmarshal([]byte("<v>"+want+"</v>"), &v); err != nil {
			t.Errorf("%q does not parse: %v", want, err)
		}
	}
}

// The XML of an instance must stay small: the benchmark syncs 100,000.
func TestInstanceXMLSize(t *testing.T) {
	f := NewFleet(1, 3000, []string{"us-east-1"})
	w := getW()
	defer putW(w)
	list := f.regions["us-east-1"].list
	var total, largest int
	for _, in := range list {
		w.b = w.b[:0]
		w.instance(in, f.account)
		total += len(w.b)
		largest = max(largest, len(w.b))
		if err := xml.Unmarshal(w.b, new(struct{})); err != nil {
			t.Fatalf("%s: %v", in.id, err)
		}
	}
	avg := total / len(list)
	t.Logf("instance XML: average %d bytes, largest %d", avg, largest)
	if avg > 2700 || largest > 3400 {
		t.Fatalf("instance XML too large: average %d, largest %d", avg, largest)
	}
}

// Paging through a large region with a selective filter evaluates each
// instance once, not once per page.
func TestFilteredPaginationIsLinear(t *testing.T) {
	s := New(Options{Seed: 1, Size: 20000, Regions: []string{"us-east-1"}, SettleDelay: -1})
	scanned := 0
	matchCalls := instanceFilters["instance-type"]
	instanceFilters["instance-type"] = func(in *instance, ps patterns) bool { scanned++; return matchCalls(in, ps) }
	defer func() { instanceFilters["instance-type"] = matchCalls }()
	token, pages, found := "", 0, 0
	for {
		form := url.Values{"Action": {"DescribeInstances"}, "MaxResults": {"5"}, "Filter.1.Name": {"instance-type"}, "Filter.1.Value.1": {"c7g.xlarge"}}
		if token != "" {
			form.Set("NextToken", token)
		}
		body := doForm(t, s, form)
		var out struct {
			IDs  []string `xml:"reservationSet>item>instancesSet>item>instanceId"`
			Next string   `xml:"nextToken"`
		}
		if err := xml.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		pages++
		found += len(out.IDs)
		if token = out.Next; token == "" {
			break
		}
	}
	if found == 0 || scanned > 20000+pages {
		t.Fatalf("%d pages, %d found, %d filter evaluations for 20000 instances", pages, found, scanned)
	}
}

func doForm(t testing.TB, s *Server, form url.Values) []byte {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20250601/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("ab", 32))
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	return rec.Body.Bytes()
}

// BenchmarkRenderPage renders a DescribeInstances page of 1000 instances.
func BenchmarkRenderPage(b *testing.B) {
	f := NewFleet(1, 1000, []string{"us-east-1"})
	page := f.regions["us-east-1"].list
	b.ReportAllocs()
	var size int
	for b.Loop() {
		w := getW()
		w.ec2Start("DescribeInstances", "00000000-0000-4000-8000-000000000000")
		w.reservations(page, f.account)
		w.ec2End("DescribeInstances")
		size = len(w.b)
		putW(w)
	}
	b.ReportMetric(float64(size), "bytes/page")
}

// BenchmarkDescribeInstancesPage serves one 1000-instance page of a
// 100,000-instance region (parse, filter, render; no network, no SDK).
func BenchmarkDescribeInstancesPage(b *testing.B) {
	s := New(Options{Seed: 1, Size: 100000, Regions: []string{"us-east-1"}, SettleDelay: -1})
	for _, filtered := range []bool{false, true} {
		b.Run(fmt.Sprintf("filtered=%v", filtered), func(b *testing.B) {
			form := url.Values{"Action": {"DescribeInstances"}, "MaxResults": {"1000"}}
			if filtered {
				form.Set("Filter.1.Name", "instance-state-name")
				form.Set("Filter.1.Value.1", "running")
				form.Set("Filter.2.Name", "tag:Env")
				form.Set("Filter.2.Value.1", "prod*")
			}
			b.ReportAllocs()
			for b.Loop() {
				doForm(b, s, form)
			}
		})
	}
}

func BenchmarkNewFleet100k(b *testing.B) {
	for b.Loop() {
		NewFleet(1, 100000, nil)
	}
}
