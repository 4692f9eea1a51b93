package gcpsim_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/rosterhq/roster/sources/gcp/gcpsim"
)

const (
	scopeCompute = "https://www.googleapis.com/auth/compute.readonly"
	scopeStorage = "https://www.googleapis.com/auth/devstorage.read_only"
)

// start serves a simulator on an httptest server.
func start(t *testing.T, opts gcpsim.Options) (*gcpsim.Server, string) {
	t.Helper()
	srv, err := gcpsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts.URL
}

// credsFor exchanges key for a token the way every Google client does,
// through the auth library's service account flow.
func credsFor(t *testing.T, key []byte, scopes ...string) *auth.Credentials {
	t.Helper()
	creds, err := credentials.DetectDefault(&credentials.DetectOptions{CredentialsJSON: key, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

// client is a Compute instances client on the simulator, with no retries
// of its own beyond what a test passes per call.
func client(t *testing.T, endpoint string, creds *auth.Credentials) *compute.InstancesClient {
	t.Helper()
	c, err := compute.NewInstancesRESTClient(t.Context(), option.WithEndpoint(endpoint), option.WithAuthCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newClient(t *testing.T, srv *gcpsim.Server, endpoint string) *compute.InstancesClient {
	t.Helper()
	return client(t, endpoint, credsFor(t, srv.KeyFile(endpoint), scopeCompute))
}

// noRetry overrides the client's default retry of 503s, so that a test
// sees each answer.
var noRetry = gax.WithRetry(func() gax.Retryer { return nil })

// aggregated pages through the aggregated list, one request per page,
// and returns the instances, the number of pages and every zone key seen
// with a warning.
func aggregated(t *testing.T, c *compute.InstancesClient, req *computepb.AggregatedListInstancesRequest) ([]*computepb.Instance, int, map[string]bool) {
	t.Helper()
	var out []*computepb.Instance
	warned := map[string]bool{}
	it := c.AggregatedList(t.Context(), req, noRetry)
	token := ""
	for pages := 1; ; pages++ {
		pairs, next, err := it.InternalFetch(int(req.GetMaxResults()), token)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, pair := range pairs {
			if w := pair.Value.GetWarning(); w != nil {
				if w.GetCode() != "NO_RESULTS_ON_PAGE" || len(pair.Value.GetInstances()) > 0 {
					t.Fatalf("%s: warning %v with %d instances", pair.Key, w, len(pair.Value.GetInstances()))
				}
				warned[pair.Key] = true
			}
			out = append(out, pair.Value.GetInstances()...)
		}
		if next == "" {
			return out, pages, warned
		}
		token = next
	}
}

func ids(list []*computepb.Instance) []string {
	out := make([]string, len(list))
	for i, in := range list {
		out[i] = in.GetName() + "@" + lastPart(in.GetZone())
	}
	return out
}

func lastPart(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

func infoIDs(list []gcpsim.InstanceInfo, keep func(gcpsim.InstanceInfo) bool) []string {
	var out []string
	for _, in := range list {
		if keep == nil || keep(in) {
			out = append(out, in.Name+"@"+in.Zone)
		}
	}
	return out
}

func projectOf(p string) func(gcpsim.InstanceInfo) bool {
	return func(i gcpsim.InstanceInfo) bool { return i.Project == p }
}

func apiErr(t *testing.T, err error, code int, reason string) *googleapi.Error {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v is not a googleapi.Error", err)
	}
	if ge.Code != code || len(ge.Errors) == 0 || ge.Errors[0].Reason != reason {
		t.Fatalf("error %d %v, want %d %s", ge.Code, ge.Errors, code, reason)
	}
	return ge
}

func TestFleetIsDeterministic(t *testing.T) {
	a, err := gcpsim.NewFleet(7, 300, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := gcpsim.NewFleet(7, 300, nil, nil)
	c, _ := gcpsim.NewFleet(8, 300, nil, nil)
	if !reflect.DeepEqual(a.Instances(), b.Instances()) {
		t.Fatal("the same seed gave two fleets")
	}
	if reflect.DeepEqual(a.Instances(), c.Instances()) {
		t.Fatal("another seed gave the same fleet")
	}
	if a.Len() != 300 {
		t.Fatalf("len %d", a.Len())
	}
	seen := map[string]bool{}
	status := map[string]int{}
	for _, in := range a.Instances() {
		if seen[in.ID] {
			t.Fatalf("duplicate id %s", in.ID)
		}
		seen[in.ID] = true
		status[in.Status]++
		if !slices.Contains(a.Projects(), in.Project) || !slices.Contains(a.Zones(), in.Zone) {
			t.Fatalf("instance %s in %s/%s", in.Name, in.Project, in.Zone)
		}
	}
	if status["RUNNING"] < 200 || status["TERMINATED"] == 0 {
		t.Fatalf("statuses %v", status)
	}
	if _, err := gcpsim.NewFleet(1, 1, []string{"Bad_Project"}, nil); err == nil {
		t.Fatal("a malformed project id was accepted")
	}
}

func TestAggregatedListPagesThroughEveryInstance(t *testing.T) {
	srv, url := start(t, gcpsim.Options{Seed: 1, Size: 1200})
	c := newClient(t, srv, url)
	for _, size := range []uint32{500, 97} {
		got, pages, warned := aggregated(t, c, &computepb.AggregatedListInstancesRequest{Project: "roster-prod", MaxResults: proto.Uint32(size)})
		want := infoIDs(srv.Fleet().Instances(), projectOf("roster-prod"))
		if !slices.Equal(ids(got), want) {
			t.Fatalf("maxResults %d: %d instances, want %d in list order", size, len(got), len(want))
		}
		if wantPages := (len(want) + int(size) - 1) / int(size); pages != wantPages {
			t.Fatalf("maxResults %d: %d pages, want %d", size, pages, wantPages)
		}
		// Zones without instances in the fleet are listed with a warning.
		if !warned["zones/me-central1-a"] || !warned["zones/us-west2-c"] {
			t.Fatalf("no NO_RESULTS_ON_PAGE warning for empty zones: %v", warned)
		}
	}
	stats := srv.Stats()
	if stats.TokensIssued != 1 || stats.Calls(gcpsim.MethodAggregatedList, "roster-prod") == 0 {
		t.Fatalf("stats %+v", stats)
	}
}

func TestZoneListAndErrors(t *testing.T) {
	srv, url := start(t, gcpsim.Options{Seed: 2, Size: 400})
	c := newClient(t, srv, url)
	zone := srv.Fleet().Zones()[0]
	it := c.List(t.Context(), &computepb.ListInstancesRequest{Project: "roster-staging", Zone: zone, MaxResults: proto.Uint32(7)})
	var got []*computepb.Instance
	for {
		in, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, in)
	}
	want := infoIDs(srv.Fleet().Instances(), func(i gcpsim.InstanceInfo) bool { return i.Project == "roster-staging" && i.Zone == zone })
	if len(want) < 8 || !slices.Equal(ids(got), want) {
		t.Fatalf("zone list: %v, want %v", ids(got), want)
	}

	_, err := c.List(t.Context(), &computepb.ListInstancesRequest{Project: "roster-staging", Zone: "mars-north1-a"}).Next()
	apiErr(t, err, 404, "notFound")
	_, err = c.AggregatedList(t.Context(), &computepb.AggregatedListInstancesRequest{Project: "no-such-project"}).Next()
	apiErr(t, err, 404, "notFound")
	_, err = c.AggregatedList(t.Context(), &computepb.AggregatedListInstancesRequest{Project: "roster-prod", MaxResults: proto.Uint32(501)}).Next()
	apiErr(t, err, 400, "invalid")
	_, err = c.AggregatedList(t.Context(), &computepb.AggregatedListInstancesRequest{Project: "roster-prod", Filter: proto.String("name = (")}).Next()
	apiErr(t, err, 400, "invalid")
	// A page token only continues the request it came from.
	it2 := c.AggregatedList(t.Context(), &computepb.AggregatedListInstancesRequest{Project: "roster-prod", MaxResults: proto.Uint32(10)})
	_, tok, err := it2.InternalFetch(10, "")
	if err != nil || tok == "" {
		t.Fatalf("first page: token %q, %v", tok, err)
	}
	_, _, err = c.AggregatedList(t.Context(), &computepb.AggregatedListInstancesRequest{Project: "roster-staging"}).InternalFetch(10, tok)
	apiErr(t, err, 400, "invalid")
}

func TestFilters(t *testing.T) {
	srv, url := start(t, gcpsim.Options{Seed: 3, Size: 600})
	c := newClient(t, srv, url)
	all := srv.Fleet().Instances()
	label := func(i gcpsim.InstanceInfo, k string) string { return i.Labels[k] }
	for _, tc := range []struct {
		filter string
		keep   func(gcpsim.InstanceInfo) bool
	}{
		{`status = RUNNING`, func(i gcpsim.InstanceInfo) bool { return i.Status == "RUNNING" }},
		{`status != RUNNING`, func(i gcpsim.InstanceInfo) bool { return i.Status != "RUNNING" }},
		{`labels.env = prod`, func(i gcpsim.InstanceInfo) bool { return label(i, "env") == "prod" }},
		{`labels.app:*`, func(i gcpsim.InstanceInfo) bool { _, ok := i.Labels["app"]; return ok }},
		{`-labels.app:*`, func(i gcpsim.InstanceInfo) bool { _, ok := i.Labels["app"]; return !ok }},
		{`labels:app`, func(i gcpsim.InstanceInfo) bool { _, ok := i.Labels["app"]; return ok }},
		{`(status = RUNNING) (labels.role = "web")`, func(i gcpsim.InstanceInfo) bool { return i.Status == "RUNNING" && label(i, "role") == "web" }},
		{`labels.role = web OR labels.role = api AND status = RUNNING`, func(i gcpsim.InstanceInfo) bool {
			return (label(i, "role") == "web" || label(i, "role") == "api") && i.Status == "RUNNING"
		}},
		{`NOT (labels.env = prod)`, func(i gcpsim.InstanceInfo) bool { return label(i, "env") != "prod" }},
		{`name = web-00*`, func(i gcpsim.InstanceInfo) bool { return strings.HasPrefix(i.Name, "web-00") }},
		{`tags.items:ssh`, func(i gcpsim.InstanceInfo) bool { return slices.Contains(i.Tags, "ssh") }},
		{`zone = us-central1-a`, func(i gcpsim.InstanceInfo) bool { return i.Zone == "us-central1-a" }},
		{`machineType = "e2-medium"`, func(i gcpsim.InstanceInfo) bool { return i.MachineType == "e2-medium" }},
		{`scheduling.preemptible = true`, func(i gcpsim.InstanceInfo) bool { return i.Spot }},
		{`scheduling.automaticRestart = true AND status = RUNNING`, func(i gcpsim.InstanceInfo) bool { return !i.Spot && i.Status == "RUNNING" }},
		{`networkInterfaces.accessConfigs.natIP:*`, func(i gcpsim.InstanceInfo) bool { return i.PublicIP != "" }},
		{`name eq (web|api)-00[0-9]+`, func(i gcpsim.InstanceInfo) bool {
			return (strings.HasPrefix(i.Name, "web-00") || strings.HasPrefix(i.Name, "api-00"))
		}},
		{`(name ne web-.*) (status eq TERMINATED)`, func(i gcpsim.InstanceInfo) bool {
			return !strings.HasPrefix(i.Name, "web-") && i.Status == "TERMINATED"
		}},
		{`creationTimestamp < "2024-06-01"`, func(i gcpsim.InstanceInfo) bool { return i.Created.Before(time.Date(2024, 6, 1, 7, 0, 0, 0, time.UTC)) }},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			got, _, _ := aggregated(t, c, &computepb.AggregatedListInstancesRequest{Project: "roster-prod", Filter: proto.String(tc.filter), MaxResults: proto.Uint32(100)})
			want := infoIDs(all, func(i gcpsim.InstanceInfo) bool { return i.Project == "roster-prod" && tc.keep(i) })
			if len(want) == 0 {
				t.Fatal("the filter selects nothing: the case proves nothing")
			}
			if !slices.Equal(ids(got), want) {
				t.Fatalf("%d instances, want %d", len(got), len(want))
			}
		})
	}
	for _, bad := range []string{`nosuchfield = 1`, `name = "unterminated`, `(name = a`, `name eq a AND status = RUNNING`, `labels = x`} {
		_, err := c.AggregatedList(t.Context(), &computepb.AggregatedListInstancesRequest{Project: "roster-prod", Filter: proto.String(bad)}).Next()
		apiErr(t, err, 400, "invalid")
	}
}

func TestTokenEndpointChecksTheAssertion(t *testing.T) {
	srv, base := start(t, gcpsim.Options{Seed: 4, Size: 10})
	other, err := gcpsim.NewServiceAccount(gcpsim.DefaultServiceAccountEmail) // same e-mail, another key
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := gcpsim.NewServiceAccount("stranger@elsewhere.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	tokenErr := func(key []byte, scopes ...string) string {
		t.Helper()
		_, err := credsFor(t, key, scopes...).Token(t.Context())
		var ae *auth.Error
		if !errors.As(err, &ae) || ae.Response == nil || ae.Response.StatusCode != 400 {
			t.Fatalf("token error %v, want a 400 from the endpoint", err)
		}
		return string(ae.Body)
	}
	if body := tokenErr(other.KeyFile(base + gcpsim.TokenPath)); !strings.Contains(body, "Invalid JWT Signature") {
		t.Fatalf("another key: %s", body)
	}
	if body := tokenErr(stranger.KeyFile(base + gcpsim.TokenPath)); !strings.Contains(body, "account not found") {
		t.Fatalf("unknown account: %s", body)
	}
	if body := tokenErr(srv.KeyFile(base), "not-a-scope"); !strings.Contains(body, "invalid_scope") {
		t.Fatalf("bad scope: %s", body)
	}
	// The audience must be the endpoint the assertion is posted to.
	aud := strings.Replace(string(srv.KeyFile(base)), base+gcpsim.TokenPath, base+gcpsim.TokenPath+"?x", 1)
	if body := tokenErr([]byte(aud), scopeCompute); !strings.Contains(body, "audience") {
		t.Fatalf("wrong audience: %s", body)
	}
	// A plain form without a JWT is refused too.
	resp, err := http.PostForm(base+gcpsim.TokenPath, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {"a.b.c"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("garbage assertion: %d", resp.StatusCode)
	}
	stats := srv.Stats()
	if stats.TokensIssued != 0 || stats.RejectedOps[gcpsim.MethodToken] != 5 {
		t.Fatalf("stats %+v", stats)
	}
}

func TestComputeChecksTheToken(t *testing.T) {
	srv, base := start(t, gcpsim.Options{Seed: 5, Size: 10})
	req := &computepb.AggregatedListInstancesRequest{Project: "roster-prod"}

	// No token at all.
	resp, err := http.Get(base + "/compute/v1/projects/roster-prod/aggregated/instances")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("no token: %d", resp.StatusCode)
	}

	// A token for the wrong scopes.
	_, err = client(t, base, credsFor(t, srv.KeyFile(base), scopeStorage)).AggregatedList(t.Context(), req).Next()
	ge := apiErr(t, err, 403, "insufficientPermissions")
	if !strings.Contains(ge.Message, "insufficient authentication scopes") {
		t.Fatalf("message %q", ge.Message)
	}

	// A revoked token.
	c := newClient(t, srv, base)
	if _, err := c.AggregatedList(t.Context(), req).Next(); err != nil {
		t.Fatal(err)
	}
	srv.RevokeTokens()
	_, err = c.AggregatedList(t.Context(), req).Next()
	apiErr(t, err, 401, "authError")
	if r := srv.Stats().RejectedOps; r[gcpsim.MethodAggregatedList] != 3 {
		t.Fatalf("rejected %v", r)
	}
}

func TestFaults(t *testing.T) {
	srv, base := start(t, gcpsim.Options{Seed: 6, Size: 300, Faults: gcpsim.Faults{ThrottleEvery: 2, RetryAfter: 3 * time.Second}})
	c := newClient(t, srv, base)
	req := &computepb.AggregatedListInstancesRequest{Project: "roster-prod"}
	if _, err := c.AggregatedList(t.Context(), req, noRetry).Next(); err != nil {
		t.Fatalf("first request: %v", err)
	}
	_, err := c.AggregatedList(t.Context(), req, noRetry).Next()
	ge := apiErr(t, err, 429, "rateLimitExceeded")
	if ra := ge.Header.Get("Retry-After"); ra != "3" {
		t.Fatalf("Retry-After %q", ra)
	}

	srv.SetFaults(gcpsim.Faults{ErrorEvery: 1})
	_, err = c.AggregatedList(t.Context(), req, noRetry).Next()
	apiErr(t, err, 503, "backendError")

	srv.SetFaults(gcpsim.Faults{DenyScopes: []string{"roster-staging"}})
	_, err = c.AggregatedList(t.Context(), &computepb.AggregatedListInstancesRequest{Project: "roster-staging"}, noRetry).Next()
	apiErr(t, err, 403, "forbidden")
	if _, err := c.AggregatedList(t.Context(), req, noRetry).Next(); err != nil {
		t.Fatalf("an allowed project failed: %v", err)
	}

	srv.SetFaults(gcpsim.Faults{FailAfterPage: 1})
	it := c.AggregatedList(t.Context(), &computepb.AggregatedListInstancesRequest{Project: "roster-prod", MaxResults: proto.Uint32(50)}, noRetry)
	_, tok, err := it.InternalFetch(50, "")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = it.InternalFetch(50, tok)
	apiErr(t, err, 500, "backendError")

	srv.SetFaults(gcpsim.Faults{Latency: 30 * time.Millisecond})
	begin := time.Now()
	if _, err := c.AggregatedList(t.Context(), req, noRetry).Next(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d < 30*time.Millisecond {
		t.Fatalf("answered in %v despite 30ms latency", d)
	}
	// Latency gives way when the caller goes away. (The client library's
	// list calls do not pass their context to the HTTP request, so this
	// asks over plain HTTP.)
	at, err := credsFor(t, srv.KeyFile(base), scopeCompute).Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(gcpsim.Faults{Latency: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	hr, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/compute/v1/projects/roster-prod/aggregated/instances", nil)
	hr.Header.Set("Authorization", "Bearer "+at.Value)
	begin = time.Now()
	if resp, err := http.DefaultClient.Do(hr); err == nil {
		resp.Body.Close()
		t.Fatal("a one-minute page beat a 20ms deadline")
	}
	srv.SetFaults(gcpsim.Faults{})

	st := srv.Stats()
	if st.InjectedStatus[429] != 1 || st.InjectedStatus[503] != 1 || st.InjectedStatus[403] != 1 || st.InjectedStatus[500] != 1 {
		t.Fatalf("injected %v", st.InjectedStatus)
	}
	if st.Faulted(gcpsim.MethodAggregatedList, "roster-staging") != 1 {
		t.Fatalf("faulted %v", st.Injected)
	}
}

func TestMutationsAreSeen(t *testing.T) {
	srv, base := start(t, gcpsim.Options{Seed: 8, Size: 60, Projects: []string{"roster-prod"}})
	c := newClient(t, srv, base)
	f := srv.Fleet()
	list := f.Instances()
	a, b := list[0], list[1]
	if err := f.Rename(a.ID, "zz-renamed"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetStatus(b.ID, "TERMINATED"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetLabel(b.ID, "env", "retired"); err != nil {
		t.Fatal(err)
	}
	added, err := f.Add("roster-prod", "europe-west4-a", map[string]string{"role": "new"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(list[2].ID); err != nil {
		t.Fatal(err)
	}
	got, _, _ := aggregated(t, c, &computepb.AggregatedListInstancesRequest{Project: "roster-prod"})
	byID := map[string]*computepb.Instance{}
	for _, in := range got {
		byID[strconv.FormatUint(in.GetId(), 10)] = in
	}
	if in := byID[a.ID]; in == nil || in.GetName() != "zz-renamed" {
		t.Fatalf("renamed instance: %v", in.GetName())
	}
	if in := byID[b.ID]; in == nil || in.GetStatus() != "TERMINATED" || in.GetLabels()["env"] != "retired" || in.GetCpuPlatform() != "Unknown CPU Platform" {
		t.Fatalf("stopped instance: %v %v", in.GetStatus(), in.GetLabels())
	}
	if in := byID[added.ID]; in == nil || in.GetStatus() != "RUNNING" || in.GetLabels()["role"] != "new" {
		t.Fatal("added instance missing")
	}
	if byID[list[2].ID] != nil || len(got) != 60 {
		t.Fatalf("%d instances after one add and one remove (want 60)", len(got))
	}
}

// TestWireFormatRoundTrips checks that what the client decodes is what
// the fleet holds, escaping and all.
func TestWireFormatRoundTrips(t *testing.T) {
	srv, base := start(t, gcpsim.Options{Seed: 9, Size: 200, Projects: []string{"roster-prod"}})
	f := srv.Fleet()
	weird := "quote \" backslash \\ <tag> & = ' tab\t nl\n ünï €"
	info, err := f.Add("roster-prod", "us-central1-a", map[string]string{"note": weird})
	if err != nil {
		t.Fatal(err)
	}
	got, _, _ := aggregated(t, newClient(t, srv, base), &computepb.AggregatedListInstancesRequest{Project: "roster-prod"})
	infos := map[string]gcpsim.InstanceInfo{}
	for _, i := range f.Instances() {
		infos[i.ID] = i
	}
	for _, in := range got {
		want := infos[strconv.FormatUint(in.GetId(), 10)]
		nic := in.GetNetworkInterfaces()[0]
		nat := ""
		if acs := nic.GetAccessConfigs(); len(acs) > 0 {
			nat = acs[0].GetNatIP()
		}
		switch {
		case in.GetName() != want.Name, lastPart(in.GetZone()) != want.Zone, lastPart(in.GetMachineType()) != want.MachineType,
			in.GetStatus() != want.Status, nic.GetNetworkIP() != want.PrivateIP, nat != want.PublicIP,
			lastPart(nic.GetNetwork()) != want.Network, !reflect.DeepEqual(in.GetLabels(), want.Labels) && len(want.Labels) > 0,
			in.GetHostname() != want.Hostname, !slices.Equal(in.GetTags().GetItems(), want.Tags) && len(want.Tags) > 0,
			in.GetSelfLink() != gcpsim.APIBase+"projects/roster-prod/zones/"+want.Zone+"/instances/"+want.Name:
			t.Fatalf("instance %s decoded as %v, fleet has %+v", want.ID, in, want)
		}
		var items []gcpsim.Label
		for _, it := range in.GetMetadata().GetItems() {
			items = append(items, gcpsim.Label{Key: it.GetKey(), Value: it.GetValue()})
		}
		if !slices.Equal(items, want.Metadata) {
			t.Fatalf("metadata %v, want %v", items, want.Metadata)
		}
		if strconv.FormatUint(in.GetId(), 10) == info.ID && in.GetLabels()["note"] != weird {
			t.Fatalf("label came back as %q", in.GetLabels()["note"])
		}
	}
}
