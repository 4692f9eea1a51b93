package gcpsim

import (
	"errors"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The list filter of instances.list and instances.aggregatedList, in its
// two forms (which a request cannot mix):
//
// AIP-160: comparisons "field op value" with op one of = != < > <= >= :,
// combined by juxtaposition or AND, by OR (which binds tighter than AND,
// as in AIP-160), NOT or a leading "-", and parentheses. Values are bare
// words or quoted strings. = and != compare strings exactly, with * as a
// wildcard, numbers and booleans by value; a resource URL field (zone,
// machineType, selfLink, network, subnetwork) matches its full URL or its
// last path segment. ":" tests presence with "*" (labels.owner:*), list
// membership (tags.items:web), map keys (labels:env) and substrings of
// strings. A comparison on a list matches when any element does.
//
// Regular expressions: "field eq value" and "field ne value", alone or as
// several parenthesized comparisons (ANDed); the value is an RE2 pattern
// that must match the whole field.
//
// Fields: id, name, description, status, zone, machineType, selfLink,
// kind, cpuPlatform, hostname, creationTimestamp, lastStartTimestamp,
// lastStopTimestamp, fingerprint, labelFingerprint, canIpForward,
// deletionProtection, startRestricted, labels, labels.KEY, tags.items,
// scheduling.automaticRestart, scheduling.preemptible,
// scheduling.onHostMaintenance, scheduling.provisioningModel,
// networkInterfaces.name, networkInterfaces.networkIP,
// networkInterfaces.network, networkInterfaces.subnetwork,
// networkInterfaces.accessConfigs.natIP, serviceAccounts.email. Any other
// field is an invalid filter.

type valueKind uint8

const (
	kString valueKind = iota
	kURL
	kBool
	kNumber
	kMap // the values are the keys
)

var filterFields = map[string]valueKind{
	"id": kNumber, "name": kString, "description": kString, "status": kString,
	"zone": kURL, "machineType": kURL, "selfLink": kURL, "kind": kString,
	"cpuPlatform": kString, "hostname": kString, "creationTimestamp": kString,
	"lastStartTimestamp": kString, "lastStopTimestamp": kString,
	"fingerprint": kString, "labelFingerprint": kString,
	"canIpForward": kBool, "deletionProtection": kBool, "startRestricted": kBool,
	"labels": kMap, "tags.items": kString,
	"scheduling.automaticRestart": kBool, "scheduling.preemptible": kBool,
	"scheduling.onHostMaintenance": kString, "scheduling.provisioningModel": kString,
	"networkInterfaces.name": kString, "networkInterfaces.networkIP": kString,
	"networkInterfaces.network": kURL, "networkInterfaces.subnetwork": kURL,
	"networkInterfaces.accessConfigs.natIP": kString, "serviceAccounts.email": kString,
}

func fieldKind(field string) (valueKind, bool) {
	if k, ok := strings.CutPrefix(field, "labels."); ok && k != "" {
		return kString, true
	}
	k, ok := filterFields[field]
	return k, ok
}

// values returns the values field has for in (none when it is absent).
func (in *instance) values(field string) []string {
	one := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	u := func(parts ...string) []string { return []string{APIBase + strings.Join(parts, "")} }
	p, z := in.project.name, in.zone.name
	switch field {
	case "id":
		return []string{in.idStr}
	case "name":
		return []string{in.name}
	case "description":
		return one(in.description)
	case "status":
		return []string{in.status}
	case "zone":
		return u("projects/", p, "/zones/", z)
	case "machineType":
		return u("projects/", p, "/zones/", z, "/machineTypes/", in.machineType)
	case "selfLink":
		return u("projects/", p, "/zones/", z, "/instances/", in.name)
	case "kind":
		return []string{"compute#instance"}
	case "cpuPlatform":
		return []string{in.cpu()}
	case "hostname":
		return one(in.hostname)
	case "creationTimestamp":
		return []string{in.createdStr}
	case "lastStartTimestamp":
		return one(in.lastStart)
	case "lastStopTimestamp":
		return one(in.lastStop)
	case "fingerprint":
		return []string{in.fp}
	case "labelFingerprint":
		return []string{in.labelFP}
	case "canIpForward":
		return []string{strconv.FormatBool(in.ipForward)}
	case "deletionProtection":
		return []string{strconv.FormatBool(in.protect)}
	case "startRestricted":
		return []string{"false"}
	case "labels":
		keys := make([]string, len(in.labels))
		for i, l := range in.labels {
			keys[i] = l.Key
		}
		return keys
	case "tags.items":
		return in.tags
	case "scheduling.automaticRestart":
		return []string{strconv.FormatBool(!in.spot)}
	case "scheduling.preemptible":
		return []string{strconv.FormatBool(in.spot)}
	case "scheduling.onHostMaintenance":
		if in.spot {
			return []string{"TERMINATE"}
		}
		return []string{"MIGRATE"}
	case "scheduling.provisioningModel":
		if in.spot {
			return []string{"SPOT"}
		}
		return []string{"STANDARD"}
	case "networkInterfaces.name":
		return []string{"nic0"}
	case "networkInterfaces.networkIP":
		return []string{in.networkIP}
	case "networkInterfaces.network":
		return u("projects/", in.netProject, "/global/networks/", in.network)
	case "networkInterfaces.subnetwork":
		return u("projects/", in.netProject, "/regions/", in.zone.region, "/subnetworks/", in.subnetwork)
	case "networkInterfaces.accessConfigs.natIP":
		if ip := in.natIP(); ip != "" {
			return []string{ip}
		}
		return nil
	case "serviceAccounts.email":
		return []string{in.saEmail}
	}
	if k, ok := strings.CutPrefix(field, "labels."); ok {
		for _, l := range in.labels {
			if l.Key == k {
				return []string{l.Value}
			}
		}
	}
	return nil
}

// filter is a compiled list filter; a nil *filter matches everything.
type filter struct{ root node }

func (f *filter) match(in *instance) bool { return f == nil || f.root.match(in) }

type node interface{ match(*instance) bool }

type andNode []node
type orNode []node
type notNode struct{ n node }

func (a andNode) match(in *instance) bool {
	for _, n := range a {
		if !n.match(in) {
			return false
		}
	}
	return true
}

func (o orNode) match(in *instance) bool {
	for _, n := range o {
		if n.match(in) {
			return true
		}
	}
	return false
}

func (n notNode) match(in *instance) bool { return !n.n.match(in) }

type comparison struct {
	field string
	kind  valueKind
	op    string
	value string
	glob  *regexp.Regexp // for = != and : with wildcards
	re    *regexp.Regexp // for eq / ne
}

func (c *comparison) match(in *instance) bool {
	vals := in.values(c.field)
	switch c.op {
	case "eq":
		return slices.ContainsFunc(vals, c.re.MatchString)
	case "ne":
		return len(vals) > 0 && !slices.ContainsFunc(vals, c.re.MatchString)
	case "=":
		return slices.ContainsFunc(vals, c.equal)
	case "!=":
		return !slices.ContainsFunc(vals, c.equal)
	case ":":
		if c.value == "*" {
			return len(vals) > 0
		}
		return slices.ContainsFunc(vals, func(v string) bool {
			switch c.kind {
			case kString, kURL:
				if c.glob != nil {
					return c.glob.MatchString(v)
				}
				return strings.Contains(v, c.value)
			case kMap:
				if c.glob != nil {
					return c.glob.MatchString(v) && c.glob.FindString(v) == v
				}
				return v == c.value
			}
			return c.equal(v)
		})
	}
	return slices.ContainsFunc(vals, func(v string) bool {
		var cmp int
		if c.kind == kNumber {
			a, _ := strconv.ParseFloat(v, 64)
			b, err := strconv.ParseFloat(c.value, 64)
			if err != nil {
				return false
			}
			cmp = compareFloat(a, b)
		} else {
			cmp = strings.Compare(v, c.value)
		}
		switch c.op {
		case "<":
			return cmp < 0
		case "<=":
			return cmp <= 0
		case ">":
			return cmp > 0
		}
		return cmp >= 0
	})
}

// compareFloat orders two numbers. Unlike cmp.Compare, it finds a NaN
// (a filter may say "id < NaN") equal to every number.
func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (c *comparison) equal(v string) bool {
	switch c.kind {
	case kBool:
		return strings.EqualFold(v, c.value)
	case kNumber:
		a, err1 := strconv.ParseFloat(v, 64)
		b, err2 := strconv.ParseFloat(c.value, 64)
		return err1 == nil && err2 == nil && a == b || v == c.value
	case kURL:
		if c.glob != nil {
			return c.glob.MatchString(v) || c.glob.MatchString(path.Base(v))
		}
		return v == c.value || path.Base(v) == c.value
	}
	if c.glob != nil {
		return c.glob.MatchString(v)
	}
	return v == c.value
}

var errFilter = errors.New("Invalid list filter expression.")

// parseFilter compiles a list filter; "" gives nil (match all).
func parseFilter(s string) (*filter, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	p := &filterParser{src: s}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.skipSpace(); p.pos < len(p.src) {
		return nil, errFilter
	}
	if p.regex && p.aip {
		return nil, errors.New("Invalid list filter expression: regular expressions (eq, ne) cannot be mixed with other comparisons.")
	}
	return &filter{root: n}, nil
}

type filterParser struct {
	src   string
	pos   int
	regex bool // saw eq / ne
	aip   bool // saw = != < > <= >= :
}

func (p *filterParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n' || p.src[p.pos] == '\r') {
		p.pos++
	}
}

// keyword reports whether the next word is kw (followed by a delimiter),
// consuming it if so.
func (p *filterParser) keyword(kw string) bool {
	p.skipSpace()
	if !strings.HasPrefix(p.src[p.pos:], kw) {
		return false
	}
	end := p.pos + len(kw)
	if end < len(p.src) && !strings.ContainsRune(" \t\r\n(", rune(p.src[end])) {
		return false
	}
	p.pos = end
	return true
}

func (p *filterParser) atEnd() bool {
	p.skipSpace()
	return p.pos >= len(p.src) || p.src[p.pos] == ')'
}

// expr parses terms joined by AND or juxtaposition.
func (p *filterParser) expr(depth int) (node, error) {
	if depth > 20 {
		return nil, errFilter
	}
	var and andNode
	for !p.atEnd() {
		p.keyword("AND")
		n, err := p.disjunction(depth)
		if err != nil {
			return nil, err
		}
		and = append(and, n)
	}
	if len(and) == 0 {
		return nil, errFilter
	}
	if len(and) == 1 {
		return and[0], nil
	}
	return and, nil
}

func (p *filterParser) disjunction(depth int) (node, error) {
	n, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	or := orNode{n}
	for p.keyword("OR") {
		n, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		or = append(or, n)
	}
	if len(or) == 1 {
		return n, nil
	}
	return or, nil
}

func (p *filterParser) unary(depth int) (node, error) {
	p.skipSpace()
	if p.keyword("NOT") {
		n, err := p.primary(depth)
		return notNode{n}, err
	}
	if p.pos < len(p.src) && p.src[p.pos] == '-' {
		p.pos++
		n, err := p.primary(depth)
		return notNode{n}, err
	}
	return p.primary(depth)
}

func (p *filterParser) primary(depth int) (node, error) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return nil, errFilter
	}
	if p.src[p.pos] == '(' {
		p.pos++
		n, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ')' {
			return nil, errFilter
		}
		p.pos++
		return n, nil
	}
	return p.comparison()
}

func (p *filterParser) comparison() (node, error) {
	start := p.pos
	for p.pos < len(p.src) && (isFieldByte(p.src[p.pos])) {
		p.pos++
	}
	field := p.src[start:p.pos]
	kind, ok := fieldKind(field)
	if field == "" || !ok {
		return nil, errFilter
	}
	p.skipSpace()
	var op string
	switch {
	case p.keyword("eq"):
		op = "eq"
	case p.keyword("ne"):
		op = "ne"
	default:
		for _, o := range []string{"!=", "<=", ">=", "=", "<", ">", ":"} {
			if strings.HasPrefix(p.src[p.pos:], o) {
				op = o
				p.pos += len(o)
				break
			}
		}
	}
	if op == "" {
		return nil, errFilter
	}
	value, quoted, err := p.value(op == "eq" || op == "ne")
	if err != nil {
		return nil, err
	}
	if !quoted && value == "" {
		return nil, errFilter
	}
	c := &comparison{field: field, kind: kind, op: op, value: value}
	if op == "eq" || op == "ne" {
		p.regex = true
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return nil, errors.New("Invalid list filter expression: invalid regular expression.")
		}
		c.re = re
		return c, nil
	}
	p.aip = true
	if kind == kMap && op != ":" {
		return nil, errFilter
	}
	if strings.Contains(value, "*") && value != "*" {
		c.glob = globPattern(value, op == ":")
	}
	return c, nil
}

func isFieldByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// value reads a quoted string or a bare word. A bare regular expression
// may hold balanced parentheses; other bare values stop at one.
func (p *filterParser) value(regex bool) (string, bool, error) {
	p.skipSpace()
	if p.pos < len(p.src) && (p.src[p.pos] == '"' || p.src[p.pos] == '\'') {
		q := p.src[p.pos]
		p.pos++
		var b strings.Builder
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			switch {
			case c == '\\' && p.pos+1 < len(p.src):
				b.WriteByte(p.src[p.pos+1])
				p.pos += 2
				continue
			case c == q:
				p.pos++
				return b.String(), true, nil
			}
			b.WriteByte(c)
			p.pos++
		}
		return "", false, errFilter
	}
	start, depth := p.pos, 0
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			break
		}
		if c == '(' {
			if !regex {
				break
			}
			depth++
		} else if c == ')' {
			if !regex || depth == 0 {
				break
			}
			depth--
		}
		p.pos++
	}
	return p.src[start:p.pos], false, nil
}

// globPattern turns a value with * wildcards into an anchored pattern (a
// substring pattern for ":").
func globPattern(v string, substring bool) *regexp.Regexp {
	parts := strings.Split(v, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	pat := strings.Join(parts, ".*")
	if !substring {
		pat = "^" + pat + "$"
	}
	return regexp.MustCompile(pat)
}
