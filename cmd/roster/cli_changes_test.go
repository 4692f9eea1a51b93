package main

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestCLIChanges drives `roster run changes` and `roster host history`
// through the built binary against a real server: a first sync's added
// hosts, a second's changed ones (a compose added to the source), by kind
// and limit, as a table, JSON and YAML, and a host's history newest first.
func TestCLIChanges(t *testing.T) {
	srv := startCLIServer(t)
	cli := newCLIEnv(t, srv.bin, "ROSTER_URL="+srv.url, "ROSTER_TOKEN_FILE="+srv.tokenFile)
	dir := t.TempDir()
	cli.ok("inventory", "create", "prod")
	cli.ok("source", "create", "prod", "ec2", "--provider", "aws", "--config", writeJSON(t, dir, "aws_ec2.json", srv.sim.config))
	cli.ok("sync", "ec2", "--wait")

	type change struct {
		RunID       string   `json:"run_id"`
		Host        string   `json:"host"`
		HostID      int64    `json:"host_id"`
		Kind        string   `json:"kind"`
		ChangedKeys []string `json:"changed_keys"`
		Diff        *struct {
			Vars map[string]struct {
				Old json.RawMessage `json:"old"`
				New json.RawMessage `json:"new"`
			} `json:"vars"`
		} `json:"diff"`
	}
	type run struct {
		apiObject
		Counts struct{ Added, Updated int } `json:"counts"`
	}
	lastRun := func() run {
		t.Helper()
		var runs []run
		cli.json(&runs, "run", "list", "prod/ec2", "--limit", "1")
		return runs[0]
	}
	first := lastRun()
	var added []change
	cli.json(&added, "run", "changes", first.ID)
	if len(added) != first.Counts.Added || first.Counts.Added < 20 {
		t.Fatalf("run changes of the first sync: %d changes, it added %d hosts", len(added), first.Counts.Added)
	}
	for _, c := range added {
		if c.Kind != "added" || c.RunID != first.ID || len(c.ChangedKeys) != 0 || c.Diff != nil {
			t.Fatalf("a change of the first sync: %+v", c)
		}
	}
	if table := cli.ok("run", "changes", first.ID, "--limit", "2"); !regexp.MustCompile(`^KIND\s+HOST\s+HOST ID\s+KEYS\n(added\s+\S+\s+\d+\s+-\n){2}$`).MatchString(table) {
		t.Fatalf("run changes table:\n%s", table)
	}

	// A compose that adds a var changes every host.
	cfg := maps.Clone(srv.sim.config)
	compose := maps.Clone(cfg["compose"].(map[string]any))
	compose["owner"] = "'ops'"
	cfg["compose"] = compose
	cli.ok("source", "update", "prod/ec2", "--config", writeJSON(t, dir, "aws_ec2-owner.json", cfg))
	cli.ok("sync", "ec2", "--wait")
	second := lastRun()
	var changed []change
	cli.json(&changed, "run", "changes", second.ID, "--kind", "changed")
	if len(changed) != second.Counts.Updated || len(changed) != len(added) {
		t.Fatalf("run changes --kind changed: %d changes, the sync updated %d hosts of %d", len(changed), second.Counts.Updated, len(added))
	}
	for _, c := range changed {
		if !slices.Equal(c.ChangedKeys, []string{"owner"}) || c.Diff == nil || string(c.Diff.Vars["owner"].New) != `"ops"` || c.Diff.Vars["owner"].Old != nil {
			t.Fatalf("a change of the second sync: %+v", c)
		}
	}
	if out := strings.TrimSpace(cli.ok("run", "changes", second.ID, "--kind", "added", "-o", "json")); out != "[]" {
		t.Fatalf("run changes --kind added of the second sync: %s", out)
	}
	var some []change
	cli.json(&some, "run", "changes", second.ID, "--limit", "3")
	if len(some) != 3 {
		t.Fatalf("run changes --limit 3: %d changes", len(some))
	}
	if y := cli.ok("run", "changes", second.ID, "--limit", "1", "-o", "yaml"); !strings.Contains(y, "kind: changed\n") || !strings.Contains(y, "- owner\n") {
		t.Fatalf("run changes -o yaml:\n%s", y)
	}
	cli.fails("kind", "run", "changes", second.ID, "--kind", "modified")
	cli.fails("not found", "run", "changes", "no-such-run")

	// A host's history, newest first.
	host := changed[0].Host
	var hist []change
	cli.json(&hist, "host", "history", "prod", host)
	if len(hist) != 2 || hist[0].RunID != second.ID || hist[0].Kind != "changed" || hist[1].RunID != first.ID || hist[1].Kind != "added" {
		t.Fatalf("host history: %+v", hist)
	}
	table := cli.ok("host", "history", "prod", host)
	if !regexp.MustCompile(`^AT\s+RUN\s+KIND\s+HOST ID\s+KEYS\n\S+ \S+\s+` + second.ID + `\s+changed\s+\d+\s+owner\s*\n\S+ \S+\s+` + first.ID + `\s+added\s+\d+\s+-\n$`).MatchString(table) {
		t.Fatalf("host history table:\n%s", table)
	}
	if out := strings.TrimSpace(cli.ok("host", "history", "prod", "never-seen", "-o", "json")); out != "[]" {
		t.Fatalf("history of a host never seen: %s", out)
	}
	cli.fails("not found", "host", "history", "nope", host)
}
