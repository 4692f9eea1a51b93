package awssim

import (
	"strings"
	"unicode/utf8"
)

// pattern is one filter value. EC2 filter values are case-sensitive and
// support the wildcards * (any run of characters) and ? (exactly one);
// a backslash escapes either.
type pattern struct {
	lit  string // the unescaped value, when it has no wildcard
	toks []ptok // the compiled pattern, when it has one
}

type ptok struct {
	kind byte // 'l' literal rune, '?' one rune, '*' any run
	r    rune
}

func compilePattern(v string) pattern {
	if !strings.ContainsAny(v, `*?\`) {
		return pattern{lit: v}
	}
	var toks []ptok
	wild := false
	var lit strings.Builder
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRuneInString(v[i:])
		i += size
		switch r {
		case '\\':
			if i < len(v) {
				r, size = utf8.DecodeRuneInString(v[i:])
				i += size
			}
			toks = append(toks, ptok{kind: 'l', r: r})
			lit.WriteRune(r)
		case '*':
			if len(toks) == 0 || toks[len(toks)-1].kind != '*' {
				toks = append(toks, ptok{kind: '*'})
			}
			wild = true
		case '?':
			toks = append(toks, ptok{kind: '?'})
			wild = true
		default:
			toks = append(toks, ptok{kind: 'l', r: r})
			lit.WriteRune(r)
		}
	}
	if !wild {
		return pattern{lit: lit.String()}
	}
	return pattern{toks: toks}
}

func (p pattern) match(s string) bool {
	if p.toks == nil {
		return p.lit == s
	}
	return wildMatch(p.toks, s)
}

// wildMatch is the linear-backtracking glob match (one remembered star).
func wildMatch(p []ptok, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		r, size := utf8.DecodeRuneInString(s[si:])
		if pi < len(p) {
			switch t := p[pi]; {
			case t.kind == '?' || (t.kind == 'l' && t.r == r):
				pi++
				si += size
				continue
			case t.kind == '*':
				star, mark = pi, si
				pi++
				continue
			}
		}
		if star < 0 {
			return false
		}
		_, size = utf8.DecodeRuneInString(s[mark:])
		mark += size
		pi, si = star+1, mark
	}
	for pi < len(p) && p[pi].kind == '*' {
		pi++
	}
	return pi == len(p)
}

// patterns are the values of one filter: any may match (OR).
type patterns []pattern

func (ps patterns) any(s string) bool {
	for _, p := range ps {
		if p.match(s) {
			return true
		}
	}
	return false
}

// some matches a value that may be absent: an absent value matches nothing.
func (ps patterns) some(s string) bool { return s != "" && ps.any(s) }

// filterSpec is a Filter.N from a request, before compilation.
type filterSpec struct {
	name   string
	values []string
}

// instanceFilter is one compiled DescribeInstances filter; several are
// ANDed.
type instanceFilter struct {
	match  func(in *instance, ps patterns) bool
	values patterns
}

func (f instanceFilter) ok(in *instance) bool { return f.match(in, f.values) }

func str(get func(*instance) string) func(*instance, patterns) bool {
	return func(in *instance, ps patterns) bool { return ps.some(get(in)) }
}

// alive returns get's value, or "" for a terminated instance (which has
// lost its network interface, addresses and volumes).
func alive(get func(*instance) string) func(*instance, patterns) bool {
	return func(in *instance, ps patterns) bool {
		if in.terminated() {
			return false
		}
		return ps.some(get(in))
	}
}

func groupIDs(in *instance, ps patterns) bool {
	if in.terminated() {
		return false
	}
	for _, g := range in.groups {
		if ps.any(g.id) {
			return true
		}
	}
	return false
}

func groupNamesMatch(in *instance, ps patterns) bool {
	if in.terminated() {
		return false
	}
	for _, g := range in.groups {
		if ps.any(g.name) {
			return true
		}
	}
	return false
}

// instanceFilters are the DescribeInstances filter names the simulator
// understands, with the real service's names.
var instanceFilters = map[string]func(*instance, patterns) bool{
	"instance-id":                  str(func(in *instance) string { return in.id }),
	"instance-state-name":          str(func(in *instance) string { return in.state }),
	"instance-state-code":          str(func(in *instance) string { return in.stateCode }),
	"instance-type":                str(func(in *instance) string { return in.instanceType }),
	"availability-zone":            str(func(in *instance) string { return in.az }),
	"placement.availability-zone":  str(func(in *instance) string { return in.az }),
	"architecture":                 str(func(in *instance) string { return in.arch }),
	"image-id":                     str(func(in *instance) string { return in.imageID }),
	"key-name":                     str(func(in *instance) string { return in.keyName }),
	"platform":                     str(func(in *instance) string { return in.platform }),
	"instance-lifecycle":           str(func(in *instance) string { return in.lifecycle }),
	"root-device-type":             str(func(*instance) string { return "ebs" }),
	"root-device-name":             str(func(in *instance) string { return in.rootDevice }),
	"hypervisor":                   str(func(*instance) string { return "xen" }),
	"virtualization-type":          str(func(*instance) string { return "hvm" }),
	"tenancy":                      str(func(*instance) string { return "default" }),
	"reservation-id":               str(func(in *instance) string { return in.reservationID }),
	"launch-time":                  str(func(in *instance) string { return in.launchStr }),
	"monitoring-state":             str(func(in *instance) string { return enabledWord(in.monitoring) }),
	"spot-instance-request-id":     str(func(in *instance) string { return in.spotRequestID }),
	"iam-instance-profile.arn":     str(func(in *instance) string { return in.profileArn }),
	"metadata-options.http-tokens": str(func(in *instance) string { return in.httpTokens }),
	"vpc-id":                       alive(func(in *instance) string { return in.vpcID }),
	"subnet-id":                    alive(func(in *instance) string { return in.subnetID }),
	"private-ip-address":           alive(func(in *instance) string { return in.privateIP }),
	"private-dns-name":             alive(func(in *instance) string { return in.privateDNS }),
	"network-interface.addresses.private-ip-address": alive(func(in *instance) string { return in.privateIP }),
	"network-interface.private-dns-name":             alive(func(in *instance) string { return in.privateDNS }),
	"network-interface.network-interface-id":         alive(func(in *instance) string { return in.eniID }),
	"network-interface.mac-address":                  alive(func(in *instance) string { return in.mac }),
	"network-interface.vpc-id":                       alive(func(in *instance) string { return in.vpcID }),
	"network-interface.subnet-id":                    alive(func(in *instance) string { return in.subnetID }),
	"block-device-mapping.volume-id":                 alive(func(in *instance) string { return in.volumeID }),
	"block-device-mapping.device-name":               alive(func(in *instance) string { return in.rootDevice }),
	"ip-address": func(in *instance, ps patterns) bool {
		return in.hasPublic() && ps.any(in.publicIP())
	},
	"network-interface.addresses.association.public-ip": func(in *instance, ps patterns) bool {
		return in.hasPublic() && ps.any(in.publicIP())
	},
	"dns-name": func(in *instance, ps patterns) bool {
		return in.hasPublic() && ps.any(in.publicDNS)
	},
	"group-id":            groupIDs,
	"instance.group-id":   groupIDs,
	"group-name":          groupNamesMatch,
	"instance.group-name": groupNamesMatch,
	"tag-key": func(in *instance, ps patterns) bool {
		for _, t := range in.tags {
			if ps.any(t.Key) {
				return true
			}
		}
		return false
	},
	"tag-value": func(in *instance, ps patterns) bool {
		for _, t := range in.tags {
			if ps.any(t.Value) {
				return true
			}
		}
		return false
	},
}

func enabledWord(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}

// compileInstanceFilters turns request filters into matchers. It returns
// the name of the first filter EC2 would reject, if any.
func compileInstanceFilters(specs []filterSpec, account string) ([]instanceFilter, string) {
	out := make([]instanceFilter, 0, len(specs))
	for _, s := range specs {
		var fn func(*instance, patterns) bool
		switch {
		case strings.HasPrefix(s.name, "tag:") && len(s.name) > 4:
			key := s.name[4:]
			fn = func(in *instance, ps patterns) bool {
				for _, t := range in.tags {
					if t.Key == key && ps.any(t.Value) {
						return true
					}
				}
				return false
			}
		case s.name == "owner-id":
			fn = func(_ *instance, ps patterns) bool { return ps.any(account) }
		default:
			fn = instanceFilters[s.name]
		}
		if fn == nil {
			return nil, s.name
		}
		ps := make(patterns, len(s.values))
		for i, v := range s.values {
			ps[i] = compilePattern(v)
		}
		out = append(out, instanceFilter{match: fn, values: ps})
	}
	return out, ""
}

// matchAll reports whether in passes every filter.
func matchAll(in *instance, fs []instanceFilter) bool {
	for _, f := range fs {
		if !f.ok(in) {
			return false
		}
	}
	return true
}
