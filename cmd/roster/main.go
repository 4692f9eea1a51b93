// Command roster is Roster's one binary: the server, the demo, one-off
// syncs, token management, migrations and the cloud simulators.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

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
		newBackupCommand(),
		newRestoreCommand(),
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
			m := &Main{Config: c, LoadConfig: func() (Config, error) { return loadConfig(cmd, base) }}
			m.Log, m.Level = newLeveledLogger(c, os.Stderr)
			if err := m.Run(cmd.Context()); err != nil {
				m.Close()
				return err
			}
			err = m.Wait(cmd.Context())
			m.Log.Info("shutting down")
			return errors.Join(err, m.Shutdown())
		},
	}
	addConfigFlags(cmd.Flags(), &base)
	return cmd
}
