package awssim

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// listParam returns the values of an ec2query list (Prefix.1, Prefix.2,
// ...) in index order.
func listParam(form url.Values, prefix string) []string {
	type kv struct {
		n int
		v string
	}
	var items []kv
	for k, vs := range form {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok || len(vs) == 0 {
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil {
			continue
		}
		items = append(items, kv{n, vs[0]})
	}
	slices.SortFunc(items, func(a, b kv) int { return a.n - b.n })
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.v
	}
	return out
}

// parseFilters reads Filter.N.Name / Filter.N.Value.M in index order.
func parseFilters(form url.Values) []filterSpec {
	byN := map[int]*filterSpec{}
	values := map[int][]struct {
		m int
		v string
	}{}
	for k, vs := range form {
		rest, ok := strings.CutPrefix(k, "Filter.")
		if !ok || len(vs) == 0 {
			continue
		}
		ns, field, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(ns)
		if err != nil {
			continue
		}
		if byN[n] == nil {
			byN[n] = &filterSpec{}
		}
		switch {
		case field == "Name":
			byN[n].name = vs[0]
		case strings.HasPrefix(field, "Value."):
			if m, err := strconv.Atoi(field[len("Value."):]); err == nil {
				values[n] = append(values[n], struct {
					m int
					v string
				}{m, vs[0]})
			}
		}
	}
	ns := make([]int, 0, len(byN))
	for n := range byN {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	out := make([]filterSpec, 0, len(ns))
	for _, n := range ns {
		vs := values[n]
		slices.SortFunc(vs, func(a, b struct {
			m int
			v string
		}) int {
			return a.m - b.m
		})
		f := *byN[n]
		for _, v := range vs {
			f.values = append(f.values, v.v)
		}
		out = append(out, f)
	}
	return out
}

// checkFilters validates filter names against known (nil = any) and that
// each has a value. It answers the error itself and returns false.
func (q *request) checkFilters(specs []filterSpec, known map[string]bool) bool {
	for _, f := range specs {
		if f.name == "" || (known != nil && !known[f.name]) {
			q.fail(http.StatusBadRequest, "InvalidParameterValue", "The filter '"+f.name+"' is invalid")
			return false
		}
		if len(f.values) == 0 {
			q.fail(http.StatusBadRequest, "InvalidParameterValue", "The filter '"+f.name+"' requires at least one value")
			return false
		}
	}
	return true
}

func queryHash(specs []filterSpec) uint64 {
	var b strings.Builder
	for _, f := range specs {
		b.WriteString(f.name)
		b.WriteByte(0)
		for _, v := range f.values {
			b.WriteString(v)
			b.WriteByte(1)
		}
		b.WriteByte(2)
	}
	return cloudsim.HashString(b.String())
}

func validInstanceID(id string) bool {
	hex, ok := strings.CutPrefix(id, "i-")
	if !ok || (len(hex) != 8 && len(hex) != 17) {
		return false
	}
	return strings.Trim(hex, "0123456789abcdef") == ""
}

func (s *Server) describeInstances(q *request) {
	form := q.R.Form
	specs := parseFilters(form)
	ids := listParam(form, "InstanceId")
	maxStr := form.Get("MaxResults")
	limit := 0
	if maxStr != "" {
		n, err := strconv.Atoi(maxStr)
		switch {
		case err != nil:
			q.fail(http.StatusBadRequest, "InvalidParameterValue", "Value ("+maxStr+") for parameter maxResults is invalid. Expecting a number.")
			return
		case n < 5:
			q.fail(http.StatusBadRequest, "InvalidParameterValue", "Value ( "+maxStr+" ) for parameter maxResults is invalid. Expecting a value greater than 5.")
			return
		case n > 1000:
			q.fail(http.StatusBadRequest, "InvalidParameterValue", "Value ( "+maxStr+" ) for parameter maxResults is invalid. Expecting a value less than or equal to 1000.")
			return
		}
		limit = n
	}
	if len(ids) > 0 && maxStr != "" {
		q.fail(http.StatusBadRequest, "InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
		return
	}
	if !q.checkFilters(specs, nil) {
		return
	}
	filters, bad := compileInstanceFilters(specs, s.account)
	if bad != "" {
		q.fail(http.StatusBadRequest, "InvalidParameterValue", "The filter '"+bad+"' is invalid")
		return
	}
	for _, id := range ids {
		if !validInstanceID(id) {
			q.fail(http.StatusBadRequest, "InvalidInstanceID.Malformed", `Invalid id: "`+id+`"`)
			return
		}
	}
	hash := queryHash(specs)
	tok := cloudsim.PageToken{Page: 0, Scope: q.region, Query: hash}
	if nt := form.Get("NextToken"); nt != "" {
		t, ok := cloudsim.DecodePageToken(nt)
		if !ok || t.Scope != q.region || t.Query != hash || len(ids) > 0 {
			q.fail(http.StatusBadRequest, "InvalidPaginationToken", "The specified pagination token is not valid or is expired.")
			return
		}
		tok = t
	}
	if f, failed := answers.FailPage(s.inj, Call{Op: q.action, Scope: q.region}, tok.Page+1); failed {
		q.fail(f.status, f.code, f.message)
		return
	}

	w := getW()
	defer putW(w)
	fl := s.fleet
	fl.core.RLock()
	var page []*instance
	var next *instance // the first match after a full page
	if len(ids) > 0 {
		var missing []string
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			in, ok := fl.core.Get(id)
			if !ok || in.region != q.region {
				missing = append(missing, id)
				continue
			}
			if matchAll(in, filters) {
				page = append(page, in)
			}
		}
		if len(missing) > 0 {
			fl.core.RUnlock()
			msg := "The instance ID '" + missing[0] + "' does not exist"
			if len(missing) > 1 {
				msg = "The instance IDs '" + strings.Join(missing, ", ") + "' do not exist"
			}
			q.fail(http.StatusBadRequest, "InvalidInstanceID.NotFound", msg)
			return
		}
		slices.SortFunc(page, func(a, b *instance) int { return cmp.Compare(a.seq, b.seq) })
	} else if rs := fl.regions[q.region]; rs != nil {
		list := rs.list[rs.after(tok.LastSeq):]
		if limit > 0 {
			page = make([]*instance, 0, limit)
		}
		for _, in := range list {
			if !matchAll(in, filters) {
				continue
			}
			if limit > 0 && len(page) == limit {
				next = in
				break
			}
			page = append(page, in)
		}
	}
	w.ec2Start("DescribeInstances", q.id)
	w.reservations(page, s.account)
	if next != nil {
		// Resume at the match already found, so no instance is scanned twice.
		w.raw("nextToken", cloudsim.PageToken{Page: tok.Page + 1, LastSeq: next.seq - 1, Query: hash, Scope: q.region}.Encode())
	}
	fl.core.RUnlock()
	w.ec2End("DescribeInstances")
	q.ok(w.b)
}

// record filters: for DescribeRegions and DescribeAvailabilityZones, whose
// items are small string records.
type recordFilter struct {
	name   string
	values patterns
}

// recordFilters reads the request's filters over records with the names
// known, answering an unknown one itself.
func (q *request) recordFilters(known map[string]bool) ([]recordFilter, bool) {
	specs := parseFilters(q.R.Form)
	if !q.checkFilters(specs, known) {
		return nil, false
	}
	return compileRecordFilters(specs), true
}

func compileRecordFilters(specs []filterSpec) []recordFilter {
	out := make([]recordFilter, len(specs))
	for i, s := range specs {
		out[i].name = s.name
		for _, v := range s.values {
			out[i].values = append(out[i].values, compilePattern(v))
		}
	}
	return out
}

func recordMatches(rec map[string]string, fs []recordFilter) bool {
	for _, f := range fs {
		if !f.values.some(rec[f.name]) {
			return false
		}
	}
	return true
}

var regionFilterNames = map[string]bool{"region-name": true, "endpoint": true, "opt-in-status": true}

func (s *Server) describeRegions(q *request) {
	form := q.R.Form
	filters, ok := q.recordFilters(regionFilterNames)
	if !ok {
		return
	}
	all := form.Get("AllRegions") == "true"
	status := map[string]string{}
	var candidates []string
	for _, r := range s.catalog.enabled {
		status[r] = "opt-in-not-required"
		candidates = append(candidates, r)
	}
	for _, r := range s.catalog.optIn {
		status[r] = "not-opted-in"
		if all {
			candidates = append(candidates, r)
		}
	}
	if names := listParam(form, "RegionName"); len(names) > 0 {
		for _, n := range names {
			if status[n] == "" {
				q.fail(http.StatusBadRequest, "InvalidParameterValue", "Invalid region: ["+n+"]")
				return
			}
		}
		candidates = cloudsim.Uniq(names)
	}
	w := getW()
	defer putW(w)
	w.ec2Start("DescribeRegions", q.id)
	w.open("regionInfo")
	for _, r := range candidates {
		rec := map[string]string{"region-name": r, "endpoint": "ec2." + r + ".amazonaws.com", "opt-in-status": status[r]}
		if !recordMatches(rec, filters) {
			continue
		}
		w.open("item")
		w.text("regionName", r)
		w.text("regionEndpoint", rec["endpoint"])
		w.raw("optInStatus", status[r])
		w.close("item")
	}
	w.close("regionInfo")
	w.ec2End("DescribeRegions")
	q.ok(w.b)
}

var zoneFilterNames = map[string]bool{
	"zone-name": true, "zone-id": true, "region-name": true, "state": true, "zone-type": true,
	"group-name": true, "opt-in-status": true, "network-border-group": true,
}

func (s *Server) describeAvailabilityZones(q *request) {
	form := q.R.Form
	filters, ok := q.recordFilters(zoneFilterNames)
	if !ok {
		return
	}
	zones := regionZones(q.region)
	names, zoneIDs := listParam(form, "ZoneName"), listParam(form, "ZoneId")
	for _, n := range names {
		if !slices.ContainsFunc(zones, func(z zone) bool { return z.name == n }) {
			q.fail(http.StatusBadRequest, "InvalidParameterValue", "Invalid availability zone: ["+n+"]")
			return
		}
	}
	for _, n := range zoneIDs {
		if !slices.ContainsFunc(zones, func(z zone) bool { return z.id == n }) {
			q.fail(http.StatusBadRequest, "InvalidParameterValue", "Invalid availability zone ID: ["+n+"]")
			return
		}
	}
	w := getW()
	defer putW(w)
	w.ec2Start("DescribeAvailabilityZones", q.id)
	w.open("availabilityZoneInfo")
	for _, z := range zones {
		if (len(names) > 0 || len(zoneIDs) > 0) && !slices.Contains(names, z.name) && !slices.Contains(zoneIDs, z.id) {
			continue
		}
		group := q.region + "-zg-1"
		rec := map[string]string{
			"zone-name": z.name, "zone-id": z.id, "region-name": q.region, "state": "available",
			"zone-type": "availability-zone", "group-name": group, "opt-in-status": "opt-in-not-required",
			"network-border-group": q.region,
		}
		if !recordMatches(rec, filters) {
			continue
		}
		w.open("item")
		w.raw("optInStatus", "opt-in-not-required")
		w.text("zoneName", z.name)
		w.text("zoneId", z.id)
		w.raw("zoneState", "available")
		w.text("regionName", q.region)
		w.text("groupName", group)
		w.text("networkBorderGroup", q.region)
		w.raw("zoneType", "availability-zone")
		w.empty("messageSet")
		w.close("item")
	}
	w.close("availabilityZoneInfo")
	w.ec2End("DescribeAvailabilityZones")
	q.ok(w.b)
}
