package promsd_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"iter"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/promsd"
)

func hostsOf(hosts ...*roster.Host) iter.Seq2[*roster.Host, error] {
	return func(yield func(*roster.Host, error) bool) {
		for _, h := range hosts {
			if !yield(h, nil) {
				return
			}
		}
	}
}

var meta = promsd.Meta{Inventory: "prod", Sources: map[string]string{"src-aws": "aws-eu"}}

// The hosts most cases render.
func fixtureHosts() []*roster.Host {
	return []*roster.Host{
		{Name: "web1", Address: "10.0.0.1", Enabled: true, Groups: []string{"eu", "web"}, SourceID: "src-aws",
			Vars: json.RawMessage(`{"ansible_host":"10.0.0.1","placement":{"region":"eu-west-1"},"tags":{"Environment":"prod","Team":"a<b>&c"},"exporter_port":9101,"public_ip":"203.0.113.1"}`)},
		{Name: "db1", Address: "10.0.0.2", Enabled: true, Groups: []string{"db"}, SourceID: "src-aws",
			Vars: json.RawMessage(`{"placement":{"region":"eu-west-2"},"tags":{"Environment":"prod"},"exporter_port":"9102"}`)},
		// disabled
		{Name: "old1", Address: "10.0.0.3", Enabled: false, Groups: []string{"web"}, SourceID: "src-aws",
			Vars: json.RawMessage(`{"placement":{"region":"eu-west-1"}}`)},
		// manual host: no source, no vars
		{Name: "manual", Address: "192.0.2.7", Enabled: true},
		// no address
		{Name: "pending", Enabled: true, Groups: []string{"web"}, SourceID: "src-aws", Vars: json.RawMessage(`{}`)},
	}
}

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mapping promsd.Mapping
		hosts   []*roster.Host
		want    string
		result  promsd.Result
	}{
		{
			name:    "address and fixed port, labels from vars",
			mapping: promsd.Mapping{Port: 9100, Labels: map[string]string{"region": "placement.region", "env": "tags.Environment", "team": "tags.Team"}},
			hosts:   fixtureHosts(),
			want: `[{"targets":["10.0.0.1:9100"],"labels":{"__meta_roster_enabled":"true","__meta_roster_groups":",eu,web,","__meta_roster_host":"web1","__meta_roster_inventory":"prod","__meta_roster_source":"aws-eu","env":"prod","region":"eu-west-1","team":"a<b>&c"}}
,{"targets":["10.0.0.2:9100"],"labels":{"__meta_roster_enabled":"true","__meta_roster_groups":",db,","__meta_roster_host":"db1","__meta_roster_inventory":"prod","__meta_roster_source":"aws-eu","env":"prod","region":"eu-west-2"}}
,{"targets":["192.0.2.7:9100"],"labels":{"__meta_roster_enabled":"true","__meta_roster_groups":"","__meta_roster_host":"manual","__meta_roster_inventory":"prod","__meta_roster_source":""}}
]
`,
			result: promsd.Result{Targets: 3, Filtered: 1, NoAddress: 1},
		},
		{
			name:    "address var and port var (number or string), disabled included",
			mapping: promsd.Mapping{AddressVar: "public_ip", PortVar: "exporter_port", IncludeDisabled: true},
			hosts:   fixtureHosts(),
			want: `[{"targets":["203.0.113.1:9101"],"labels":{"__meta_roster_enabled":"true","__meta_roster_groups":",eu,web,","__meta_roster_host":"web1","__meta_roster_inventory":"prod","__meta_roster_source":"aws-eu"}}
]
`,
			// db1, old1, manual and pending have no public_ip.
			result: promsd.Result{Targets: 1, NoAddress: 4},
		},
		{
			name:    "port var with a fallback port; disabled hosts included",
			mapping: promsd.Mapping{Port: 9100, PortVar: "exporter_port", IncludeDisabled: true, Groups: []string{"web"}},
			hosts:   fixtureHosts(),
			want: `[{"targets":["10.0.0.1:9101"],"labels":{"__meta_roster_enabled":"true","__meta_roster_groups":",eu,web,","__meta_roster_host":"web1","__meta_roster_inventory":"prod","__meta_roster_source":"aws-eu"}}
,{"targets":["10.0.0.3:9100"],"labels":{"__meta_roster_enabled":"false","__meta_roster_groups":",web,","__meta_roster_host":"old1","__meta_roster_inventory":"prod","__meta_roster_source":"aws-eu"}}
]
`,
			// db1 and manual are in no wanted group; pending has no address.
			result: promsd.Result{Targets: 2, Filtered: 2, NoAddress: 1},
		},
		{
			name:    "port var without a fallback skips hosts that lack it",
			mapping: promsd.Mapping{PortVar: "exporter_port", Groups: []string{"db", "eu"}},
			hosts:   fixtureHosts(),
			want: `[{"targets":["10.0.0.1:9101"],"labels":{"__meta_roster_enabled":"true","__meta_roster_groups":",eu,web,","__meta_roster_host":"web1","__meta_roster_inventory":"prod","__meta_roster_source":"aws-eu"}}
,{"targets":["10.0.0.2:9102"],"labels":{"__meta_roster_enabled":"true","__meta_roster_groups":",db,","__meta_roster_host":"db1","__meta_roster_inventory":"prod","__meta_roster_source":"aws-eu"}}
]
`,
			result: promsd.Result{Targets: 2, Filtered: 3},
		},
		{
			name: "values that are not strings render as JSON; null, empty and missing give no label",
			mapping: promsd.Mapping{Port: 9100, Labels: map[string]string{
				"cores": "hw.cores", "spot": "hw.spot", "disks": "hw.disks", "tags": "tags", "first_disk": "hw.disks.0",
				"second_size": "hw.disks.1.size", "nothing": "hw.nothing", "empty": "hw.empty", "missing": "hw.missing",
				"beyond": "hw.cores.x", "out_of_range": "hw.disks.5", "escaped": "hw.escaped",
			}},
			hosts: []*roster.Host{{Name: "n1", Address: "10.1.0.1", Enabled: true,
				Vars: json.RawMessage(`{"hw": {"cores": 16, "spot": false, "disks": ["sda", {"size": 1.5e3}], "nothing": null, "empty": "", "escaped": "tab\tquote\""},
					"tags": {"b": 1, "a": [true, null]}}`)}},
			want: `[{"targets":["10.1.0.1:9100"],"labels":{"__meta_roster_enabled":"true","__meta_roster_groups":"","__meta_roster_host":"n1","__meta_roster_inventory":"prod","__meta_roster_source":"","cores":"16","disks":"[\"sda\",{\"size\":1.5e3}]","escaped":"tab\tquote\"","first_disk":"sda","second_size":"1.5e3","spot":"false","tags":"{\"b\":1,\"a\":[true,null]}"}}
]
`,
			result: promsd.Result{Targets: 1},
		},
		{
			name:    "IPv6 addresses are bracketed; invalid ports are skipped",
			mapping: promsd.Mapping{Port: 9100, PortVar: "p"},
			hosts: []*roster.Host{
				{Name: "v6", Address: "2001:db8::1", Enabled: true, Vars: json.RawMessage(`{}`)},
				{Name: "zero", Address: "10.2.0.1", Enabled: true, Vars: json.RawMessage(`{"p":0}`)},
				{Name: "big", Address: "10.2.0.2", Enabled: true, Vars: json.RawMessage(`{"p":"65536"}`)},
				{Name: "word", Address: "10.2.0.3", Enabled: true, Vars: json.RawMessage(`{"p":"http"}`)},
				{Name: "fraction", Address: "10.2.0.4", Enabled: true, Vars: json.RawMessage(`{"p":9100.5}`)},
				{Name: "max", Address: "10.2.0.5", Enabled: true, Vars: json.RawMessage(`{"p":"65535"}`)},
			},
			want: `[{"targets":["[2001:db8::1]:9100"],"labels":{"__meta_roster_enabled":"true","__meta_roster_groups":"","__meta_roster_host":"v6","__meta_roster_inventory":"prod","__meta_roster_source":""}}
,{"targets":["10.2.0.5:65535"],"labels":{"__meta_roster_enabled":"true","__meta_roster_groups":"","__meta_roster_host":"max","__meta_roster_inventory":"prod","__meta_roster_source":""}}
]
`,
			result: promsd.Result{Targets: 2, NoPort: 4},
		},
		{
			name:    "no hosts is an empty list",
			mapping: promsd.Mapping{Port: 9100},
			want:    "[]\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			res, err := promsd.Render(&out, tc.mapping, meta, hostsOf(tc.hosts...))
			if err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tc.want {
				t.Errorf("Render wrote\n%s\nwant\n%s", got, tc.want)
			}
			if !json.Valid(out.Bytes()) {
				t.Errorf("Render wrote invalid JSON")
			}
			if res != tc.result {
				t.Errorf("result = %+v, want %+v", res, tc.result)
			}
			if res.Skipped() != tc.result.NoAddress+tc.result.NoPort {
				t.Errorf("Skipped() = %d", res.Skipped())
			}
		})
	}
}

func TestRenderStopsOnError(t *testing.T) {
	boom := errors.New("the store went away")
	hosts := func(yield func(*roster.Host, error) bool) {
		if !yield(&roster.Host{Name: "a", Address: "10.0.0.1", Enabled: true}, nil) {
			return
		}
		yield(nil, boom)
	}
	var out bytes.Buffer
	res, err := promsd.Render(&out, promsd.Mapping{Port: 9100}, meta, hosts)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if res.Targets != 1 {
		t.Errorf("targets = %d, want 1", res.Targets)
	}
	// Nothing reached the writer: the caller can still answer with an error.
	if out.Len() != 0 {
		t.Errorf("Render wrote %q before failing", out.String())
	}
}

// A failure after output has reached the writer leaves an invalid document,
// which Prometheus rejects (keeping its targets) rather than reading as
// "no targets".
func TestRenderErrorAfterFlushIsInvalidJSON(t *testing.T) {
	boom := errors.New("the store went away")
	hosts := func(yield func(*roster.Host, error) bool) {
		for i := range 2000 { // well past the 32 KiB buffer
			h := &roster.Host{Name: strings.Repeat("h", 20) + string(rune('a'+i%26)), Address: "10.0.0.1", Enabled: true}
			if !yield(h, nil) {
				return
			}
		}
		yield(nil, boom)
	}
	var out bytes.Buffer
	if _, err := promsd.Render(&out, promsd.Mapping{Port: 9100}, meta, hosts); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if out.Len() == 0 || json.Valid(out.Bytes()) {
		t.Fatalf("wrote %d bytes, valid JSON %v: want a truncated, invalid document", out.Len(), json.Valid(out.Bytes()))
	}
}

// Render reads each host only while the sequence holds it: a store that
// reuses one *Host across rows must still render every host.
func TestRenderDoesNotKeepHosts(t *testing.T) {
	hosts := func(yield func(*roster.Host, error) bool) {
		h := &roster.Host{Enabled: true}
		for _, name := range []string{"a", "b"} {
			h.Name, h.Address = name, "10.0.0."+map[string]string{"a": "1", "b": "2"}[name]
			if !yield(h, nil) {
				return
			}
		}
	}
	var out bytes.Buffer
	if _, err := promsd.Render(&out, promsd.Mapping{Port: 1}, meta, hosts); err != nil {
		t.Fatal(err)
	}
	var groups []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	if err := json.Unmarshal(out.Bytes(), &groups); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range groups {
		got = append(got, g.Labels[promsd.MetaHost]+"="+g.Targets[0])
	}
	if want := []string{"a=10.0.0.1:1", "b=10.0.0.2:1"}; !slices.Equal(got, want) {
		t.Fatalf("targets %v, want %v", got, want)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mapping promsd.Mapping
		want    []string // field names, in order
	}{
		{name: "port", mapping: promsd.Mapping{Port: 9100}},
		{name: "port var", mapping: promsd.Mapping{PortVar: "exporter.port"}},
		{name: "everything", mapping: promsd.Mapping{AddressVar: "net.private_ip", Port: 1, PortVar: "p", Labels: map[string]string{"env": "tags.Environment", "_x9": "a.0.b"}, Groups: []string{"web"}, IncludeDisabled: true}},
		{name: "no port", mapping: promsd.Mapping{}, want: []string{"prometheus_sd.port"}},
		{name: "port too big", mapping: promsd.Mapping{Port: 65536}, want: []string{"prometheus_sd.port"}},
		{name: "negative port", mapping: promsd.Mapping{Port: -1, PortVar: "p"}, want: []string{"prometheus_sd.port"}},
		{name: "bad paths", mapping: promsd.Mapping{Port: 80, AddressVar: "a..b", PortVar: ".p"}, want: []string{"prometheus_sd.address_var", "prometheus_sd.port_var"}},
		{
			name: "labels",
			mapping: promsd.Mapping{Port: 80, Labels: map[string]string{
				"env": "", "9lives": "a", "__meta_x": "a", "ok": "tags.", "bad-name": "a", "fine": "a.b",
			}},
			want: []string{"prometheus_sd.labels.9lives", "prometheus_sd.labels.__meta_x", "prometheus_sd.labels.bad-name", "prometheus_sd.labels.env", "prometheus_sd.labels.ok"},
		},
		{name: "empty group", mapping: promsd.Mapping{Port: 80, Groups: []string{"web", " "}}, want: []string{"prometheus_sd.groups[1]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := tc.mapping.Validate()
			var got []string
			for _, e := range errs {
				got = append(got, e.Field)
				if e.Message == "" {
					t.Errorf("%s: no message", e.Field)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("fields %v, want %v (%v)", got, tc.want, errs)
			}
		})
	}
}

// A mapping is stored as JSON on an inventory: its field names are part of
// the API.
func TestMappingJSON(t *testing.T) {
	m := promsd.Mapping{AddressVar: "ip", Port: 9100, PortVar: "p", Labels: map[string]string{"env": "tags.env"}, Groups: []string{"web"}, IncludeDisabled: true}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"address_var":"ip","port":9100,"port_var":"p","labels":{"env":"tags.env"},"groups":["web"],"include_disabled":true}`
	if string(b) != want {
		t.Fatalf("JSON %s, want %s", b, want)
	}
	var back promsd.Mapping
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if b2, _ := json.Marshal(back); string(b2) != want {
		t.Fatalf("round trip gave %s", b2)
	}
	if b, _ := json.Marshal(promsd.Mapping{Port: 9100}); string(b) != `{"port":9100}` {
		t.Fatalf("minimal mapping JSON %s", b)
	}
}
