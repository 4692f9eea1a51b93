package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/broker"
	"github.com/rosterhq/roster/internal/password"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
	"github.com/rosterhq/roster/sources/aws/awssim"
	"github.com/rosterhq/roster/sources/azure"
	"github.com/rosterhq/roster/sources/azure/azuresim"
	"github.com/rosterhq/roster/sources/gcp"
	"github.com/rosterhq/roster/sources/gcp/gcpsim"
	"github.com/rosterhq/roster/sources/openstack"
	"github.com/rosterhq/roster/sources/openstack/openstacksim"
)

const (
	demoInventory = "demo"
	demoSource    = "aws-demo"
	demoTokenName = "demo-admin"
)

var demoRegions = []string{"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"}

func newDemoCommand() *cobra.Command {
	base := defaultConfig()
	base.DataDir = filepath.Join(defaultDataDir(), "demo")
	var size int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run Roster on embedded defaults against simulated clouds",
		Long: `Run Roster on embedded defaults: SQLite and the local secret store in a data
directory, EC2, Compute Engine, Azure and OpenStack simulators with sample fleets,
an inventory "demo" with one source per cloud, each syncing with a
credential held by the broker, synced once, and the API on 127.0.0.1.
A second run reuses the data directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(cmd, base)
			if err != nil {
				return err
			}
			return runDemo(cmd.Context(), c, size, cmd.OutOrStdout())
		},
	}
	cmd.Flags().IntVar(&size, "size", 300, "instances in the simulated fleet")
	addConfigFlags(cmd.Flags(), &base)
	return cmd
}

func runDemo(ctx context.Context, c Config, size int, out io.Writer) error {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	logPath := filepath.Join(c.DataDir, "roster.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	defer logFile.Close()
	log := newLogger(c, logFile)

	clouds, registry, stop, err := startDemoClouds(ctx, size, log)
	if err != nil {
		return err
	}
	defer stop()

	m := &Main{Config: c, Log: log, Registry: registry}
	if err := m.Run(ctx); err != nil {
		m.Close()
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%w (another Roster running? pick a free address with --listen 127.0.0.1:8081)", err)
		}
		return err
	}
	defer m.Close()

	srcs, err := demoSetup(ctx, m, clouds)
	if err != nil {
		return err
	}
	token, err := demoToken(ctx, m.Store)
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(c.DataDir, "demo-token")
	if err := os.WriteFile(tokenFile, []byte(token.Reveal()+"\n"), 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	script, err := writeDemoScript(c.DataDir, m.URL, tokenFile)
	if err != nil {
		return err
	}
	demoPW, err := demoUser(ctx, m.Store)
	if err != nil {
		return err
	}
	passwordFile := filepath.Join(c.DataDir, "demo-password")
	if err := os.WriteFile(passwordFile, []byte(demoPW.Reveal()+"\n"), 0o600); err != nil {
		return fmt.Errorf("write password file: %w", err)
	}

	fmt.Fprintf(out, "Roster demo\n\n")
	fmt.Fprintf(out, "  Web UI     %s/ (sign in as %s, password %s, also in %s)\n", m.URL, demoUserName, demoPW.Reveal(), passwordFile)
	fmt.Fprintf(out, "  API        %s (described by openapi.yaml)\n", m.URL)
	fmt.Fprintf(out, "  data       %s (SQLite and the local secret store; the next run reuses it)\n", c.DataDir)
	fmt.Fprintf(out, "  log        %s\n", logPath)
	for _, cl := range clouds {
		fmt.Fprintf(out, "  simulator  %s at %s\n", cl.describe, cl.url)
	}
	fmt.Fprintln(out)

	for _, src := range srcs {
		run, _, err := m.Engine.Inline().Trigger(ctx, src, roster.TriggerCLI)
		if err != nil {
			return err
		}
		display := newProgressDisplay(os.Stderr, src.Name)
		runErr := m.Engine.Run(ctx, run, display.update)
		display.done()
		if stored, err := m.Store.SyncRun(context.WithoutCancel(ctx), run.ID); err == nil {
			run = stored
		} else if runErr != nil {
			return runErr
		}
		printSummary(out, src.Name, run)
		if run.Status == roster.SyncFailed {
			return errors.New("the demo sync of " + src.Name + " failed; see " + logPath)
		}
	}

	api := m.URL + "/api/v1"
	fmt.Fprintf(out, "\nAdmin token (also in %s):\n  export ROSTER_TOKEN=%s\n\n", tokenFile, token.Reveal())
	fmt.Fprintf(out, "Try:\n")
	fmt.Fprintf(out, "  curl -s -H \"Authorization: Bearer $ROSTER_TOKEN\" %s/inventories/%s/groups\n", api, demoInventory)
	fmt.Fprintf(out, "  curl -s -H \"Authorization: Bearer $ROSTER_TOKEN\" '%s/inventories/%s/hosts?group=env_prod&limit=5'\n", api, demoInventory)
	fmt.Fprintf(out, "  curl -s -X POST -H \"Authorization: Bearer $ROSTER_TOKEN\" %s/sources/%s/syncs\n", api, srcs[0].ID)
	fmt.Fprintf(out, "  curl -s -H \"Authorization: Bearer $ROSTER_TOKEN\" %s/credentials\n", api)
	fmt.Fprintf(out, "  curl -s -H \"Authorization: Bearer $ROSTER_TOKEN\" %s/audit\n", api)
	fmt.Fprintf(out, "  ansible-inventory -i %s --graph\n", script)
	fmt.Fprintf(out, "  ansible-inventory -i %s --host %s\n", script, firstHostName(ctx, m.Store, srcs[0]))
	fmt.Fprintf(out, "\nCtrl-C stops the demo.\n")

	err = m.Wait(ctx)
	fmt.Fprintln(out, "\nstopping")
	return err
}

// demoCloud is one simulated cloud of the demo, with the source and the
// credential that sync it.
type demoCloud struct {
	url      string
	describe string
	source   string
	provider string
	config   map[string]any
	cred     broker.CredentialInput
}

// startDemoClouds starts the EC2, Compute Engine, Azure and OpenStack
// simulators. The registry's Azure driver trusts the Azure simulator's
// throwaway CA; nothing else differs from the default.
func startDemoClouds(ctx context.Context, size int, log *slog.Logger) ([]demoCloud, *sources.Registry, func(), error) {
	var stops []func()
	stop := func() {
		for _, s := range stops {
			s()
		}
	}
	fail := func(what string, err error) ([]demoCloud, *sources.Registry, func(), error) {
		stop()
		return nil, nil, nil, fmt.Errorf("start the %s simulator: %w", what, err)
	}

	ec2 := awssim.New(awssim.Options{Seed: 1, Size: size, Regions: demoRegions, AccessKeys: []string{simAccessKey}, Logger: log.With("component", "awssim")})
	ec2URL, stopEC2, err := startOn(ctx, ec2.Start, "127.0.0.1:4566")
	if err != nil {
		return fail("EC2", err)
	}
	stops = append(stops, stopEC2)

	gce, err := gcpsim.New(gcpsim.Options{Seed: 1, Size: size * 2 / 3, Projects: []string{"roster-demo-prod", "roster-demo-dev"}, Logger: log.With("component", "gcpsim")})
	if err != nil {
		return fail("Compute Engine", err)
	}
	gceURL, stopGCE, err := startOn(ctx, gce.Start, "127.0.0.1:4567")
	if err != nil {
		return fail("Compute Engine", err)
	}
	stops = append(stops, stopGCE)

	arm := azuresim.New(azuresim.Options{Seed: 1, Size: size / 2, ScaleSets: 1, Logger: log.With("component", "azuresim")})
	armURL, stopARM, err := startOn(ctx, arm.Start, "127.0.0.1:4569")
	if err != nil {
		return fail("Azure", err)
	}
	stops = append(stops, stopARM)

	nova := openstacksim.New(openstacksim.Options{Seed: 1, Size: size / 2, Logger: log.With("component", "openstacksim")})
	novaURL, stopNova, err := startOn(ctx, nova.Start, "127.0.0.1:4568")
	if err != nil {
		return fail("OpenStack", err)
	}
	stops = append(stops, stopNova)

	clouds := []demoCloud{
		{
			url: ec2URL, describe: fmt.Sprintf("EC2, %d instances in %s", ec2.Fleet().Len(), strings.Join(demoRegions, ", ")),
			source: demoSource, provider: "aws", config: demoConfig(ec2URL),
			cred: broker.CredentialInput{Name: "aws-demo", Type: roster.CredentialAWS, Description: "the EC2 simulator's keys",
				Fields: map[string]roster.Secret{"access_key_id": simAccessKey, "secret_access_key": simSecretKey}},
		},
		{
			url: gceURL, describe: fmt.Sprintf("Compute Engine, %d instances in %s", gce.Fleet().Len(), strings.Join(gce.Fleet().Projects(), ", ")),
			source: "gcp-demo", provider: "gcp",
			config: map[string]any{
				"plugin": "google.cloud.gcp_compute", "projects": toAny(gce.Fleet().Projects()), "endpoint_url": gceURL,
				"hostnames":    []any{"name"},
				"keyed_groups": []any{map[string]any{"prefix": "gcp", "key": "labels"}, map[string]any{"prefix": "zone", "key": "zone"}},
				"compose":      map[string]any{"ansible_host": "networkInterfaces[0].networkIP"},
			},
			cred: broker.CredentialInput{Name: "gcp-demo", Type: roster.CredentialGCP, Description: "the Compute Engine simulator's service account",
				Fields: map[string]roster.Secret{"service_account_json": roster.Secret(gce.KeyFile(gceURL))}},
		},
		{
			url: armURL, describe: fmt.Sprintf("Azure, %d VMs in %d subscriptions", arm.Fleet().Len(), len(arm.Fleet().Subscriptions())),
			source: "azure-demo", provider: "azure",
			config: map[string]any{
				"plugin": "azure.azcollection.azure_rm", "subscriptions": toAny(arm.Fleet().Subscriptions()), "include_vmss": true,
				"authority_host": armURL, "arm_endpoint": armURL,
				"keyed_groups":       []any{map[string]any{"prefix": "azure_loc", "key": "location"}, map[string]any{"prefix": "azure_os", "key": "os_profile.system"}},
				"conditional_groups": map[string]any{"azure_running": "powerstate == 'running'"},
			},
			cred: broker.CredentialInput{Name: "azure-demo", Type: roster.CredentialAzure, Description: "the Azure simulator's service principal",
				Fields: map[string]roster.Secret{"tenant_id": roster.Secret(arm.TenantID()), "client_id": roster.Secret(arm.ClientID()), "client_secret": roster.Secret(arm.ClientSecret())}},
		},
		{
			url: novaURL, describe: fmt.Sprintf("OpenStack, %d servers in %s", nova.Fleet().Len(), strings.Join(nova.Fleet().Regions(), ", ")),
			source: "openstack-demo", provider: "openstack",
			// The plugin's legacy groups keep names Ansible warns about
			// ("flavor-m1.small"); the demo builds sanitised ones instead.
			config: map[string]any{
				"plugin": "openstack.cloud.openstack", "projects": []any{"demo"}, "legacy_groups": false,
				"keyed_groups": []any{
					map[string]any{"prefix": "os_region", "key": "openstack.cloud.region"},
					map[string]any{"prefix": "flavor", "key": "openstack.flavor.name"},
					map[string]any{"prefix": "meta", "key": "openstack.metadata"},
				},
			},
			cred: broker.CredentialInput{Name: "openstack-demo", Type: roster.CredentialOpenStack, Description: "the OpenStack simulator's demo user",
				Fields: map[string]roster.Secret{
					"auth_url": roster.Secret(openstacksim.AuthURL(novaURL)), "username": openstacksim.DefaultUser, "password": openstacksim.DefaultPassword,
					"user_domain_name": "Default", "project_name": "demo", "project_domain_name": "Default",
				}},
		},
	}
	registry := sources.NewRegistry(aws.Driver{}, gcp.Driver{}, azure.Driver{HTTPClient: arm.Client()}, openstack.Driver{})
	return clouds, registry, stop, nil
}

// startOn starts a simulator on its usual port, so that a second demo run
// sees the same URLs (which some host vars carry, as Nova's links do), or
// on any free port when that one is taken.
func startOn(ctx context.Context, start func(context.Context, string) (string, func(), error), addr string) (string, func(), error) {
	url, stop, err := start(ctx, addr)
	if err != nil {
		return start(ctx, "127.0.0.1:0")
	}
	return url, stop, nil
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// demoConfig is the demo source: the aws_ec2 plugin's own documented
// options, pointed at the simulator.
func demoConfig(simURL string) map[string]any {
	regions := make([]any, len(demoRegions))
	for i, r := range demoRegions {
		regions[i] = r
	}
	return map[string]any{
		"plugin":       "amazon.aws.aws_ec2",
		"regions":      regions,
		"endpoint_url": simURL,
		"hostnames":    []any{"tag:Name", "private-dns-name"},
		"compose": map[string]any{
			"ansible_host": "public_ip_address | default(private_ip_address)",
		},
		"groups": map[string]any{
			"webservers": "tags.Role | default('') == 'web'",
			"stopped":    "state.name == 'stopped'",
		},
		"keyed_groups": []any{
			map[string]any{"prefix": "arch", "key": "architecture"},
			map[string]any{"prefix": "instance_type", "key": "instance_type"},
			map[string]any{"prefix": "aws_region", "key": "placement.region"},
			map[string]any{"prefix": "env", "key": "tags.Env", "parent_group": "environments"},
			map[string]any{"prefix": "role", "key": "tags.Role"},
			map[string]any{"prefix": "security_groups", "key": `security_groups | json_query("[].group_id")`},
		},
	}
}

// demoActor is who the demo's setup is audited as.
var demoActor = broker.Actor{Name: "roster-demo"}

// demoSetup creates the demo inventory, one credential (kept by the broker)
// and one source per simulated cloud, or points existing ones at this
// run's simulators.
func demoSetup(ctx context.Context, m *Main, clouds []demoCloud) ([]*roster.Source, error) {
	// The simulated fleets name machines alike (web-03 runs in every
	// cloud): each host is named by its source, or Ansible would see one
	// host for each such name.
	prefix := roster.NamesPrefix
	inv, err := m.Store.Inventory(ctx, demoInventory)
	switch {
	case roster.ErrorCode(err) == roster.ENOTFOUND:
		inv = &roster.Inventory{Name: demoInventory, Description: "Roster demo: simulated EC2, Compute Engine, Azure and OpenStack fleets", NamePolicy: prefix}
		err = m.Store.CreateInventory(ctx, inv)
	case err == nil && inv.NamePolicy != prefix:
		inv, err = m.Store.UpdateInventory(ctx, inv.ID, roster.InventoryUpdate{NamePolicy: &prefix})
	}
	if err != nil {
		return nil, err
	}
	var srcs []*roster.Source
	for _, cl := range clouds {
		if err := m.Registry.Validate(cl.provider, cl.config); err != nil {
			return nil, fmt.Errorf("demo source %s: %w", cl.source, err)
		}
		cred, err := m.Store.Credential(ctx, cl.cred.Name)
		switch {
		case roster.ErrorCode(err) == roster.ENOTFOUND:
			cred, err = m.Broker.Create(ctx, demoActor, cl.cred)
		case err == nil:
			cred, err = m.Broker.Update(ctx, demoActor, cred.ID, nil, nil, cl.cred.Fields)
		}
		if err != nil {
			return nil, fmt.Errorf("demo credential %s: %w", cl.cred.Name, err)
		}
		src, err := m.Store.SourceByName(ctx, inv.ID, cl.source)
		if roster.ErrorCode(err) == roster.ENOTFOUND {
			src = &roster.Source{InventoryID: inv.ID, Name: cl.source, Provider: cl.provider, Config: cl.config, OnMissing: roster.OnMissingRemove, CredentialID: cred.ID}
			err = m.Store.CreateSource(ctx, src)
		} else if err == nil {
			src, err = m.Store.UpdateSource(ctx, src.ID, roster.SourceUpdate{Config: cl.config, CredentialID: &cred.ID})
		}
		if err != nil {
			return nil, fmt.Errorf("demo source %s: %w", cl.source, err)
		}
		srcs = append(srcs, src)
	}
	return srcs, nil
}

// demoUserName is the demo's person, an admin who signs in to the Web UI.
const demoUserName = "demo"

// demoUser gives the demo's user (made on the first run, an admin over
// the server) a new password, as the token gets a new value: it is shown
// once.
func demoUser(ctx context.Context, st roster.Store) (roster.Secret, error) {
	value, _ := roster.NewTokenValue()
	pw := roster.Secret(strings.TrimPrefix(value.Reveal(), roster.TokenPrefix)[:20])
	h, err := password.Hash(pw)
	if err != nil {
		return "", err
	}
	hash := roster.Secret(h)
	u, err := st.User(ctx, demoUserName)
	switch {
	case roster.ErrorCode(err) == roster.ENOTFOUND:
		u = &roster.User{Name: demoUserName, DisplayName: "Demo", Source: roster.UserLocal, PasswordHash: hash}
		if err := st.CreateUser(ctx, u); err != nil {
			return "", err
		}
		b := &roster.RoleBinding{SubjectKind: roster.SubjectUser, SubjectID: u.ID, Role: roster.RoleAdmin, ScopeKind: roster.ScopeServer}
		if err := st.CreateRoleBinding(ctx, b); err != nil {
			return "", err
		}
	case err != nil:
		return "", err
	default:
		if _, err := st.UpdateUser(ctx, u.ID, roster.UserUpdate{PasswordHash: &hash}); err != nil {
			return "", err
		}
	}
	return pw, nil
}

// demoToken replaces the demo's admin token: its value is shown once, so a
// new run needs a new one.
func demoToken(ctx context.Context, st roster.Store) (roster.Secret, error) {
	old, err := st.Token(ctx, demoTokenName)
	switch {
	case err == nil:
		if err := st.DeleteToken(ctx, old.ID); err != nil {
			return "", err
		}
	case roster.ErrorCode(err) != roster.ENOTFOUND:
		return "", err
	}
	value, hash := roster.NewTokenValue()
	return value, st.CreateToken(ctx, &roster.Token{Name: demoTokenName, Role: roster.RoleAdmin}, hash)
}

// writeDemoScript writes an executable inventory script for Ansible that
// runs this binary's `inventory` command against the demo.
func writeDemoScript(dir, url, tokenFile string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this program: %w", err)
	}
	path := filepath.Join(dir, "roster-inventory")
	script := fmt.Sprintf(`#!/bin/sh
# Ansible dynamic inventory for the Roster demo (written by roster demo; it
# works while the demo runs). Elsewhere use the roster-inventory program.
[ -n "${ROSTER_URL:-}" ] || ROSTER_URL=%s
[ -n "${ROSTER_INVENTORY:-}" ] || ROSTER_INVENTORY=%s
[ -n "${ROSTER_TOKEN_FILE:-}" ] || ROSTER_TOKEN_FILE=%s
export ROSTER_URL ROSTER_INVENTORY ROSTER_TOKEN_FILE
exec %s inventory "$@"
`, shellQuote(url), shellQuote(demoInventory), shellQuote(tokenFile), shellQuote(exe))
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		return "", fmt.Errorf("write inventory script: %w", err)
	}
	return path, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func firstHostName(ctx context.Context, st roster.Store, src *roster.Source) string {
	t := true
	hosts, _, err := st.Hosts(ctx, roster.HostFilter{InventoryID: src.InventoryID, SourceID: src.ID, Enabled: &t, Limit: 1})
	if err != nil || len(hosts) == 0 {
		return "NAME"
	}
	return src.Name + "_" + hosts[0].Name // the demo's name_policy is prefix
}
