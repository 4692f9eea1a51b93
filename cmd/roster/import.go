package main

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster/internal/gitops"
)

// exitImportPartial is roster import's exit status when it skipped some
// of what it was given, as roster sync's for a partial run.
const exitImportPartial = 3

func newImportCommand() *cobra.Command {
	var inventory, name string
	var dryRun, print bool
	cmd := &cobra.Command{
		Use:   "import [--inventory NAME] [--dry-run | --print] FILE...",
		Short: "Create inventories and sources from Ansible plugin files or an `awx export`",
		Long: `Import reads Ansible inventory plugin files as they are (*.aws_ec2.yml,
*.gcp.yml / *.gcp_compute.yml, *.azure_rm.yml, *.openstack.yml: the
provider is the one of the file's plugin key) and AWX's export of
inventories and inventory sources (awx export --inventory NAME
--inventory_sources NAME, JSON or YAML), and makes the inventories and
sources they describe, through the API, as apply would: one line per
change, or "no changes" when run again.

A plugin file becomes a source of --inventory (created if missing), named
after the file without its plugin suffix (--name for one file). An AWX
inventory becomes an inventory, each of its ec2, gce, azure_rm and
openstack sources a source whose config is its source variables, with its
schedule, timeout, overwrite (on_missing) and update-on-launch cache
timeout.

What import cannot carry over it says on stderr, one line each, naming the
file and object and why: options that hold secrets (a source's config
never does: create a credential and name it in the source), AWX's hosts,
groups, variables and credentials, other source types, schedules Roster
cannot express, and the server's refusals and warnings. Existing
inventories are left as they are; existing sources keep their credential
and schedule unless the import gives them one.

--print writes the documents roster apply takes instead, to keep in git.
Import records no ownership: apply --prune never deletes what it made.

Exit status: 0 when everything given was imported (perhaps without some
options, listed), 3 when something was skipped, 1 when nothing was
imported.`,
		Example: `  roster import --inventory prod prod.aws_ec2.yml eu.gcp.yml
  roster import --inventory prod --name ec2 inventory.aws_ec2.yml --dry-run
  awx export --inventory Production --inventory_sources "EC2 us-east-1" > awx.json
  roster import awx.json
  roster import awx.json --print > roster.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dryRun && print {
				return fmt.Errorf("--dry-run and --print: give one")
			}
			if slices.Contains(args, "-") && len(slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a != "-" })) > 1 {
				return fmt.Errorf("stdin (-) can be read once")
			}
			inputs := make([]gitops.Input, 0, len(args))
			for _, path := range args {
				in, err := gitops.ReadInput(path, cmd.InOrStdin())
				if err != nil {
					return err
				}
				inputs = append(inputs, in)
			}
			im, err := gitops.Import(inputs, gitops.ImportOptions{Inventory: inventory, Name: name, Secrets: defaultRegistry().SecretOptions})
			if err != nil {
				return err
			}
			if print {
				im.Resolve(nil)
				b, err := gitops.Marshal(im.Docs)
				if err != nil {
					return err
				}
				if _, err := cmd.OutOrStdout().Write(b); err != nil {
					return err
				}
			} else {
				api, st, err := serverState(cmd)
				if err != nil {
					return err
				}
				if err := im.Apply(cmd.Context(), api, st, cmd.OutOrStdout(), dryRun); err != nil {
					return err
				}
			}
			stderr := cmd.ErrOrStderr()
			for _, n := range im.Notes {
				fmt.Fprintln(stderr, n)
			}
			skipped := im.Skipped()
			switch {
			case skipped == 0:
				return nil
			case im.Imported() == 0:
				fmt.Fprintln(stderr, "nothing was imported")
				return exitError{1}
			}
			fmt.Fprintf(stderr, "%d skipped (listed above)\n", skipped)
			return exitError{exitImportPartial}
		},
	}
	cmd.Flags().StringVar(&inventory, "inventory", "", "the inventory of the plugin files' sources (created if missing)")
	cmd.Flags().StringVar(&name, "name", "", "the name of the one plugin file's source (default: the file's name without its plugin suffix)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the changes without making them")
	cmd.Flags().BoolVar(&print, "print", false, "write apply's YAML documents to stdout instead of changing the server")
	addClientFlags(cmd)
	return cmd
}
