package openstack

import (
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/openstack/openstacksim"
)

// simEnv is a simulator on an httptest server and a Driver that reaches
// it only through its Keystone URL, with the simulator's credentials
// injected by cloud name: "sim" is the demo user, "simadmin" the admin.
// The Driver has no HTTPClient: the syncs go through the transport a user
// gets (and TestMain keeps the variables that choose CAs out of the
// environment).
type simEnv struct {
	sim    *openstacksim.Server
	base   string
	driver Driver
}

func newSimEnv(t testing.TB, opts openstacksim.Options) *simEnv {
	t.Helper()
	sim := openstacksim.New(opts)
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return &simEnv{sim: sim, base: ts.URL, driver: Driver{
		Credentials: StaticCredentials{
			"sim":      {Password: openstacksim.DefaultPassword},
			"simadmin": {Password: openstacksim.AdminPassword},
		},
		MaxBackoff: 2 * time.Millisecond,
		PageSize:   25,
		Getenv:     func(string) string { return "" },
		ConfigDirs: []string{t.TempDir()},
	}}
}

func (e *simEnv) authURL() string { return openstacksim.AuthURL(e.base) }

// cloudAuth is a clouds.yaml auth block for user on project, without the
// password.
func (e *simEnv) cloudAuth(user, project string) map[string]any {
	return map[string]any{
		"auth_url": e.authURL(), "username": user, "user_domain_name": "Default",
		"project_name": project, "project_domain_name": "Default",
	}
}

// config is a source configuration with the cloud "sim" (the demo user on
// project demo) and the given options.
func (e *simEnv) config(opts map[string]any) map[string]any {
	cfg := map[string]any{"clouds": map[string]any{"sim": map[string]any{"auth": e.cloudAuth("demo", "demo")}}}
	maps.Copy(cfg, opts)
	return cfg
}

func (e *simEnv) open(t testing.TB, config map[string]any) sources.Provider {
	t.Helper()
	p, err := e.driver.Open(t.Context(), config, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// collectAll lists the scopes and collects each, failing on any error.
func collectAll(t testing.TB, p sources.Provider) map[string][]sources.Instance {
	t.Helper()
	scopes, err := p.Scopes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]sources.Instance{}
	for _, s := range scopes {
		insts, err := p.Collect(t.Context(), s)
		if err != nil {
			t.Fatalf("collect %s: %v", s, err)
		}
		out[s] = insts
	}
	return out
}

// fleetIDs lists the ids of the servers of region and project (any when
// "") that keep returns true for, sorted.
func fleetIDs(fleet *openstacksim.Fleet, region, project string, keep func(openstacksim.ServerInfo) bool) []string {
	var ids []string
	for _, s := range fleet.Servers() {
		if (region == "" || s.Region == region) && (project == "" || s.Project == project) && (keep == nil || keep(s)) {
			ids = append(ids, s.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func instanceIDs(insts []sources.Instance) []string {
	ids := make([]string, len(insts))
	for i, in := range insts {
		ids[i] = in.ExternalID
	}
	slices.Sort(ids)
	return ids
}

func hasAddress(s openstacksim.ServerInfo) bool { return len(s.Addresses) > 0 }
