package openstacksim

import (
	"cmp"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// novaFaultNames are the keys Nova wraps an error in, by status.
var novaFaultNames = map[int]string{
	400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
	405: "badMethod", 409: "conflictingRequest", 413: "overLimit", 429: "overLimit",
	501: "notImplemented", 503: "serviceUnavailable",
}

// novaError answers in Nova's error format.
func (q *request) novaError(status int, msg string) {
	if status == http.StatusUnauthorized {
		q.keystoneError(status, msg)
		return
	}
	name := novaFaultNames[status]
	if name == "" {
		name = "computeFault"
	}
	w := getW()
	defer putW(w)
	w.obj("")
	w.obj(name)
	w.int("code", status)
	w.str("message", msg)
	if ra := q.W.Header().Get("Retry-After"); ra != "" && name == "overLimit" {
		w.str("retryAfter", ra)
	}
	w.endObj()
	w.endObj()
	q.writeJSON(status, w.b)
}

// novaListings are the operations of Nova's listings, by path.
var novaListings = map[string]string{"/v2.1/servers/detail": OpServers, "/v2.1/flavors/detail": OpFlavors}

func (s *Server) compute(q *request, rest string) {
	switch rest {
	case "/":
		if q.admit(OpVersions, q.novaError) {
			q.writeJSON(http.StatusOK, s.novaVersions(q, true))
		}
		return
	case "/v2.1", "/v2.1/":
		if q.admit(OpVersions, q.novaError) {
			q.writeJSON(http.StatusOK, s.novaVersions(q, false))
		}
		return
	}
	op := novaListings[rest]
	t, ok := s.listing(q, op != "", q.novaError)
	if !ok {
		return
	}
	minor, ok := s.microversion(q)
	if !ok {
		return
	}
	if !q.admit(op, q.novaError) {
		return
	}
	if op == OpServers {
		s.listServers(q, t, minor)
	} else {
		s.listFlavors(q, minor)
	}
}

func (s *Server) novaVersions(q *request, all bool) []byte {
	return versionDoc(all, q.base+computePath+q.region+"/v2.1/", "application/vnd.openstack.compute+json;version=2.1", func(w *jw) {
		w.str("id", "v2.1")
		w.str("status", "CURRENT")
		w.str("version", "2."+strconv.Itoa(s.maxMinor))
		w.str("min_version", "2.1")
		w.str("updated", "2013-07-23T11:33:21Z")
	}, "versions")
}

// microversion reads the requested compute microversion (2.1 without a
// header) and echoes it in the response headers, as Nova does.
func (s *Server) microversion(q *request) (int, bool) {
	v := ""
	if h := q.R.Header.Get("OpenStack-API-Version"); h != "" {
		for part := range strings.SplitSeq(h, ",") {
			if svc, ver, ok := strings.Cut(strings.TrimSpace(part), " "); ok && svc == "compute" {
				v = strings.TrimSpace(ver)
			}
		}
	}
	if v == "" {
		v = q.R.Header.Get("X-OpenStack-Nova-API-Version")
	}
	minor := 1
	switch {
	case v == "":
	case v == "latest":
		minor = s.maxMinor
	default:
		m, ok := parseMicroversion(v)
		if !ok {
			q.novaError(http.StatusBadRequest, "API Version String "+v+" is of invalid format. Must be of format MajorNum.MinorNum.")
			return 0, false
		}
		if m < 1 || m > s.maxMinor {
			q.novaError(http.StatusNotAcceptable, "Version "+v+" is not supported by the API. Minimum is 2.1 and maximum is 2."+strconv.Itoa(s.maxMinor)+".")
			return 0, false
		}
		minor = m
	}
	h := q.W.Header()
	mv := "2." + strconv.Itoa(minor)
	h.Set("OpenStack-API-Version", "compute "+mv)
	h.Set("X-OpenStack-Nova-API-Version", mv)
	h.Set("Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version")
	return minor, true
}

// parseMicroversion parses "2.N" and returns N.
func parseMicroversion(v string) (int, bool) {
	major, minor, ok := strings.Cut(v, ".")
	if !ok || major != "2" {
		return 0, false
	}
	n, err := strconv.Atoi(minor)
	if err != nil || n < 0 || (len(minor) > 1 && minor[0] == '0') {
		return 0, false
	}
	return n, true
}

// Query parameters Nova's list-servers schema knows (others are refused
// from microversion 2.75 and ignored before).
var serverQueryParams = map[string]bool{
	"limit": true, "marker": true, "all_tenants": true, "sort_key": true, "sort_dir": true,
	"user_id": true, "project_id": true, "tenant_id": true, "launch_index": true, "image_ref": true,
	"image": true, "kernel_id": true, "ramdisk_id": true, "hostname": true, "key_name": true,
	"power_state": true, "vm_state": true, "task_state": true, "host": true, "node": true,
	"flavor": true, "reservation_id": true, "launched_at": true, "terminated_at": true,
	"availability_zone": true, "name": true, "display_name": true, "description": true,
	"display_description": true, "locked_by": true, "uuid": true, "root_device_name": true,
	"config_drive": true, "access_ip_v4": true, "access_ip_v6": true, "auto_disk_config": true,
	"progress": true, "soft_deleted": true, "deleted": true, "status": true, "changes-since": true,
	"changes-before": true, "ip": true, "ip6": true, "created_at": true, "tags": true,
	"tags-any": true, "not-tags": true, "not-tags-any": true, "locked": true,
	"pinned_availability_zone": true,
}

// nonAdminFilters are the filters Nova applies for a non-admin, by the
// microversion they appear in; it silently drops the others.
var nonAdminFilters = map[string]int{
	"reservation_id": 1, "name": 1, "status": 1, "image": 1, "flavor": 1, "ip": 1,
	"changes-since": 1, "all_tenants": 1, "tags": 26, "tags-any": 26, "not-tags": 26,
	"not-tags-any": 26, "changes-before": 66, "availability_zone": 83, "config_drive": 83,
	"key_name": 83, "created_at": 83, "launched_at": 83, "terminated_at": 83,
	"power_state": 83, "task_state": 83, "vm_state": 83, "progress": 83, "user_id": 83,
}

// serverFilter is one compiled filter of servers/detail.
type serverFilter func(*server) bool

// compileServerFilters turns the query into filters. It answers 400 itself
// (and returns ok false) for a bad value.
func (s *Server) compileServerFilters(q *request, query url.Values, t *token, minor int) (filters []serverFilter, allTenants, ok bool) {
	for _, k := range slices.Sorted(mapsKeys(query)) {
		if minor >= 75 && !serverQueryParams[k] {
			q.novaError(http.StatusBadRequest, "Invalid input for query parameters "+k+". Value: "+query.Get(k)+". Additional properties are not allowed ('"+k+"' was unexpected)")
			return nil, false, false
		}
	}
	if _, ok := query["all_tenants"]; ok {
		v := strings.ToLower(query.Get("all_tenants"))
		allTenants = v != "0" && v != "false" && v != "f" && v != "no" && v != "off"
		if allTenants && !t.admin {
			q.novaError(http.StatusForbidden, "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants to be performed.")
			return nil, false, false
		}
	}
	allowed := func(k string) bool {
		if t.admin {
			return true
		}
		v, ok := nonAdminFilters[k]
		return ok && minor >= v
	}
	for k, vs := range query {
		if len(vs) == 0 || !allowed(k) {
			continue
		}
		v := vs[len(vs)-1]
		switch k {
		case "name", "display_name":
			re, err := regexp.Compile(v)
			if err != nil {
				q.novaError(http.StatusBadRequest, "Invalid regular expression for name: "+v)
				return nil, false, false
			}
			filters = append(filters, func(x *server) bool { return re.MatchString(x.name) })
		case "status":
			want := strings.ToUpper(v)
			if _, ok := statusStates[want]; !ok {
				if minor >= 38 {
					q.novaError(http.StatusBadRequest, "Invalid status value")
					return nil, false, false
				}
				filters = append(filters, func(*server) bool { return false })
				continue
			}
			filters = append(filters, func(x *server) bool { return x.status == want })
		case "image":
			filters = append(filters, func(x *server) bool { return x.imageID == v })
		case "flavor":
			filters = append(filters, func(x *server) bool { return x.flavor.ID == v })
		case "availability_zone":
			filters = append(filters, func(x *server) bool { return x.az == v })
		case "key_name":
			filters = append(filters, func(x *server) bool { return x.keyName == v })
		case "user_id":
			filters = append(filters, func(x *server) bool { return x.userID == v })
		case "uuid":
			filters = append(filters, func(x *server) bool { return x.id == v })
		case "project_id", "tenant_id":
			filters = append(filters, func(x *server) bool { return x.project.id == v })
		case "host":
			filters = append(filters, func(x *server) bool { return x.host == v })
		case "locked":
			want := strings.EqualFold(v, "true") || v == "1"
			filters = append(filters, func(x *server) bool { return x.locked == want })
		case "ip", "ip6":
			re, err := regexp.Compile(v)
			if err != nil {
				q.novaError(http.StatusBadRequest, "Invalid regular expression for "+k+": "+v)
				return nil, false, false
			}
			version := 4
			if k == "ip6" {
				version = 6
			}
			filters = append(filters, func(x *server) bool {
				for _, n := range x.nets {
					for _, a := range n.addrs {
						if a.Version == version && re.MatchString(a.Addr) {
							return true
						}
					}
				}
				return false
			})
		case "tags", "tags-any", "not-tags", "not-tags-any":
			want := strings.Split(v, ",")
			anyOf, negate := strings.HasSuffix(k, "-any"), strings.HasPrefix(k, "not-")
			filters = append(filters, func(x *server) bool {
				n := 0
				for _, tg := range want {
					if slices.Contains(x.tags, tg) {
						n++
					}
				}
				match := n == len(want)
				if anyOf {
					match = n > 0
				}
				return match != negate
			})
		}
	}
	if !allTenants {
		p := t.project
		filters = append(filters, func(x *server) bool { return x.project == p })
	}
	return filters, allTenants, true
}

func mapsKeys(v url.Values) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range v {
			if !yield(k) {
				return
			}
		}
	}
}

func matchAll(x *server, fs []serverFilter) bool {
	for _, f := range fs {
		if !f(x) {
			return false
		}
	}
	return true
}

// pageLimit reads limit: absent or above the maximum means the maximum.
func (s *Server) pageLimit(q *request, query url.Values) (int, bool) {
	limit := s.maxLimit
	if v := query.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			q.novaError(http.StatusBadRequest, "Invalid input for query parameters limit. Value: "+v+". '"+v+"' does not match '^[0-9]*$'")
			return 0, false
		}
		limit = min(n, s.maxLimit)
	}
	return limit, true
}

// listServers answers servers/detail: the newest first, limit/marker
// paging with a next link when a page is full, as Nova does.
func (s *Server) listServers(q *request, t *token, minor int) {
	query := q.R.URL.Query()
	limit, ok := s.pageLimit(q, query)
	if !ok {
		return
	}
	filters, _, ok := s.compileServerFilters(q, query, t, minor)
	if !ok {
		return
	}
	fl := s.fleet
	fl.core.RLock()
	rs := fl.byRegion[q.region]
	start := len(rs.list) - 1
	if marker := query.Get("marker"); marker != "" {
		seq, found := uint64(0), false
		if x, ok := fl.core.Get(marker); ok && x.region == rs {
			seq, found = x.seq, true
		} else if g, ok := fl.gone[marker]; ok {
			seq, found = g, true
		}
		if !found {
			fl.core.RUnlock()
			q.novaError(http.StatusBadRequest, "marker ["+marker+"] not found")
			return
		}
		i, _ := slices.BinarySearchFunc(rs.list, seq, func(x *server, seq uint64) int { return cmp.Compare(x.seq, seq) })
		start = i - 1
		if _, failed := answers.FailPage(s.inj, Call{Op: OpServers, Scope: q.region}, s.pageNumber(rs, start, limit, filters)); failed {
			fl.core.RUnlock()
			q.novaError(http.StatusInternalServerError, "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.")
			return
		}
	}
	page := make([]*server, 0, min(limit, 1024))
	for i := start; i >= 0 && len(page) < limit; i-- {
		if x := rs.list[i]; matchAll(x, filters) {
			page = append(page, x)
		}
	}
	w := getW()
	defer putW(w)
	w.list("servers")
	compute := q.base + computePath + q.region
	for _, x := range page {
		s.renderServer(w, compute, x, minor, t.admin)
	}
	w.endArr()
	if len(page) == limit && limit > 0 {
		next := nextQuery(query, page[len(page)-1].id)
		w.arr("servers_links")
		w.obj("")
		w.str("href", q.base+computePath+q.region+"/v2.1/servers/detail?"+next)
		w.str("rel", "next")
		w.endObj()
		w.endArr()
	}
	fl.core.RUnlock()
	w.endObj()
	q.writeJSON(http.StatusOK, w.b)
}

// pageNumber is the number of the page that starts at list index start:
// one more than the pages of matching servers listed before it.
func (s *Server) pageNumber(rs *regionSet, start, limit int, filters []serverFilter) int {
	if s.inj.Faults().FailAfterPage <= 0 || limit == 0 {
		return 1
	}
	before := 0
	for i := len(rs.list) - 1; i > start; i-- {
		if matchAll(rs.list[i], filters) {
			before++
		}
	}
	return (before+limit-1)/limit + 1
}

// renderServer writes one server as servers/detail shows it at microversion
// 2.minor, with the admin-only fields when admin; compute is the endpoint
// URL its links start with.
func (s *Server) renderServer(w *jw, compute string, x *server, minor int, admin bool) {
	st := statusStates[x.status]
	w.named("", x.id, x.name)
	w.str("status", x.status)
	w.str("tenant_id", x.project.id)
	w.str("user_id", x.userID)
	w.obj("metadata")
	for _, m := range x.metadata {
		w.str(m.Key, m.Value)
	}
	w.endObj()
	w.str("hostId", x.hostID)
	if x.imageID == "" {
		w.str("image", "")
	} else {
		w.obj("image")
		w.str("id", x.imageID)
		w.links("bookmark", compute, "/images/", x.imageID)
		w.endObj()
	}
	fl := x.flavor
	w.obj("flavor")
	if minor >= 47 {
		w.int("vcpus", fl.VCPUs)
		w.int("ram", fl.RAM)
		w.int("disk", fl.Disk)
		w.int("ephemeral", fl.Ephemeral)
		w.int("swap", fl.Swap)
		w.str("original_name", fl.Name)
		w.obj("extra_specs")
		for _, k := range specKeys[fl.ID] {
			w.str(k, fl.ExtraSpecs[k])
		}
		w.endObj()
	} else {
		w.str("id", fl.ID)
		w.links("bookmark", compute, "/flavors/", fl.ID)
	}
	w.endObj()
	w.time("created", x.created, "2006-01-02T15:04:05Z")
	w.time("updated", x.updated, "2006-01-02T15:04:05Z")
	w.obj("addresses")
	for _, n := range x.nets {
		w.arr(n.name)
		for _, a := range n.addrs {
			w.obj("")
			w.int("version", a.Version)
			w.str("addr", a.Addr)
			w.str("OS-EXT-IPS:type", a.Type)
			w.str("OS-EXT-IPS-MAC:mac_addr", a.MAC)
			w.endObj()
		}
		w.endArr()
	}
	w.endObj()
	w.str("accessIPv4", "")
	w.str("accessIPv6", "")
	w.arr("links")
	w.link("self", compute, "/v2.1/servers/", x.id)
	w.link("bookmark", compute, "/servers/", x.id)
	w.endArr()
	w.str("OS-DCF:diskConfig", x.diskCfg)
	if x.status == "BUILD" {
		w.int("progress", 0)
	}
	w.str("OS-EXT-AZ:availability_zone", x.az)
	if minor >= 96 {
		w.null("pinned_availability_zone")
	}
	if x.cfgDrive {
		w.str("config_drive", "True")
	} else {
		w.str("config_drive", "")
	}
	w.strOrNull("key_name", x.keyName)
	if x.launched.IsZero() {
		w.null("OS-SRV-USG:launched_at")
	} else {
		w.time("OS-SRV-USG:launched_at", x.launched, "2006-01-02T15:04:05.000000")
	}
	w.null("OS-SRV-USG:terminated_at")
	if admin {
		w.strOrNull("OS-EXT-SRV-ATTR:host", x.host)
		w.str("OS-EXT-SRV-ATTR:instance_name", x.instName)
		if x.host == "" {
			w.null("OS-EXT-SRV-ATTR:hypervisor_hostname")
		} else {
			w.strCat("OS-EXT-SRV-ATTR:hypervisor_hostname", x.host, ".cloud.example.net")
		}
		if minor >= 3 {
			w.str("OS-EXT-SRV-ATTR:reservation_id", x.resID)
			w.int("OS-EXT-SRV-ATTR:launch_index", 0)
			w.str("OS-EXT-SRV-ATTR:hostname", x.hostname)
			w.str("OS-EXT-SRV-ATTR:kernel_id", "")
			w.str("OS-EXT-SRV-ATTR:ramdisk_id", "")
			w.str("OS-EXT-SRV-ATTR:root_device_name", "/dev/vda")
			w.strOrNull("OS-EXT-SRV-ATTR:user_data", x.userData)
		}
	} else if minor >= 90 {
		w.str("OS-EXT-SRV-ATTR:hostname", x.hostname)
	}
	if st.task == "" {
		w.null("OS-EXT-STS:task_state")
	} else {
		w.str("OS-EXT-STS:task_state", st.task)
	}
	w.str("OS-EXT-STS:vm_state", st.vm)
	w.int("OS-EXT-STS:power_state", st.power)
	w.arr("os-extended-volumes:volumes_attached")
	for _, v := range x.volumes {
		w.obj("")
		w.str("id", v)
		if minor >= 3 {
			w.bool("delete_on_termination", x.imageID == "" && v == x.volumes[0])
		}
		w.endObj()
	}
	w.endArr()
	if minor >= 9 {
		w.bool("locked", x.locked)
	}
	if minor >= 73 {
		if x.locked {
			w.str("locked_reason", "maintenance")
		} else {
			w.null("locked_reason")
		}
	}
	if minor >= 19 {
		if x.hasDescr {
			w.str("description", x.descr)
		} else {
			w.null("description")
		}
	}
	if minor >= 26 {
		w.strs("tags", x.tags)
	}
	if minor >= 63 {
		w.null("trusted_image_certificates")
	}
	if admin && minor >= 16 {
		if x.host == "" {
			w.str("host_status", "")
		} else {
			w.str("host_status", "UP")
		}
	}
	if len(x.secGroups) > 0 {
		w.arr("security_groups")
		for _, g := range x.secGroups {
			w.obj("")
			w.str("name", g)
			w.endObj()
		}
		w.endArr()
	}
	if minor >= 71 {
		w.arr("server_groups")
		w.endArr()
	}
	if x.status == "ERROR" {
		w.obj("fault")
		w.int("code", 500)
		w.time("created", x.updated, "2006-01-02T15:04:05Z")
		w.str("message", "No valid host was found. There are not enough hosts available.")
		w.endObj()
	}
	w.endObj()
}

// specKeys are the flavors' extra spec keys, sorted, by flavor id.
var specKeys = func() map[string][]string {
	m := map[string][]string{}
	for _, f := range flavors {
		m[f.ID] = slices.Sorted(mapKeysStr(f.ExtraSpecs))
	}
	return m
}()

func mapKeysStr(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// listFlavors answers flavors/detail, paged by limit and marker (a
// flavor id) with a flavors_links next link when a page is full.
func (s *Server) listFlavors(q *request, minor int) {
	query := q.R.URL.Query()
	limit, ok := s.pageLimit(q, query)
	if !ok {
		return
	}
	marker := query.Get("marker")
	start, end, ok := markerPage(flavors, marker, limit, func(f Flavor) string { return f.ID })
	if !ok {
		q.novaError(http.StatusBadRequest, "marker ["+marker+"] not found")
		return
	}
	compute := q.base + computePath + q.region
	w := getW()
	defer putW(w)
	w.list("flavors")
	for _, f := range flavors[start:end] {
		w.named("", f.ID, f.Name)
		w.int("ram", f.RAM)
		w.int("disk", f.Disk)
		w.int("vcpus", f.VCPUs)
		if f.Swap == 0 && minor < 75 {
			w.str("swap", "")
		} else {
			w.int("swap", f.Swap)
		}
		w.int("OS-FLV-EXT-DATA:ephemeral", f.Ephemeral)
		w.bool("OS-FLV-DISABLED:disabled", false)
		w.bool("os-flavor-access:is_public", true)
		w.float("rxtx_factor", 1.0)
		if minor >= 55 {
			w.null("description")
		}
		if minor >= 61 {
			w.obj("extra_specs")
			for _, k := range slices.Sorted(mapKeysStr(f.ExtraSpecs)) {
				w.str(k, f.ExtraSpecs[k])
			}
			w.endObj()
		}
		w.arr("links")
		w.link("self", compute, "/v2.1/flavors/", f.ID)
		w.link("bookmark", compute, "/flavors/", f.ID)
		w.endArr()
		w.endObj()
	}
	w.endArr()
	if end-start == limit && limit > 0 {
		next := nextQuery(query, flavors[end-1].ID)
		w.arr("flavors_links")
		w.obj("")
		w.str("href", compute+"/v2.1/flavors/detail?"+next)
		w.str("rel", "next")
		w.endObj()
		w.endArr()
	}
	w.endObj()
	q.writeJSON(http.StatusOK, w.b)
}
