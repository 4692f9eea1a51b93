package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/broker"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources/derived"
)

// Exit codes of `roster sync`.
const (
	exitSyncFailed  = 1
	exitSyncPartial = 3
)

func newSyncCommand() *cobra.Command {
	base := defaultConfig()
	var source, inventory string
	var wait bool
	cmd := &cobra.Command{
		Use:   "sync SOURCE [--wait] | --source NAME [--inventory NAME]",
		Short: "Sync one source now, showing progress",
		Long: `roster sync SOURCE asks the server (the API) to sync a source now. SOURCE is
its id, INVENTORY/NAME, or a name no other inventory's source has. With
--wait it shows the run's progress until it ends; without, it prints the run.

roster sync --source NAME syncs the source in this process instead, against
the database the server's settings (--data-dir, --database, --config) name.

Exit status (--wait, --source): 0 when every scope synced, 3 when some scopes
failed (their hosts were kept), 1 when the sync failed (nothing was changed).`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeSources,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				for _, f := range []string{"source", "inventory", "data-dir", "database", "config"} {
					if cmd.Flags().Changed(f) {
						return fmt.Errorf("--%s is for a sync in this process (roster sync --source NAME); roster sync %s asks the server", f, args[0])
					}
				}
				return withAPI(func(cmd *cobra.Command, api *client.Client, args []string) error {
					return syncThroughAPI(cmd, api, args[0], wait)
				})(cmd, args)
			}
			if source == "" {
				return errors.New("give the source: roster sync SOURCE (through the API), or roster sync --source NAME (in this process)")
			}
			if wait {
				return errors.New("--wait is for roster sync SOURCE; roster sync --source NAME always waits")
			}
			c, err := loadConfig(cmd, base)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("log-level") && os.Getenv("ROSTER_LOG_LEVEL") == "" {
				c.LogLevel = "warn" // the progress display is the output
			}
			log := newLogger(c, os.Stderr)
			st, err := openExistingStore(cmd.Context(), c)
			if err != nil {
				return err
			}
			defer st.Close()
			invID := ""
			if inventory != "" {
				inv, err := st.Inventory(cmd.Context(), inventory)
				if err != nil {
					return err
				}
				invID = inv.ID
			}
			src, err := st.SourceByName(cmd.Context(), invID, source)
			if err != nil {
				return err
			}
			backend, closeBackend, err := openBackend(cmd.Context(), c, st, log)
			if err != nil {
				return err
			}
			defer closeBackend()
			engine := syncer.New(st, defaultRegistry().WithLimits(c.expressionLimits()).With(derived.NewDrivers(st)...), log, syncer.WithCredentials(broker.New(st, backend, log)),
				syncer.WithTimeouts(c.timeouts()), syncer.WithSpillDir(c.DocumentDir))
			run, created, err := engine.Trigger(cmd.Context(), src, roster.TriggerCLI)
			if err != nil {
				return err
			}
			if !created && run.Status != roster.SyncQueued {
				held := ""
				if run.Holder != "" && run.LeaseUntil != nil {
					held = fmt.Sprintf(", held by %s until %s unless renewed", run.Holder, run.LeaseUntil.Local().Format(time.TimeOnly))
				}
				return fmt.Errorf("source %s is already syncing (run %s%s); wait for it or watch it with GET /api/v1/syncs/%s",
					src.Name, run.ID, held, run.ID)
			}
			// A queued run (a server's, waiting for a worker or for its
			// backoff) is run here and now: it is what was asked for.
			out := cmd.ErrOrStderr()
			display := newProgressDisplay(out, src.Name)
			runErr := engine.Run(cmd.Context(), run, display.update)
			display.done()
			// What counts is what was recorded.
			if stored, err := st.SyncRun(context.WithoutCancel(cmd.Context()), run.ID); err == nil {
				run = stored
			} else if runErr != nil {
				return runErr
			}
			printSummary(cmd.OutOrStdout(), src.Name, run)
			switch run.Status {
			case roster.SyncSucceeded:
				return nil
			case roster.SyncPartial:
				return exitError{exitSyncPartial}
			}
			return exitError{exitSyncFailed}
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "sync in this process: the source's name")
	cmd.Flags().StringVar(&inventory, "inventory", "", "with --source: the inventory's name or id, when several have a source of that name")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the run to end, showing its progress")
	addConfigFlags(cmd.Flags(), &base)
	addClientFlags(cmd)
	addOutputFlag(cmd)
	return cmd
}

// syncPoll is how often roster sync --wait asks for the run.
const syncPoll = 500 * time.Millisecond

// syncThroughAPI triggers a sync of a source on the server and, with
// wait, follows the run to its end, showing progress on stderr.
func syncThroughAPI(cmd *cobra.Command, api *client.Client, ref string, wait bool) error {
	ctx := cmd.Context()
	src, _, err := resolveSource(ctx, api, ref)
	if err != nil {
		return err
	}
	r, err := client.Decode[client.SyncRun](api.TriggerSync(ctx, src.Id))
	if err != nil {
		return err
	}
	if r.Status == http.StatusOK {
		fmt.Fprintf(cmd.ErrOrStderr(), "source %s was already syncing: following run %s\n", src.Name, r.Value.Id)
	}
	if !wait {
		return printOne(cmd, r.Value, r.JSON, runColumns)
	}
	run, raw := r.Value, r.JSON
	start := time.Now()
	last := ""
	for {
		done, hosts := scopeProgress(run)
		failed := 0
		for _, s := range run.Scopes {
			if s.Status == client.ScopeResultStatusFailed {
				failed++
			}
		}
		line := fmt.Sprintf("syncing %s: %s, %d/%d scopes done", src.Name, run.Status, done, len(run.Scopes))
		if failed > 0 {
			line += fmt.Sprintf(", %d failed", failed)
		}
		line += fmt.Sprintf(", %d hosts seen", hosts)
		if line != last {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s (%s)\n", line, time.Since(start).Round(100*time.Millisecond))
			last = line
		}
		if roster.SyncStatus(run.Status).Done() {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped waiting; run %s goes on (roster run get %s)", run.Id, run.Id)
		case <-time.After(syncPoll):
		}
		r, err := client.Decode[client.SyncRun](api.GetSyncRun(ctx, run.Id))
		if err != nil {
			return err
		}
		run, raw = r.Value, r.JSON
	}
	if format, _ := outputFormat(cmd); format != outputTable {
		if err := printJSON(cmd.OutOrStdout(), format, raw); err != nil {
			return err
		}
	} else {
		printRunSummary(cmd.OutOrStdout(), src.Name, run)
	}
	switch run.Status {
	case client.SyncRunStatusSucceeded:
		return nil
	case client.SyncRunStatusPartial:
		return exitError{exitSyncPartial}
	}
	return exitError{exitSyncFailed}
}

// printRunSummary says how a run the API reported ended, as printSummary
// does for a run of this process.
func printRunSummary(w io.Writer, name string, run client.SyncRun) {
	dur := time.Duration(0)
	if run.StartedAt != nil && run.FinishedAt != nil {
		dur = run.FinishedAt.Sub(*run.StartedAt).Round(time.Millisecond)
	}
	c := run.Counts
	fmt.Fprintf(w, "sync of %s %s in %s: %d hosts seen; %d added, %d updated, %d removed, %d disabled, %d unchanged (run %s)\n",
		name, run.Status, dur, c.Seen, c.Added, c.Updated, c.Removed, c.Disabled, c.Unchanged, run.Id)
	for _, s := range run.Scopes {
		if s.Status == client.ScopeResultStatusFailed {
			fmt.Fprintf(w, "  scope %s failed: %s\n", s.Name, str(s.Error))
		}
	}
	if e := str(run.Error); e != "" {
		fmt.Fprintf(w, "  %s\n", e)
	}
	const shown = 3
	for i, warning := range run.Warnings {
		if i == shown {
			fmt.Fprintf(w, "  ... %d more warnings: roster run get %s -o yaml\n", len(run.Warnings)-shown, run.Id)
			break
		}
		fmt.Fprintf(w, "  warning: %s\n", warning)
	}
}

// progressDisplay shows a sync's progress: one line redrawn in place on a
// terminal, a line per finished scope otherwise (logs, CI).
type progressDisplay struct {
	w     io.Writer
	tty   bool
	name  string
	start time.Time
	drawn bool
	last  syncer.Progress
}

func newProgressDisplay(w io.Writer, name string) *progressDisplay {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progressDisplay{w: w, tty: tty, name: name, start: time.Now()}
}

func (d *progressDisplay) update(p syncer.Progress) {
	d.last = p
	failed := ""
	if p.Failed > 0 {
		failed = fmt.Sprintf(", %d failed", p.Failed)
	}
	line := fmt.Sprintf("syncing %s: %d/%d scopes done%s, %d hosts seen (%s)", d.name, p.ScopesDone, p.Scopes, failed, p.HostsSeen,
		time.Since(d.start).Round(100*time.Millisecond))
	if d.tty {
		fmt.Fprintf(d.w, "\r\033[K%s", line)
		d.drawn = true
		return
	}
	if p.Scope != "" {
		fmt.Fprintf(d.w, "%s (last: %s)\n", line, p.Scope)
	}
}

func (d *progressDisplay) done() {
	if d.drawn {
		fmt.Fprintln(d.w)
	}
}

func printSummary(w io.Writer, name string, run *roster.SyncRun) {
	dur := time.Duration(0)
	if run.StartedAt != nil && run.FinishedAt != nil {
		dur = run.FinishedAt.Sub(*run.StartedAt).Round(time.Millisecond)
	}
	c := run.Counts
	fmt.Fprintf(w, "sync of %s %s in %s: %d hosts seen; %d added, %d updated, %d removed, %d disabled, %d unchanged\n",
		name, run.Status, dur, c.Seen, c.Added, c.Updated, c.Removed, c.Disabled, c.Unchanged)
	for _, s := range run.Scopes {
		if s.Status == roster.ScopeFailed {
			fmt.Fprintf(w, "  scope %s failed: %s\n", s.Name, s.Error)
		}
	}
	if run.Error != "" {
		fmt.Fprintf(w, "  %s\n", run.Error)
	}
	const shown = 3
	for i, warning := range run.Warnings {
		if i == shown {
			fmt.Fprintf(w, "  ... %d more warnings in the run record (GET /api/v1/syncs/%s)\n", len(run.Warnings)-shown, run.ID)
			break
		}
		fmt.Fprintf(w, "  warning: %s\n", warning)
	}
}
