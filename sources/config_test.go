package sources

import (
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

type decodeTarget struct {
	Regions   StringList `json:"regions"`
	Hostnames []string   `json:"hostnames"`
	Profile   string     `json:"profile"`
}

func TestDecodeReportsEveryUnknownOption(t *testing.T) {
	config := map[string]any{
		"regoins":      []any{"us-east-1"},
		"hostname":     []any{"dns-name"},
		"keyed_group":  []any{},
		"zzz_nonsense": true,
		"profile":      "dev",
	}
	var into decodeTarget
	err := Decode(config, &into)
	if roster.ErrorCode(err) != roster.EINVALID {
		t.Fatalf("err = %v, want EINVALID", err)
	}
	got := map[string]string{}
	for _, fe := range roster.ErrorFields(err) {
		got[fe.Field] = fe.Message
	}
	want := map[string]string{
		"regoins":      `unknown option; did you mean "regions"?`,
		"hostname":     `unknown option; did you mean "hostnames"?`,
		"keyed_group":  `unknown option; did you mean "keyed_groups"?`, // a construct option
		"zzz_nonsense": "unknown option; known options are ",
	}
	if len(got) != len(want) {
		t.Fatalf("fields = %v, want one per unknown key %v", got, want)
	}
	for f, msg := range want {
		if !strings.HasPrefix(got[f], msg) {
			t.Errorf("%s: %q, want %q", f, got[f], msg)
		}
	}
	if !strings.Contains(got["zzz_nonsense"], "regions") || !strings.Contains(got["zzz_nonsense"], "compose") {
		t.Errorf("zzz_nonsense: %q should list the known options", got["zzz_nonsense"])
	}
	if _, ok := config["regoins"]; !ok {
		t.Error("Decode changed the caller's map")
	}
}

func TestDecodeUnknownAndTypeErrorsTogether(t *testing.T) {
	err := Decode(map[string]any{"regoins": "x", "profile": 3}, &decodeTarget{})
	fields := map[string]bool{}
	for _, fe := range roster.ErrorFields(err) {
		fields[fe.Field] = true
	}
	if !fields["regoins"] || !fields["profile"] {
		t.Fatalf("fields %v, want both the unknown option and the type error", fields)
	}
}

func TestDecodeKnownOptions(t *testing.T) {
	var into decodeTarget
	if err := Decode(map[string]any{"regions": "us-east-1", "Profile": "dev"}, &into); err != nil {
		t.Fatal(err)
	}
	if len(into.Regions) != 1 || into.Profile != "dev" {
		t.Fatalf("decoded %+v", into)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"hostnames", "regions", "include_filters", "exclude_filters", "strict"}
	for name, want := range map[string]string{
		"region":           "regions",
		"Regions":          "regions",
		"include-filters":  "include_filters",
		"exclude_filter":   "exclude_filters",
		"strikt":           "strict",
		"filters":          "", // too far from include_filters
		"x":                "",
		"cache_connection": "",
	} {
		if got := Suggest(name, known); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", name, got, want)
		}
	}
}
