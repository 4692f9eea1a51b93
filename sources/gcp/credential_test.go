package gcp

import (
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/gcp/gcpsim"
)

// TestBrokerCredential: a source's gcp credential from the broker is the
// key a sync signs with, ahead of GOOGLE_APPLICATION_CREDENTIALS.
func TestBrokerCredential(t *testing.T) {
	sim, url := newSim(t, gcpsim.Options{Seed: 4, Size: 30, Projects: []string{"roster-prod"}})
	t.Setenv(credentialsEnv, "/nonexistent/key.json")
	cred := &sources.Credential{Type: roster.CredentialGCP, Fields: map[string]roster.Secret{
		"service_account_json": roster.Secret(sim.KeyFile(url)),
	}}
	p, err := Driver{MaxBackoff: 5 * time.Millisecond}.Open(t.Context(), map[string]any{"projects": "roster-prod", "endpoint_url": url}, cred, discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := collectAll(t, p); len(got) == 0 {
		t.Fatal("no instance through the broker's key")
	}
}
