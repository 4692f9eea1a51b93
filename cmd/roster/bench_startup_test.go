package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
)

// BenchmarkStartup measures `roster serve` from exec to the first 200 of
// /readyz on a copy of a 100,000-host SQLite database (ROSTER_BENCH_SIZE
// overrides the size), next to the same binary on an empty data directory
// (the baseline: the process, the migrations of a new database and the
// listener, nothing that depends on the hosts).
//
// Building the database takes a while; ROSTER_BENCH_STARTUP_DB names a
// file that keeps it between runs (written when it does not exist).
func BenchmarkStartup(b *testing.B) {
	bin := buildBinary(b, "./cmd/roster", b.TempDir())
	full := startupDatabase(b, benchSize)
	b.Run("empty", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dir := b.TempDir()
			b.StartTimer()
			startServe(b, bin, dir)
		}
	})
	b.Run(fmt.Sprintf("hosts=%d", benchSize), func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dir := b.TempDir()
			copyFile(b, full, filepath.Join(dir, "roster.db"))
			b.StartTimer()
			startServe(b, bin, dir)
		}
	})
	// The files a process killed after that sync leaves: the database and
	// its write-ahead log, which SQLite reads again on the next open.
	b.Run(fmt.Sprintf("hosts=%d,unclean", benchSize), func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dir := b.TempDir()
			copyFile(b, full+".unclean", filepath.Join(dir, "roster.db"))
			copyFile(b, full+".unclean-wal", filepath.Join(dir, "roster.db-wal"))
			b.StartTimer()
			startServe(b, bin, dir)
		}
	})
}

// startServe starts `roster serve` on the data directory dir, waits for
// /readyz to answer 200, and stops the process (the stop is not timed).
func startServe(b *testing.B, bin, dir string) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs strings.Builder
	cmd := exec.Command(bin, "serve", "--data-dir", dir, "--listen", addr, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		b.StopTimer()
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		b.StartTimer()
	}()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := c.Get("http://" + addr + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			exited <- err
			b.Fatalf("roster serve exited before it was ready: %v\n%s", err, logs.String())
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("roster serve not ready after 60s\n%s", logs.String())
		}
	}
}

// startupDatabase returns a SQLite database holding one inventory with one
// source of n hosts, written through the store as a first sync writes
// them (vars of about 1.6 KB, the size of an EC2 host's, and 8 groups),
// closed cleanly. Next to it, path.unclean and path.unclean-wal are the
// files as they were before the close: what a killed process leaves.
func startupDatabase(b *testing.B, n int) string {
	b.Helper()
	path := os.Getenv("ROSTER_BENCH_STARTUP_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "roster.db")
	} else if _, err := os.Stat(path + ".unclean-wal"); err == nil {
		b.Logf("reusing %s", path)
		return path
	}
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	inv := &roster.Inventory{Name: "bench"}
	if err := st.CreateInventory(ctx, inv); err != nil {
		b.Fatal(err)
	}
	src := &roster.Source{InventoryID: inv.ID, Name: "ec2", Provider: "aws", OnMissing: roster.OnMissingRemove}
	if err := st.CreateSource(ctx, src); err != nil {
		b.Fatal(err)
	}
	run := &roster.SyncRun{SourceID: src.ID, InventoryID: inv.ID, Trigger: roster.TriggerCLI}
	if _, err := st.CreateSyncRun(ctx, run); err != nil {
		b.Fatal(err)
	}
	vars, err := json.Marshal(map[string]any{"blob": strings.Repeat("x", 1500), "instance_type": "t3.micro", "placement": map[string]any{"region": "us-east-1"}})
	if err != nil {
		b.Fatal(err)
	}
	hosts := make([]*roster.Host, n)
	for i := range hosts {
		hosts[i] = &roster.Host{ExternalID: fmt.Sprintf("i-%08d", i), Scope: "us-east-1", Name: fmt.Sprintf("host-%06d", i), Enabled: true,
			Address: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
			Groups:  []string{"aws_ec2", "arch_x86_64", fmt.Sprintf("tag_Name_host_%d", i), "env_prod", "role_web", "instance_type_t3_micro", "sg_1", "sg_2"},
			Vars:    vars, Hash: fmt.Sprint(i)}
	}
	now := time.Now()
	run.StartedAt, run.Status = &now, roster.SyncSucceeded
	if err := st.FinishSyncRun(ctx, run, &roster.HostChanges{Add: hosts, Scopes: []string{"us-east-1"}}); err != nil {
		b.Fatal(err)
	}
	copyFile(b, path, path+".unclean")
	copyFile(b, path+"-wal", path+".unclean-wal")
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

func copyFile(b testing.TB, from, to string) {
	b.Helper()
	in, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}
