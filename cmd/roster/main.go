// Command roster is Roster's one binary: the server, the demo, one-off
// syncs, token management, migrations and the cloud simulators.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster/internal/jobs"
	"github.com/rosterhq/roster/internal/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal starts a graceful shutdown; a second one ends the
	// process the default way.
	context.AfterFunc(ctx, stop)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		var exit exitError
		if errors.As(err, &exit) {
			os.Exit(exit.code)
		}
		fmt.Fprintln(os.Stderr, "roster:", err)
		os.Exit(1)
	}
}

// exitError ends the process with a code, its message already printed.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "roster",
		Short:         "Cloud inventories for Ansible, kept fresh",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newServeCommand(),
		newDemoCommand(),
		newSyncCommand(),
		newTokenCommand(),
		newMigrateCommand(),
		newSimulateCommand(),
		newInventoryCommand(),
		newSourceCommand(),
		newHostCommand(),
		newGroupCommand(),
		newRunCommand(),
		newExecCommand(),
		newCredentialCommand(),
		newGrantCommand(),
		newUserCommand(),
		newTeamCommand(),
		newBindingCommand(),
		newWebhookCommand(),
		newSinkCommand(),
		newContextCommand(),
		newLoginCommand(),
		newLogoutCommand(),
		newApplyCommand(),
		newExportCommand(),
		newImportCommand(),
		newVaultCommand(),
		newVersionCommand(),
	)
	return root
}

func newServeCommand() *cobra.Command {
	base := defaultConfig()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the API and run syncs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(cmd, base)
			if err != nil {
				return err
			}
			m := &Main{Config: c, Log: newLogger(c, os.Stderr)}
			if err := m.Run(cmd.Context()); err != nil {
				m.Close()
				return err
			}
			err = m.Wait(cmd.Context())
			m.Log.Info("shutting down")
			return errors.Join(err, m.Close())
		},
	}
	addConfigFlags(cmd.Flags(), &base)
	return cmd
}

func newMigrateCommand() *cobra.Command {
	base := defaultConfig()
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema, then exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(cmd, base)
			if err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), c)
			if err != nil {
				return err
			}
			defer st.Close()
			if pg, ok := st.(*store.Postgres); ok {
				err = jobs.MigratePostgres(cmd.Context(), pg.Pool())
			} else {
				err = jobs.MigrateSQLite(cmd.Context(), c.Database)
			}
			if err != nil {
				return redactDatabase(err, c.Database)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "database %s is up to date\n", displayDatabase(c.Database))
			return nil
		},
	}
	addConfigFlags(cmd.Flags(), &base)
	return cmd
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "roster", buildVersion())
		},
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "devel-" + s.Value[:12]
			}
		}
	}
	return "devel"
}
