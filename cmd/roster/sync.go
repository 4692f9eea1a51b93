package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/broker"
	"github.com/rosterhq/roster/internal/syncer"
)

// Exit codes of `roster sync`.
const (
	exitSyncFailed  = 1
	exitSyncPartial = 3
)

func newSyncCommand() *cobra.Command {
	base := defaultConfig()
	var source, inventory string
	cmd := &cobra.Command{
		Use:   "sync --source NAME [--inventory NAME]",
		Short: "Sync one source now, showing progress",
		Long: `Sync one source now, in this process, against the configured database.

Exit status: 0 when every scope synced, 3 when some scopes failed (their hosts
were kept), 1 when the sync failed (nothing was changed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(cmd, base)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("log-level") && os.Getenv("ROSTER_LOG_LEVEL") == "" {
				c.LogLevel = "warn" // the progress display is the output
			}
			log := newLogger(c, os.Stderr)
			st, err := openStore(cmd.Context(), c)
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
			engine := syncer.New(st, defaultRegistry().WithLimits(c.expressionLimits()), log, syncer.WithCredentials(broker.New(st, backend, log)),
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
	cmd.Flags().StringVar(&source, "source", "", "the source's name")
	cmd.Flags().StringVar(&inventory, "inventory", "", "the inventory's name or id, when several have a source of that name")
	cmd.MarkFlagRequired("source")
	addConfigFlags(cmd.Flags(), &base)
	return cmd
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
