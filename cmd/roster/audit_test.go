package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster"
)

// TestAuditSettingErrors: a retention that would erase the log by a typo,
// refusals kept longer than issuances, or a limit out of range stop
// `roster serve` with the setting named.
func TestAuditSettingErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{args: []string{"--audit-retention", "12h"}, want: "audit retention 12h0m0s: must be 0 (keep forever) or at least 1d"},
		{args: []string{"--audit-retention", "-1h"}, want: "audit retention -1h0m0s: must be 0 (keep forever) or at least 1d"},
		{args: []string{"--audit-retention", "365"}, want: `audit-retention / ROSTER_AUDIT_RETENTION: "365" is not a duration such as 30s, 10m or 2h`},
		{args: []string{"--audit-retention", "1y"}, want: `audit-retention / ROSTER_AUDIT_RETENTION: "1y" is not a duration such as 30s, 10m or 2h`},
		{args: []string{"--audit-retention", "9999999d"}, want: `audit-retention / ROSTER_AUDIT_RETENTION: "9999999d" is not a duration such as 30s, 10m or 2h`},
		{args: []string{"--audit-failure-retention", "1m"}, want: "audit failure retention 1m0s: must be 0 (keep forever) or at least 1d"},
		{args: []string{"--audit-failure-retention", "400d"}, want: "audit failure retention (400d) must not be longer than the audit retention (365d)"},
		{args: []string{"--audit-failure-retention", "0"}, want: "audit failure retention (forever) must not be longer than the audit retention (365d)"},
		{env: map[string]string{"ROSTER_AUDIT_RETENTION": "30d", "ROSTER_AUDIT_FAILURE_RETENTION": "31d"}, want: "audit failure retention (31d) must not be longer than the audit retention (30d)"},
		{args: []string{"--audit-failures-per-caller", "0"}, want: "audit failures per caller must be between 1 and 10000"},
		{args: []string{"--audit-failures-per-caller", "10001"}, want: "audit failures per caller must be between 1 and 10000"},
	} {
		for k, v := range tt.env {
			t.Setenv(k, v)
		}
		_, _, err := run(t, t.Context(), append([]string{"serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, tt.args...)...)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%v %v: %v, want: %s", tt.args, tt.env, err, tt.want)
		}
		for k := range tt.env {
			os.Unsetenv(k)
		}
	}
}

// TestAuditSettings: days are a unit, forever is 0, the file's keys work,
// and the defaults are a year of issuances and 90 days of refusals.
func TestAuditSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.yaml")
	must(t, os.WriteFile(path, []byte("audit_retention: 0\naudit_failure_retention: 30d\naudit_failures_per_caller: 7\n"), 0o600))
	for _, tt := range []struct {
		args []string
		want roster.AuditRetention
		per  int
	}{
		{nil, roster.AuditRetention{Allowed: 365 * 24 * time.Hour, Failures: 90 * 24 * time.Hour}, roster.DefaultAuditPerCaller},
		{[]string{"--audit-retention", "0", "--audit-failure-retention", "0"}, roster.AuditRetention{}, roster.DefaultAuditPerCaller},
		{[]string{"--audit-retention", "730d", "--audit-failures-per-caller", "200"}, roster.AuditRetention{Allowed: 730 * 24 * time.Hour, Failures: 90 * 24 * time.Hour}, 200},
		{[]string{"--config", path}, roster.AuditRetention{Failures: 30 * 24 * time.Hour}, 7},
	} {
		c, err := configOf(t, tt.args...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if got := c.auditRetention(); got != tt.want || c.auditLimits().PerCaller != tt.per {
			t.Errorf("%v: retention %+v, %d per caller; want %+v, %d", tt.args, got, c.auditLimits().PerCaller, tt.want, tt.per)
		}
	}
}

// configOf resolves the configuration a command given args would run with.
func configOf(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	base := defaultConfig()
	base.DataDir = t.TempDir()
	cmd := &cobra.Command{Use: "test"}
	addConfigFlags(cmd.Flags(), &base)
	if err := cmd.Flags().Parse(args); err != nil {
		return Config{}, err
	}
	return loadConfig(cmd, base)
}

// TestPurgeAudit: the hourly purge removes what retention says on a real
// store, keeps the young issuance, and leaves a record of itself; run
// again, it finds nothing and records nothing.
func TestPurgeAudit(t *testing.T) {
	ctx := t.Context()
	st, err := openStore(ctx, Config{Database: filepath.Join(t.TempDir(), "roster.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	day := 24 * time.Hour
	for _, e := range []*roster.AuditEvent{
		{Time: now.Add(-366 * day), Outcome: roster.AuditAllowed},
		{Time: now.Add(-364 * day), Outcome: roster.AuditAllowed, TargetID: "kept"},
		{Time: now.Add(-91 * day), Outcome: roster.AuditDenied, Reason: "no grant"},
		{Time: now.Add(-89 * day), Outcome: roster.AuditDenied, Reason: "no grant", TargetID: "kept"},
	} {
		e.Actor, e.ActorID, e.Action, e.TargetType = "runner", "t1", "credential.issue", "credential"
		must(t, st.AppendAudit(ctx, e))
	}
	c, err := configOf(t)
	must(t, err)
	log := slog.New(slog.DiscardHandler)
	must(t, purgeAudit(ctx, st, c.auditRetention(), now, log))
	events, _, err := st.AuditEvents(ctx, roster.AuditFilter{})
	must(t, err)
	if len(events) != 3 || events[0].Action != "audit.purge" || events[0].Details["records"] != "2" ||
		events[1].TargetID != "kept" || events[2].TargetID != "kept" {
		for _, e := range events {
			t.Logf("%+v", e)
		}
		t.Fatalf("after the purge: %d records, want the purge's and the 2 kept", len(events))
	}
	must(t, purgeAudit(ctx, st, c.auditRetention(), now, log))
	if again, _, err := st.AuditEvents(ctx, roster.AuditFilter{}); err != nil || len(again) != 3 {
		t.Fatalf("a second purge: %d records (%v), want 3", len(again), err)
	}
}
