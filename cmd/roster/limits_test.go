package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

type limitsRun struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	Error      string     `json:"error"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Counts     struct {
		Added int `json:"added"`
	} `json:"counts"`
}

// syncToEnd triggers a sync of a source and waits for its end.
func syncToEnd(t *testing.T, api *client.Client, sourceID string) limitsRun {
	t.Helper()
	var run limitsRun
	if code := call(t, api, "POST", "/sources/"+sourceID+"/syncs", nil, &run); code != http.StatusAccepted {
		t.Fatalf("trigger a sync of %s: %d (run %+v)", sourceID, code, run)
	}
	for deadline := time.Now().Add(60 * time.Second); !roster.SyncStatus(run.Status).Done(); {
		if time.Now().After(deadline) {
			t.Fatalf("the sync did not finish: %+v", run)
		}
		time.Sleep(20 * time.Millisecond)
		if code := call(t, api, "GET", "/syncs/"+run.ID, nil, &run); code != http.StatusOK {
			t.Fatalf("read run %s: %d", run.ID, code)
		}
	}
	return run
}

// TestExpressionLimitsKeepTheServerUp is the acceptance test of the
// expression budget against a real `roster serve` process: expressions
// that used to make it allocate until the kernel killed it are refused on
// save when their over-limit part is constant; written so they pass
// validation, each fails its sync within a second, naming the source, the
// option and the limit, writes nothing, and raises the server's peak RSS
// (VmHWM) by less than 100 MB; another source syncs after them, and the
// server still answers.
func TestExpressionLimitsKeepTheServerUp(t *testing.T) {
	sim := awssim.New(awssim.Options{Seed: 23, Size: 200, Regions: []string{"us-east-1", "eu-west-1"}})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	db := filepath.Join(t.TempDir(), "roster.db")
	// The default --sync-attempts: a sync failed by a limit is not
	// retried (a retry would only repeat it), so it does not hold the
	// source after it failed.
	node := startNode(t, bin, "roster", db, []string{
		"AWS_ACCESS_KEY_ID=" + simAccessKey, "AWS_SECRET_ACCESS_KEY=" + simSecretKey})
	api := client.New(node.url, adminToken(t, bin, "--database", db))

	config := func(compose map[string]any) map[string]any {
		return map[string]any{"regions": []string{"us-east-1", "eu-west-1"}, "endpoint_url": simSrv.URL, "compose": compose}
	}
	healthy := map[string]any{"ansible_host": "private_ip_address", "short": "private_dns_name.split('.')[0]"}
	ids := map[string]string{}
	for _, name := range []string{"bad", "good"} {
		must(t, api.Do(t.Context(), "POST", "/inventories", map[string]any{"name": name}, nil))
		var src struct{ ID string }
		must(t, api.Do(t.Context(), "POST", "/inventories/"+name+"/sources",
			map[string]any{"name": "ec2-" + name, "provider": "aws", "config": config(healthy)}, &src))
		ids[name] = src.ID
	}

	// The expressions, and others whose over-limit part is
	// constant, are refused on save.
	for _, expr := range []string{
		"(('a'*1000000)|replace('a','a'*1000000))|length",
		"('a'*1000000).replace('a','a'*1000000)|length",
		"'a'.ljust(1000000)",
		"'x'.center(10000000)",
		"('a'*100).join(range(100000)|map('string'))",
		"[1] * 1000000",
	} {
		for _, req := range []struct{ method, path string }{
			{"POST", "/inventories/bad/sources"},
			{"PATCH", "/sources/" + ids["bad"]},
		} {
			body := map[string]any{"config": config(map[string]any{"x": expr})}
			if req.method == "POST" {
				body["name"], body["provider"] = "refused", "aws"
			}
			err := api.Do(t.Context(), req.method, req.path, body, nil)
			var apiErr *client.Error
			if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || len(apiErr.Fields) != 1 ||
				apiErr.Fields[0].Field != "config.compose.x" || !strings.Contains(apiErr.Fields[0].Message, "64 KiB per value") {
				t.Fatalf("%s %s with %s: %v, want 400 naming config.compose.x and the limit", req.method, req.path, expr, err)
			}
		}
	}

	// A first sync of each source, with healthy expressions; then the
	// bad source's hosts as stored.
	for name, id := range ids {
		if run := syncToEnd(t, api, id); run.Status != "succeeded" || run.Counts.Added == 0 {
			t.Fatalf("first sync of %s: %+v", name, run)
		}
	}
	var before json.RawMessage
	call(t, api, "GET", "/inventories/bad/ansible", nil, &before)
	baseline := testenv.PeakRSS(t, node.cmd.Process.Pid)

	// Written to read a host var (compose sees the plugin's vars, not
	// inventory_hostname), the same expressions pass validation; each
	// sync fails on its own.
	for _, expr := range []string{
		"((instance_id[0]*60000)|replace(instance_id[0], instance_id[0]*60000))|length",
		"(instance_id[0]*60000).replace(instance_id[0], instance_id[0]*60000)|length",
		"instance_id.ljust(1000000, instance_id[0])",
		"instance_id.center(1000000, instance_id[0])",
		"(instance_id[0]*60000).join(range(5000)|map('string'))|length",
		"((instance_id[0]*60000)*60000)|length",
		"[instance_id[0]*60000] * 100000",
	} {
		cfg := config(map[string]any{"ansible_host": "private_ip_address", "x": expr})
		if code := call(t, api, "PATCH", "/sources/"+ids["bad"], map[string]any{"config": cfg}, nil); code != http.StatusOK {
			t.Fatalf("save %s: %d", expr, code)
		}
		run := syncToEnd(t, api, ids["bad"])
		if run.Status != "failed" {
			t.Fatalf("%s: sync %+v, want failed", expr, run)
		}
		for _, want := range []string{`source "ec2-bad"`, "compose.x", "64 KiB per value (expression_value_bytes)"} {
			if !strings.Contains(run.Error, want) {
				t.Errorf("%s: error %q does not say %q", expr, run.Error, want)
			}
		}
		took := run.FinishedAt.Sub(*run.StartedAt)
		if took > time.Second {
			t.Errorf("%s: the sync took %v to fail", expr, took)
		}
		t.Logf("%s: failed in %v", expr, took)
	}

	if rise := testenv.PeakRSS(t, node.cmd.Process.Pid) - baseline; rise >= 100<<20 {
		t.Errorf("the server's peak RSS rose by %d MiB", rise>>20)
	} else {
		t.Logf("the server's peak RSS rose by %.1f MiB (from %d MiB)", float64(rise)/(1<<20), baseline>>20)
	}
	var after json.RawMessage
	call(t, api, "GET", "/inventories/bad/ansible", nil, &after)
	if !bytes.Equal(before, after) {
		t.Error("a failed sync changed the inventory")
	}
	// The server still answers, and syncs other sources.
	resp, err := http.Get(node.url + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	if run := syncToEnd(t, api, ids["good"]); run.Status != "succeeded" {
		t.Fatalf("sync of the healthy source after the failures: %+v", run)
	}
}
