package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
	"github.com/rosterhq/roster/sources/azure"
	"github.com/rosterhq/roster/sources/gcp"
	"github.com/rosterhq/roster/sources/openstack"
)

// TestEveryDocumentedOptionIsKnown asks ansible-doc for every option (and
// alias) the real plugins document, doc fragments included, and requires
// Roster to know each one: a source setting it may be refused for its
// value, or because it would put a secret in the source, but never as an
// unknown option.
func TestEveryDocumentedOptionIsKnown(t *testing.T) {
	ansibleDoc, err := exec.LookPath("ansible-doc")
	testenv.Need(t, "ansible-doc (Debian package ansible-core)", err)
	reg := sources.NewRegistry(aws.Driver{}, gcp.Driver{}, azure.Driver{}, openstack.Driver{})
	for _, tc := range []struct{ plugin, provider string }{
		{"amazon.aws.aws_ec2", "aws"},
		{"google.cloud.gcp_compute", "gcp"},
		{"azure.azcollection.azure_rm", "azure"},
		{"openstack.cloud.openstack", "openstack"},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), ansibleDoc, "-t", "inventory", "--json", tc.plugin).Output()
			testenv.Need(t, "the "+tc.plugin+" plugin's documentation (Debian package ansible)", err)
			var docs map[string]struct {
				Doc struct {
					Options map[string]struct {
						Type    string   `json:"type"`
						Aliases []string `json:"aliases"`
					} `json:"options"`
				} `json:"doc"`
			}
			must(t, json.Unmarshal(out, &docs))
			options := docs[tc.plugin].Doc.Options
			if len(options) < 15 {
				t.Fatalf("ansible-doc documents %d options of %s: the check proves nothing", len(options), tc.plugin)
			}
			for name, opt := range options {
				for _, key := range append([]string{name}, opt.Aliases...) {
					config := map[string]any{key: sample(opt.Type)}
					if key == "plugin" {
						config[key] = tc.plugin
					}
					err := reg.Validate(tc.provider, config)
					for _, fe := range roster.ErrorFields(err) {
						if strings.HasSuffix(fe.Field, key) && strings.HasPrefix(fe.Message, "unknown option") {
							t.Errorf("%s: the documented option %s is refused as unknown: %s", tc.plugin, key, fe.Message)
						}
					}
				}
			}
			t.Logf("%s: %d documented options", tc.plugin, len(options))
		})
	}
}

// sample is a value of an option of the documented type.
func sample(typ string) any {
	switch typ {
	case "list":
		return []any{"x"}
	case "dict":
		return map[string]any{}
	case "bool", "boolean":
		return false
	case "int", "integer":
		return 1
	}
	return "x"
}
