package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/spf13/cobra"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
	"github.com/rosterhq/roster/sources/aws/awssim"
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
		Short: "Run Roster on embedded defaults against a simulated EC2 fleet",
		Long: `Run Roster on embedded defaults: SQLite in a data directory, an EC2 simulator
with a sample fleet, an inventory "demo" with an AWS source pointed at it,
synced once, and the API on 127.0.0.1. A second run reuses the data directory.`,
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

	sim := awssim.New(awssim.Options{Seed: 1, Size: size, Regions: demoRegions, Logger: log.With("component", "awssim")})
	simURL, stopSim, err := sim.Start(ctx, "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start the EC2 simulator: %w", err)
	}
	defer stopSim()

	m := &Main{
		Config: c,
		Log:    log,
		Registry: sources.NewRegistry(aws.Driver{
			Credentials: credentials.NewStaticCredentialsProvider(simAccessKey, simSecretKey, ""),
		}),
	}
	if err := m.Run(ctx); err != nil {
		m.Close()
		if strings.Contains(err.Error(), "address already in use") {
			return fmt.Errorf("%w (another Roster running? pick a free address with --listen 127.0.0.1:8081)", err)
		}
		return err
	}
	defer m.Close()

	src, err := demoSetup(ctx, m.Store, simURL)
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

	fmt.Fprintf(out, "Roster demo\n\n")
	fmt.Fprintf(out, "  API        %s (described by openapi.yaml)\n", m.URL)
	fmt.Fprintf(out, "  data       %s (SQLite; the next run reuses it)\n", c.DataDir)
	fmt.Fprintf(out, "  log        %s\n", logPath)
	fmt.Fprintf(out, "  simulator  EC2, %d instances in %s, at %s\n\n", sim.Fleet().Len(), strings.Join(demoRegions, ", "), simURL)

	run, _, err := m.Engine.Trigger(ctx, src, roster.TriggerCLI)
	if err != nil {
		return err
	}
	display := newProgressDisplay(os.Stderr, src.Name)
	m.Engine.Run(ctx, run, display.update)
	display.done()
	printSummary(out, src.Name, run)
	if run.Status == roster.SyncFailed {
		return errors.New("the demo sync failed; see " + logPath)
	}

	api := m.URL + "/api/v1"
	fmt.Fprintf(out, "\nAdmin token (also in %s):\n  export ROSTER_TOKEN=%s\n\n", tokenFile, token.Reveal())
	fmt.Fprintf(out, "Try:\n")
	fmt.Fprintf(out, "  curl -s -H \"Authorization: Bearer $ROSTER_TOKEN\" %s/inventories/%s/groups\n", api, demoInventory)
	fmt.Fprintf(out, "  curl -s -H \"Authorization: Bearer $ROSTER_TOKEN\" '%s/inventories/%s/hosts?group=env_prod&limit=5'\n", api, demoInventory)
	fmt.Fprintf(out, "  curl -s -X POST -H \"Authorization: Bearer $ROSTER_TOKEN\" %s/sources/%s/syncs\n", api, src.ID)
	fmt.Fprintf(out, "  curl -s -H \"Authorization: Bearer $ROSTER_TOKEN\" %s/sources/%s/syncs\n", api, src.ID)
	fmt.Fprintf(out, "  ansible-inventory -i %s --graph\n", script)
	fmt.Fprintf(out, "  ansible-inventory -i %s --host %s\n", script, firstHostName(ctx, m.Store, src))
	fmt.Fprintf(out, "\nCtrl-C stops the demo.\n")

	err = m.Wait(ctx)
	fmt.Fprintln(out, "\nstopping")
	return err
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

// demoSetup creates the demo inventory and source, or points an existing
// source at this run's simulator.
func demoSetup(ctx context.Context, st roster.Store, simURL string) (*roster.Source, error) {
	inv, err := st.Inventory(ctx, demoInventory)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		inv = &roster.Inventory{Name: demoInventory, Description: "Roster demo: a simulated EC2 fleet"}
		err = st.CreateInventory(ctx, inv)
	}
	if err != nil {
		return nil, err
	}
	cfg := demoConfig(simURL)
	src, err := st.SourceByName(ctx, inv.ID, demoSource)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		src = &roster.Source{InventoryID: inv.ID, Name: demoSource, Provider: "aws", Config: cfg, OnMissing: roster.OnMissingRemove}
		return src, st.CreateSource(ctx, src)
	}
	if err != nil {
		return nil, err
	}
	src.Config["endpoint_url"] = simURL
	return st.UpdateSource(ctx, src.ID, roster.SourceUpdate{Config: src.Config})
}

// demoToken replaces the demo's admin token: its value is shown once, so a
// new run needs a new one.
func demoToken(ctx context.Context, st roster.Store) (roster.Secret, error) {
	if err := st.DeleteToken(ctx, demoTokenName); err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
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
export ROSTER_URL="${ROSTER_URL:-%s}"
export ROSTER_INVENTORY="${ROSTER_INVENTORY:-%s}"
export ROSTER_TOKEN_FILE="${ROSTER_TOKEN_FILE:-%s}"
exec %s inventory "$@"
`, url, demoInventory, tokenFile, shellQuote(exe))
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		return "", fmt.Errorf("write inventory script: %w", err)
	}
	return path, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func firstHostName(ctx context.Context, st roster.Store, src *roster.Source) string {
	t := true
	hosts, _, err := st.Hosts(ctx, roster.HostFilter{InventoryID: src.InventoryID, Enabled: &t, Limit: 1})
	if err != nil || len(hosts) == 0 {
		return "NAME"
	}
	return hosts[0].Name
}
