package sources

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// fakeDriver accepts only "regions" and warns about "legacy".
type fakeDriver struct{}

func (fakeDriver) Name() string          { return "fake" }
func (fakeDriver) PluginNames() []string { return []string{"fake"} }
func (fakeDriver) Validate(config map[string]any) error {
	var o struct {
		Regions StringList `json:"regions"`
		Legacy  bool       `json:"legacy"`
	}
	return Decode(config, &o)
}
func (fakeDriver) Warnings(config map[string]any) []string {
	if config["legacy"] == true {
		return []string{NoEffect("legacy", "why")}
	}
	return nil
}
func (fakeDriver) Open(context.Context, map[string]any, *Credential, *slog.Logger) (Provider, error) {
	return nil, nil
}

func TestRegistryAcceptsTheCacheOptionsWithWarnings(t *testing.T) {
	reg := NewRegistry(fakeDriver{})
	config := map[string]any{"plugin": "fake", "regions": "r1", "cache": true, "cache_plugin": "jsonfile",
		"cache_timeout": 3600, "cache_connection": "/tmp/x", "cache_prefix": "p", "legacy": true}
	if err := reg.Validate("fake", config); err != nil {
		t.Fatalf("refused: %v", err)
	}
	got := reg.Warnings("fake", config)
	var options []string
	for _, w := range got {
		name, _, ok := strings.Cut(strings.TrimPrefix(w, "option "), " has no effect: ")
		if !ok {
			t.Fatalf("warning %q is not \"option X has no effect: why\"", w)
		}
		options = append(options, name)
	}
	if want := []string{"cache", "cache_plugin", "cache_timeout", "cache_connection", "cache_prefix", "legacy"}; !slices.Equal(options, want) {
		t.Fatalf("warned about %v, want %v", options, want)
	}
	if _, ok := config["cache"]; !ok {
		t.Fatal("Validate or Warnings changed the stored config")
	}

	// cache: false asks for nothing.
	if w := reg.Warnings("fake", map[string]any{"cache": false}); len(w) != 0 {
		t.Fatalf("warnings %q for cache: false", w)
	}
	// cache must be a boolean; an invalid config has no warnings.
	err := reg.Validate("fake", map[string]any{"cache": "sometimes", "regoins": "x"})
	fields := map[string]bool{}
	for _, fe := range roster.ErrorFields(err) {
		fields[fe.Field] = true
	}
	if !fields["config.cache"] || !fields["config.regoins"] {
		t.Fatalf("fields %v, want config.cache and config.regoins", fields)
	}
	if w := reg.Warnings("fake", map[string]any{"cache": "sometimes"}); w != nil {
		t.Fatalf("warnings %q for an invalid config", w)
	}
}
