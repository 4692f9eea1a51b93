// Package promsd renders an inventory as Prometheus HTTP service discovery
// (https://prometheus.io/docs/prometheus/latest/http_sd/): a JSON list of
// target groups, one per host, each with the host's scrape address and its
// labels.
//
// A Mapping, stored on an inventory, says where a host's address and port
// come from and which host vars become labels. Like Prometheus's own service
// discoveries, every target also carries meta labels, which relabeling can
// use and which Prometheus drops after it:
//
//	__meta_roster_inventory  the inventory's name
//	__meta_roster_host       the host's inventory hostname
//	__meta_roster_source     the name of the source that found it ("" for a manual host)
//	__meta_roster_groups     its direct groups, as ",a,b," ("" for none)
//	__meta_roster_enabled    "true" or "false"
package promsd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/rosterhq/roster"
)

// FieldPrefix is the name of a Mapping in the field errors of Validate.
const FieldPrefix = "prometheus_sd"

// The meta labels of every target.
const (
	MetaInventory = "__meta_roster_inventory"
	MetaHost      = "__meta_roster_host"
	MetaSource    = "__meta_roster_source"
	MetaGroups    = "__meta_roster_groups"
	MetaEnabled   = "__meta_roster_enabled"
)

// Mapping says how an inventory's hosts become Prometheus targets. Var
// paths are dotted paths into a host's vars ("placement.region",
// "tags.Environment"); a segment that is a number indexes a list
// ("interfaces.0.address"). A key that itself holds a dot cannot be
// reached.
type Mapping struct {
	// AddressVar is the path of the var that holds the host (name or IP)
	// to scrape; empty: the host's address (ansible_host).
	AddressVar string `json:"address_var,omitempty"`
	// Port is the port to scrape, 1 to 65535; required unless PortVar is
	// set, and then the port of hosts that lack that var.
	Port int `json:"port,omitempty"`
	// PortVar is the path of the var that holds the port (a number, or a
	// string of digits).
	PortVar string `json:"port_var,omitempty"`
	// Labels maps Prometheus label names to var paths. A path the host
	// lacks, or whose value is null or "", gives no label; a value that is
	// not a string is its JSON text.
	Labels map[string]string `json:"labels,omitempty"`
	// Groups, when set, limits the targets to hosts that are direct
	// members of at least one of these groups (a parent group's children
	// are not expanded).
	Groups []string `json:"groups,omitempty"`
	// IncludeDisabled makes disabled hosts targets too (labelled
	// __meta_roster_enabled="false").
	IncludeDisabled bool `json:"include_disabled,omitempty"`
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Validate checks the mapping, naming each field under FieldPrefix
// ("prometheus_sd.port", "prometheus_sd.labels.env"); nil when it is valid.
func (m Mapping) Validate() []roster.FieldError {
	var errs roster.FieldErrors
	field := func(name string) string { return FieldPrefix + "." + name }
	if m.AddressVar != "" {
		checkPath(&errs, field("address_var"), m.AddressVar)
	}
	switch {
	case m.Port == 0 && m.PortVar == "":
		errs.Add(field("port"), "is required unless port_var is set")
	case m.Port < 0 || m.Port > 65535:
		errs.Add(field("port"), "must be between 1 and 65535")
	}
	if m.PortVar != "" {
		checkPath(&errs, field("port_var"), m.PortVar)
	}
	for _, name := range slices.Sorted(maps.Keys(m.Labels)) {
		f := field("labels." + name)
		switch {
		case !labelName.MatchString(name):
			errs.Add(f, "is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
		case strings.HasPrefix(name, "__"):
			errs.Add(f, "must not start with __, which Prometheus reserves")
		}
		checkPath(&errs, f, m.Labels[name])
	}
	for i, g := range m.Groups {
		if strings.TrimSpace(g) == "" {
			errs.Add(fmt.Sprintf("%s[%d]", field("groups"), i), "must not be empty")
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func checkPath(errs *roster.FieldErrors, field, path string) {
	switch {
	case path == "":
		errs.Add(field, "must name a host var")
	case slices.Contains(strings.Split(path, "."), ""):
		errs.Add(field, "%q has an empty segment: write keys separated by single dots", path)
	}
}

// Meta is what Render needs beyond the hosts: the names behind their ids.
type Meta struct {
	Inventory string            // the inventory's name
	Sources   map[string]string // source id → name
}

// Result counts what Render did with the hosts.
type Result struct {
	Targets  int // target groups written
	Filtered int // left out by Groups or IncludeDisabled
	// NoAddress and NoPort count hosts skipped because they lack an
	// address (or AddressVar's value is not a non-empty string), or a usable
	// port (PortVar's value is missing with no Port to fall back on, or is
	// not a port number).
	NoAddress int
	NoPort    int
}

// Skipped is the number of hosts that were wanted but could not be made
// targets.
func (r Result) Skipped() int { return r.NoAddress + r.NoPort }

// targetGroup is one element of the HTTP SD list.
type targetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// Render writes the HTTP SD document of hosts under m: a JSON array with
// one target group per host that is wanted and has an address and a port.
// Hosts lacking either are skipped and counted, not fatal. Render does not
// keep the hosts the sequence yields after it moves on.
//
// When hosts yields an error, or w fails, Render returns it without closing
// the array: what it wrote is not a valid document, which Prometheus
// rejects, keeping the targets it had. Render writes through a buffer, so a
// failure before the first 32 KiB leaves w untouched and the caller can
// still answer with an error.
func Render(w io.Writer, m Mapping, meta Meta, hosts iter.Seq2[*roster.Host, error]) (Result, error) {
	var res Result
	bw := bufio.NewWriterSize(w, 32<<10)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	bw.WriteString("[")
	groups := make(map[string]bool, len(m.Groups))
	for _, g := range m.Groups {
		groups[g] = true
	}
	paths := make(map[string][]string, len(m.Labels))
	for name, p := range m.Labels {
		paths[name] = strings.Split(p, ".")
	}
	for h, err := range hosts {
		if err != nil {
			return res, err
		}
		if !wanted(h, m, groups) {
			res.Filtered++
			continue
		}
		vars := hostVars(h.Vars)
		addr, ok := address(h, m, vars)
		if !ok {
			res.NoAddress++
			continue
		}
		port, ok := port(m, vars)
		if !ok {
			res.NoPort++
			continue
		}
		tg := targetGroup{
			Targets: []string{net.JoinHostPort(addr, strconv.Itoa(port))},
			Labels: map[string]string{
				MetaInventory: meta.Inventory,
				MetaHost:      h.Name,
				MetaSource:    meta.Sources[h.SourceID],
				MetaGroups:    joinGroups(h.Groups),
				MetaEnabled:   strconv.FormatBool(h.Enabled),
			},
		}
		for name, p := range paths {
			if v, ok := vars.lookup(p); ok {
				if s := labelValue(v); s != "" {
					tg.Labels[name] = s
				}
			}
		}
		buf.Reset()
		if res.Targets > 0 {
			buf.WriteString(",")
		}
		if err := enc.Encode(tg); err != nil {
			return res, fmt.Errorf("encode the target of host %q: %w", h.Name, err)
		}
		if _, err := bw.Write(buf.Bytes()); err != nil {
			return res, err
		}
		res.Targets++
	}
	bw.WriteString("]\n")
	return res, bw.Flush()
}

func wanted(h *roster.Host, m Mapping, groups map[string]bool) bool {
	if !h.Enabled && !m.IncludeDisabled {
		return false
	}
	if len(groups) == 0 {
		return true
	}
	for _, g := range h.Groups {
		if groups[g] {
			return true
		}
	}
	return false
}

func address(h *roster.Host, m Mapping, vars varTree) (string, bool) {
	if m.AddressVar == "" {
		return h.Address, h.Address != ""
	}
	v, ok := vars.lookup(strings.Split(m.AddressVar, "."))
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(v, &s) != nil || s == "" {
		return "", false
	}
	return s, true
}

func port(m Mapping, vars varTree) (int, bool) {
	if m.PortVar == "" {
		return m.Port, m.Port >= 1 && m.Port <= 65535
	}
	v, ok := vars.lookup(strings.Split(m.PortVar, "."))
	if !ok {
		return m.Port, m.Port >= 1 && m.Port <= 65535
	}
	var text string
	if json.Unmarshal(v, &text) != nil {
		text = string(v) // a number
	}
	p, err := strconv.Atoi(strings.TrimSpace(text))
	return p, err == nil && p >= 1 && p <= 65535
}

func joinGroups(groups []string) string {
	if len(groups) == 0 {
		return ""
	}
	return "," + strings.Join(groups, ",") + ","
}

// labelValue is a var's value as a label: a string as it is, null as none,
// anything else as its compact JSON text.
func labelValue(v json.RawMessage) string {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s
	}
	if string(v) == "null" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return string(v)
	}
	return b.String()
}

// varTree is a host's vars, decoded one level at a time as paths need it.
type varTree map[string]json.RawMessage

func hostVars(raw json.RawMessage) varTree {
	var top varTree
	if len(raw) == 0 || json.Unmarshal(raw, &top) != nil {
		return nil
	}
	return top
}

// lookup returns the raw value at path, and whether there is one (null
// counts as none).
func (t varTree) lookup(path []string) (json.RawMessage, bool) {
	v, ok := t[path[0]]
	if !ok {
		return nil, false
	}
	for _, seg := range path[1:] {
		v = bytes.TrimSpace(v)
		if len(v) == 0 {
			return nil, false
		}
		switch v[0] {
		case '{':
			var obj map[string]json.RawMessage
			if json.Unmarshal(v, &obj) != nil {
				return nil, false
			}
			if v, ok = obj[seg]; !ok {
				return nil, false
			}
		case '[':
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 {
				return nil, false
			}
			var list []json.RawMessage
			if json.Unmarshal(v, &list) != nil || i >= len(list) {
				return nil, false
			}
			v = list[i]
		default:
			return nil, false
		}
	}
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return nil, false
	}
	return v, true
}
