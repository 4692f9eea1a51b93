package construct

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rosterhq/roster"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

// goldenCases pair an option set (testdata/options/NAME.json) with a host
// fixture (testdata/HOSTS.json). Their results are in testdata/NAME.golden.
var goldenCases = []struct{ options, hosts string }{
	{"aws_ec2_doc", "hosts_aws_ec2"},
	{"aws_ec2_doc_strict", "hosts_aws_ec2"},
	{"aws_ec2_doc_vpc", "hosts_aws_ec2"},
	{"awx_ec2_compat", "hosts_aws_ec2"},
	{"groups_conditionals", "hosts_aws_ec2"},
	{"keyed_edge_cases", "hosts_aws_ec2"},
	{"keyed_edge_cases_strict", "hosts_aws_ec2"},
	{"constructed_doc", "hosts_constructed"},
}

type goldenHost struct {
	Host     string             `json:"host"`
	Vars     map[string]any     `json:"vars,omitempty"`
	Groups   []string           `json:"groups"`
	Edges    []roster.GroupEdge `json:"edges,omitempty"`
	Warnings []string           `json:"warnings,omitempty"`
	Error    string             `json:"error,omitempty"`
}

func loadJSON(t testing.TB, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := DecodeJSON(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func hostName(vars map[string]any) string {
	for _, k := range []string{"instance_id", "inventory_hostname"} {
		if s, ok := vars[k].(string); ok {
			return s
		}
	}
	return "?"
}

func applyAll(t *testing.T, c *Constructor, hosts []any) []goldenHost {
	t.Helper()
	var out []goldenHost
	for _, h := range hosts {
		vars := h.(map[string]any)
		res, err := c.Apply(vars)
		g := goldenHost{Host: hostName(vars), Vars: res.Vars, Groups: res.Groups, Edges: res.Edges, Warnings: res.Warnings}
		if err != nil {
			g.Error = err.Error()
		}
		if g.Groups == nil {
			g.Groups = []string{}
		}
		out = append(out, g)
	}
	return out
}

func TestGolden(t *testing.T) {
	for _, gc := range goldenCases {
		t.Run(gc.options, func(t *testing.T) {
			cfg := loadJSON(t, filepath.Join("testdata", "options", gc.options+".json")).(map[string]any)
			hosts := loadJSON(t, filepath.Join("testdata", gc.hosts+".json")).([]any)
			c, err := Parse(cfg)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := applyAll(t, c, hosts)

			// The variable-path fast path must not change any result.
			slow, err := parse(cfg, DefaultLimits(), true)
			if err != nil {
				t.Fatalf("parse without fast path: %v", err)
			}
			if want := applyAll(t, slow, hosts); !reflect.DeepEqual(got, want) {
				t.Errorf("fast path results differ from the general evaluator")
			}

			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(got); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", gc.options+".golden")
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from the result; run go test ./sources/construct -update and review the diff\ngot:\n%s", path, buf.String())
			}
		})
	}
}
