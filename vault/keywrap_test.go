package vault

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// TestWrapKey: a key wrapped under a passphrase opens with it alone; the
// wrapped form carries neither the key nor the passphrase, and a crafted
// file cannot ask for unbounded work.
func TestWrapKey(t *testing.T) {
	k, err := GenerateLocalKey()
	if err != nil {
		t.Fatal(err)
	}
	pass := roster.Secret("correct horse battery staple")
	wrapped, err := WrapKey(k, pass)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{k.Encode().Reveal(), pass.Reveal()} {
		if strings.Contains(string(wrapped), secret) {
			t.Fatal("the wrapped key shows the key or the passphrase")
		}
	}
	got, err := UnwrapKey(wrapped, pass)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID() != k.ID() || got.Encode() != k.Encode() {
		t.Fatal("the unwrapped key is not the key")
	}

	var w map[string]any
	if err := json.Unmarshal(wrapped, &w); err != nil {
		t.Fatal(err)
	}
	greedy := func(field string, v any) []byte {
		c := map[string]any{}
		for k, x := range w {
			c[k] = x
		}
		c[field] = v
		b, _ := json.Marshal(c)
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		pass roster.Secret
		want string
	}{
		{"wrong passphrase", wrapped, "correct horse battery stapler", "does not open"},
		{"memory out of bounds", greedy("memory_kib", 1<<30), pass, "out of bounds"},
		{"time out of bounds", greedy("time", 1000), pass, "out of bounds"},
		{"another format", greedy("format", "rot13"), pass, "format"},
		{"not JSON", []byte("key"), pass, "format"},
	} {
		if _, err := UnwrapKey(tc.data, tc.pass); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	if _, err := WrapKey(k, "short"); err == nil {
		t.Error("a passphrase of 5 bytes was accepted")
	}
}
