package gitops

import (
	"strings"
	"testing"
)

// TestParseErrors: a document that cannot be right is refused with
// file:line, every unknown field at once, a typo's likely meaning, and
// no secret's value.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"no kind", "name: prod\n", []string{"roster.yaml:1: the document has no kind"}},
		{"unknown kind", "kind: inventroy\nname: prod\n", []string{`roster.yaml:1: unknown kind "inventroy"`}},
		{"every unknown field", "kind: source\ninventory: prod\nname: ec2\nshedule: 15m\nconfg: {}\ncolour: red\n", []string{
			`roster.yaml:4: unknown field "shedule"; did you mean "schedule"?`,
			`roster.yaml:5: unknown field "confg"; did you mean "config"?`,
			`roster.yaml:6: unknown field "colour" (known: `,
		}},
		{"missing fields", "kind: grant\ntoken: ci\n", []string{"field credential is required", "field inventory is required"}},
		{"webhook with both", "kind: webhook\nname: w\ninventory: prod\nsource: prod/ec2\nevents: [sync.failed]\nurl: https://example.com\n", []string{"give exactly one of inventory and source"}},
		{"literal signing secret", "kind: webhook\nname: w\ninventory: prod\nevents: [sync.failed]\nurl: https://example.com\nsigning_secret: hunter2-hunter2-hunter2\n", []string{"signing_secret is a secret: give a reference"}},
		{"not a mapping", "- kind: inventory\n", []string{"a document is a mapping with a kind"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("roster.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tc.doc)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error repeats the secret: %v", err)
			}
		})
	}
}

// TestParseDocuments: a stream of documents, an empty trailing one, and
// references resolved relative to the file.
func TestParseDocuments(t *testing.T) {
	docs, err := Parse("/etc/roster/conf.d/prod.yaml", []byte(`kind: inventory
name: prod
---
kind: webhook
name: audit
source: prod/ec2
events: [hosts.changed]
url: {env: AUDIT_URL}
signing_secret: {file: secrets/hook}
---
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Key() != "prod" || docs[1].Webhook == nil {
		t.Fatalf("docs: %+v", docs)
	}
	w := docs[1].Webhook
	if w.URL.Env != "AUDIT_URL" || w.SigningSecret.File != "/etc/roster/conf.d/secrets/hook" || w.inventory() != "prod" {
		t.Fatalf("webhook: %+v %+v", w.URL, w.SigningSecret)
	}
}
