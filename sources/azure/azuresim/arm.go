package azuresim

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/rosterhq/roster/internal/cloudsim"
)

var apiVersionPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha)?$`)

// route is one ARM operation the server answers, with what the path named.
type route struct {
	op       string
	rg       string // resource group, "" for subscription-wide lists
	name     string // resource name (get, instanceView, scale set)
	instance string // a scale set's instance id
	nic      string // a scale-set instance's NIC
	ipConfig string // and its IP configuration
	pip      string // and that one's public IP
	statusOK bool   // statusOnly=true is allowed
}

// matchARM maps the path segments after /subscriptions/{id} to an
// operation. ARM matches namespaces, types and names case-insensitively.
func matchARM(rest []string) (route, bool) {
	eq := strings.EqualFold
	is := func(seg []string, want ...string) bool {
		if len(seg) != len(want) {
			return false
		}
		for i, w := range want {
			if w != "*" && !eq(seg[i], w) {
				return false
			}
		}
		return true
	}
	switch {
	case is(rest, "providers", "Microsoft.Compute", "virtualMachines"):
		return route{op: OpVMListAll, statusOK: true}, true
	case is(rest, "providers", "Microsoft.Compute", "virtualMachineScaleSets"):
		return route{op: OpScaleSetListAll}, true
	case is(rest, "providers", "Microsoft.Network", "networkInterfaces"):
		return route{op: OpNICListAll}, true
	case is(rest, "providers", "Microsoft.Network", "publicIPAddresses"):
		return route{op: OpPublicIPListAll}, true
	}
	if len(rest) < 5 || !eq(rest[0], "resourceGroups") || !eq(rest[2], "providers") {
		return route{}, false
	}
	rg, tail := rest[1], rest[3:]
	switch {
	case is(tail, "Microsoft.Compute", "virtualMachines"):
		return route{op: OpVMList, rg: rg}, true
	case is(tail, "Microsoft.Compute", "virtualMachines", "*", "instanceView"):
		return route{op: OpVMInstanceView, rg: rg, name: tail[2]}, true
	case is(tail, "Microsoft.Compute", "virtualMachineScaleSets"):
		return route{op: OpScaleSetList, rg: rg}, true
	case is(tail, "Microsoft.Compute", "virtualMachineScaleSets", "*", "virtualMachines"):
		return route{op: OpScaleSetVMList, rg: rg, name: tail[2]}, true
	case is(tail, "Microsoft.Compute", "virtualMachineScaleSets", "*", "virtualMachines", "*", "instanceView"):
		return route{op: OpScaleSetVMInstanceView, rg: rg, name: tail[2], instance: tail[4]}, true
	case is(tail, "Microsoft.Compute", "virtualMachineScaleSets", "*", "virtualMachines", "*", "networkInterfaces"):
		return route{op: OpNICListScaleSetVM, rg: rg, name: tail[2], instance: tail[4]}, true
	case is(tail, "Microsoft.Compute", "virtualMachineScaleSets", "*", "virtualMachines", "*", "networkInterfaces", "*"):
		return route{op: OpNICGetScaleSetVM, rg: rg, name: tail[2], instance: tail[4], nic: tail[6]}, true
	case is(tail, "Microsoft.Compute", "virtualMachineScaleSets", "*", "virtualMachines", "*", "networkInterfaces", "*",
		"ipConfigurations", "*", "publicIPAddresses", "*"):
		return route{op: OpPublicIPGetScaleSetVM, rg: rg, name: tail[2], instance: tail[4], nic: tail[6], ipConfig: tail[8], pip: tail[10]}, true
	case is(tail, "Microsoft.Compute", "virtualMachineScaleSets", "*", "networkInterfaces"):
		return route{op: OpNICListScaleSet, rg: rg, name: tail[2]}, true
	case is(tail, "Microsoft.Compute", "virtualMachineScaleSets", "*", "publicIPAddresses"):
		return route{op: OpPublicIPListScale, rg: rg, name: tail[2]}, true
	case is(tail, "Microsoft.Network", "networkInterfaces"):
		return route{op: OpNICList, rg: rg}, true
	case is(tail, "Microsoft.Network", "networkInterfaces", "*"):
		return route{op: OpNICGet, rg: rg, name: tail[2]}, true
	case is(tail, "Microsoft.Network", "publicIPAddresses"):
		return route{op: OpPublicIPList, rg: rg}, true
	case is(tail, "Microsoft.Network", "publicIPAddresses", "*"):
		return route{op: OpPublicIPGet, rg: rg, name: tail[2]}, true
	}
	return route{}, false
}

// serveARM answers a Resource Manager request: bearer token, api-version,
// subscription and route checks, faults, then the operation.
func (s *Server) serveARM(q *request, segs []string) {
	if !s.checkToken(q) {
		return
	}
	query := q.R.URL.Query()
	version := query.Get("api-version")
	switch {
	case version == "":
		q.reject(http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
		return
	case !apiVersionPattern.MatchString(version):
		q.reject(http.StatusBadRequest, "InvalidApiVersionParameter", "The api-version '"+version+"' is invalid. The supported versions are '2024-07-01,2024-11-01,2025-04-01'.")
		return
	}
	if len(segs) < 2 {
		q.reject(http.StatusNotFound, "InvalidResourceType", "The resource type could not be found in the namespace for api version '"+version+"'.")
		return
	}
	s.fleet.core.RLock()
	sub := s.fleet.subs[strings.ToLower(segs[1])]
	s.fleet.core.RUnlock()
	if sub == nil {
		q.reject(http.StatusNotFound, "SubscriptionNotFound", "The subscription '"+segs[1]+"' could not be found.")
		return
	}
	rt, ok := matchARM(segs[2:])
	if !ok {
		q.reject(http.StatusNotFound, "InvalidResourceType", "The resource type '"+strings.Join(segs[2:], "/")+"' could not be found for api version '"+version+"'.")
		return
	}
	if q.R.Method != http.MethodGet {
		q.reject(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '"+q.R.Method+"'.")
		return
	}
	statusOnly := strings.EqualFold(query.Get("statusOnly"), "true")
	if statusOnly {
		if !rt.statusOK {
			q.reject(http.StatusBadRequest, "InvalidParameter", "The value of parameter statusOnly is invalid for this operation.")
			return
		}
		rt.op = OpVMListAllStatus
	}
	if !q.admit(rt.op, sub.id) {
		return
	}
	l := &lister{s: s, q: q, sub: sub, version: version, query: query, rt: rt}
	s.fleet.core.RLock()
	defer s.fleet.core.RUnlock()
	if rt.rg != "" && !sub.hasGroup(rt.rg) {
		q.armError(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '"+rt.rg+"' could not be found.")
		return
	}
	switch rt.op {
	case OpVMListAll, OpVMListAllStatus, OpVMList:
		if f := query.Get("$filter"); f != "" {
			q.armError(http.StatusBadRequest, "InvalidParameter", "The $filter '"+f+"' is not supported by this simulator.")
			return
		}
		l.list(len(sub.vms), func(i int) uint64 { return sub.vms[i].seq }, func(i int) bool {
			return rt.rg == "" || strings.EqualFold(sub.vms[i].rg, rt.rg)
		}, func(w *jw, i int) { w.vmModel(sub.vms[i], statusOnly, false) })
	case OpVMInstanceView:
		v := sub.vm(rt.rg, rt.name)
		if v == nil {
			q.notFound("Microsoft.Compute/virtualMachines", rt.name, rt.rg)
			return
		}
		w := getW()
		defer putW(w)
		w.instanceView(v)
		q.ok(w.b)
	case OpScaleSetListAll, OpScaleSetList:
		l.list(len(sub.scaleSets), func(i int) uint64 { return sub.scaleSets[i].seq }, func(i int) bool {
			return rt.rg == "" || strings.EqualFold(sub.scaleSets[i].rg, rt.rg)
		}, func(w *jw, i int) { w.scaleSetModel(sub.scaleSets[i]) })
	case OpScaleSetVMInstanceView, OpNICListScaleSetVM, OpNICGetScaleSetVM, OpPublicIPGetScaleSetVM:
		ss := sub.scaleSet(rt.rg, rt.name)
		if ss == nil {
			q.notFound("Microsoft.Compute/virtualMachineScaleSets", rt.name, rt.rg)
			return
		}
		i := slices.IndexFunc(ss.instances, func(v *vm) bool { return v.instanceID == rt.instance })
		if i < 0 {
			q.notFound("Microsoft.Compute/virtualMachineScaleSets/virtualMachines", rt.name+"/"+rt.instance, rt.rg)
			return
		}
		v := ss.instances[i]
		if rt.op == OpScaleSetVMInstanceView {
			w := getW()
			defer putW(w)
			w.instanceView(v)
			q.ok(w.b)
			return
		}
		if rt.op == OpNICListScaleSetVM {
			l.list(len(v.nics), func(i int) uint64 { return uint64(i) + 1 }, nil, func(w *jw, i int) { w.nicModel(v.nics[i]) })
			return
		}
		// One NIC, or one public IP of it, by the id the instance's
		// model and the NIC's IP configurations give (azure_rm GETs
		// each).
		n := v.nic(rt.nic)
		if n == nil {
			q.notFound("Microsoft.Compute/virtualMachineScaleSets/virtualMachines/networkInterfaces", rt.name+"/"+rt.instance+"/"+rt.nic, rt.rg)
			return
		}
		w := getW()
		defer putW(w)
		if rt.op == OpNICGetScaleSetVM {
			w.nicModel(n)
			q.ok(w.b)
			return
		}
		p := n.publicIP(rt.ipConfig, rt.pip)
		if p == nil {
			q.notFound("Microsoft.Compute/virtualMachineScaleSets/virtualMachines/networkInterfaces/ipConfigurations/publicIPAddresses",
				rt.name+"/"+rt.instance+"/"+rt.nic+"/"+rt.ipConfig+"/"+rt.pip, rt.rg)
			return
		}
		w.pipModel(p)
		q.ok(w.b)
	case OpScaleSetVMList, OpNICListScaleSet, OpPublicIPListScale:
		ss := sub.scaleSet(rt.rg, rt.name)
		if ss == nil {
			q.notFound("Microsoft.Compute/virtualMachineScaleSets", rt.name, rt.rg)
			return
		}
		if ss.flexible && rt.op == OpScaleSetVMList {
			q.armError(http.StatusBadRequest, "OperationNotAllowed", "The operation 'List virtual machines' is not allowed on Virtual Machine Scale Set '"+ss.name+"' since it is in Flexible orchestration mode. List the virtual machines of the resource group instead.")
			return
		}
		s.listScaleSet(l, ss)
	case OpNICListAll, OpNICList, OpNICGet:
		serveNetwork(l, sub.nics, rt.op == OpNICGet, "Microsoft.Network/networkInterfaces", (*jw).nicModel)
	case OpPublicIPListAll, OpPublicIPList, OpPublicIPGet:
		serveNetwork(l, sub.pips, rt.op == OpPublicIPGet, "Microsoft.Network/publicIPAddresses", (*jw).pipModel)
	}
}

// networkResource is a standalone NIC or public IP: listed in creation
// order, got by resource group and name.
type networkResource interface {
	place() (seq uint64, rg, name string)
}

func (n *nic) place() (uint64, string, string) { return n.seq, n.rg, n.name }
func (p *pip) place() (uint64, string, string) { return p.seq, p.rg, p.name }

// serveNetwork lists list (in the route's resource group, if any) or, for
// get, answers the one the route names, a resource of type typ.
func serveNetwork[T networkResource](l *lister, list []T, get bool, typ string, render func(*jw, T)) {
	rt := l.rt
	if !get {
		l.list(len(list), func(i int) uint64 { seq, _, _ := list[i].place(); return seq }, func(i int) bool {
			_, rg, _ := list[i].place()
			return rt.rg == "" || strings.EqualFold(rg, rt.rg)
		}, func(w *jw, i int) { render(w, list[i]) })
		return
	}
	i := slices.IndexFunc(list, func(x T) bool {
		_, rg, name := x.place()
		return strings.EqualFold(rg, rt.rg) && strings.EqualFold(name, rt.name)
	})
	if i < 0 {
		l.q.notFound(typ, rt.name, rt.rg)
		return
	}
	w := getW()
	defer putW(w)
	render(w, list[i])
	l.q.ok(w.b)
}

func (s *Server) listScaleSet(l *lister, ss *scaleSet) {
	vms := ss.instances
	switch l.rt.op {
	case OpScaleSetVMList:
		expand := l.query.Get("$expand")
		if expand != "" && !strings.EqualFold(expand, "instanceView") {
			l.q.armError(http.StatusBadRequest, "InvalidParameter", "The value '"+expand+"' of parameter '$expand' is invalid. Allowed values are 'instanceView'.")
			return
		}
		l.list(len(vms), func(i int) uint64 { return vms[i].seq }, nil,
			func(w *jw, i int) { w.vmModel(vms[i], false, expand != "") })
	case OpNICListScaleSet:
		l.list(len(vms), func(i int) uint64 { return vms[i].seq }, nil, func(w *jw, i int) {
			for _, n := range vms[i].nics {
				w.nicModel(n)
			}
		})
	case OpPublicIPListScale:
		l.list(len(vms), func(i int) uint64 { return vms[i].seq }, func(i int) bool {
			return vms[i].nics[0].ipConfigs[0].pip != nil
		}, func(w *jw, i int) {
			for _, n := range vms[i].nics {
				for _, c := range n.ipConfigs {
					if c.pip != nil {
						w.pipModel(c.pip)
					}
				}
			}
		})
	}
}

func (q *request) notFound(typ, name, rg string) {
	q.armError(http.StatusNotFound, "ResourceNotFound", "The Resource '"+typ+"/"+name+"' under resource group '"+rg+"' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")
}

func (s *subscription) hasGroup(rg string) bool {
	if strings.EqualFold(rg, s.netGroup) {
		return true
	}
	return slices.ContainsFunc(s.groups, func(g string) bool { return strings.EqualFold(g, rg) })
}

func (s *subscription) vm(rg, name string) *vm {
	for _, v := range s.vms {
		if strings.EqualFold(v.rg, rg) && strings.EqualFold(v.name, name) {
			return v
		}
	}
	return nil
}

// nic returns the VM's NIC named name, or nil.
func (v *vm) nic(name string) *nic {
	for _, n := range v.nics {
		if strings.EqualFold(n.name, name) {
			return n
		}
	}
	return nil
}

// publicIP returns the public IP named name of the NIC's IP configuration
// ipConfig, or nil.
func (n *nic) publicIP(ipConfig, name string) *pip {
	for _, c := range n.ipConfigs {
		if strings.EqualFold(c.name, ipConfig) && c.pip != nil && strings.EqualFold(c.pip.name, name) {
			return c.pip
		}
	}
	return nil
}

func (s *subscription) scaleSet(rg, name string) *scaleSet {
	for _, ss := range s.scaleSets {
		if strings.EqualFold(ss.rg, rg) && strings.EqualFold(ss.name, name) {
			return ss
		}
	}
	return nil
}

// lister renders one page of a list operation.
type lister struct {
	s       *Server
	q       *request
	sub     *subscription
	version string
	query   url.Values
	rt      route
}

// list answers one page of n items ordered by seq: those kept by keep (nil
// = all), at most the page size, resuming after the $skiptoken's position.
// The nextLink repeats the request's path and parameters with a new
// $skiptoken, as ARM's do. Resuming by position rather than offset keeps
// paging exact when the fleet changes between pages.
func (l *lister) list(n int, seq func(int) uint64, keep func(int) bool, render func(*jw, int)) {
	q := l.q
	hash := cloudsim.HashString(strings.ToLower(q.R.URL.Path) + "\x00" + l.query.Get("statusOnly") + "\x00" + strings.ToLower(l.query.Get("$expand")))
	tok := cloudsim.PageToken{Query: hash}
	if st := l.query.Get("$skiptoken"); st != "" {
		t, ok := cloudsim.DecodePageToken(st)
		if !ok || t.Query != hash || t.Scope != "" {
			q.armError(http.StatusBadRequest, "InvalidSkipToken", "The skip token '"+st+"' is invalid or expired.")
			return
		}
		tok = t
	}
	if f, failed := answers.FailPage(l.s.inj, Call{Op: l.rt.op, Scope: l.sub.id}, tok.Page+1); failed {
		q.armFault(f)
		return
	}
	start := searchSeq(n, seq, tok.LastSeq+1)
	w := getW()
	defer putW(w)
	w.obj()
	w.key("value")
	w.arr()
	count, next := 0, -1
	for i := start; i < n; i++ {
		if keep != nil && !keep(i) {
			continue
		}
		if count == l.s.pageSize {
			next = i
			break
		}
		render(w, i)
		count++
	}
	w.endArr()
	if next >= 0 {
		v := url.Values{}
		v.Set("api-version", l.version)
		for _, k := range []string{"statusOnly", "$expand"} {
			if x := l.query.Get(k); x != "" {
				v.Set(k, x)
			}
		}
		v.Set("$skiptoken", cloudsim.PageToken{Page: tok.Page + 1, LastSeq: seq(next) - 1, Query: hash}.Encode())
		w.str("nextLink", q.base()+q.R.URL.EscapedPath()+"?"+v.Encode())
	}
	w.endObj()
	q.ok(w.b)
}

// searchSeq returns the first index whose seq is at least target.
func searchSeq(n int, seq func(int) uint64, target uint64) int {
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if seq(m) < target {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}
