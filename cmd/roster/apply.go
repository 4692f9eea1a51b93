package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster/internal/gitops"
)

// gitopsAPI is the API client of apply, export and import: the server
// and token the remote commands use (ROSTER_URL, ROSTER_TOKEN, ...).
var gitopsAPI = func(cmd *cobra.Command) (gitops.API, error) { return apiClient(cmd) }

// serverState connects to the server and reads what it holds, for apply,
// export and import to compare with or write out.
func serverState(cmd *cobra.Command) (gitops.API, *gitops.State, error) {
	api, err := gitopsAPI(cmd)
	if err != nil {
		return nil, nil, err
	}
	st, err := gitops.Fetch(cmd.Context(), api)
	if err != nil {
		return nil, nil, err
	}
	return api, st, nil
}

func newApplyCommand() *cobra.Command {
	var files []string
	var dryRun, prune, updateSecrets bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|- [--dry-run] [--prune]",
		Short: "Make the server hold what YAML files declare (inventories, sources, credentials, grants, webhooks)",
		Long: `Apply reads YAML documents (kind: inventory, source, credential, grant,
webhook) and makes, through the API, the changes that bring the server to
what they declare: one line per change (+ created, ~ updated, - deleted),
or "no changes". A source's config is the Ansible plugin file.

Secrets never sit in the files: a credential's secret field, a webhook's
signing secret and the secrets of its irc, email and pagerduty maps (and,
if you like, its URL) are references,
{env: NAME}, {file: PATH} or {stdin: true}. The server never shows a
secret, so apply sends one when it creates the resource, when the server
holds none, and for every reference with --update-secrets.

--prune deletes what apply created and the files no longer declare. Apply
keeps the record of what it created in a last line of the description of
inventories ("managed-by: roster-apply ...", listing the sources,
webhooks and grants it created in them) and of credentials; what it did
not create is never pruned, nor is what would take such a thing with it.`,
		Example: `  roster apply -f roster.yaml --dry-run
  roster apply -f config/ --prune
  DB_PASSWORD=... roster apply -f credentials.yaml --update-secrets`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			docs, err := gitops.Load(files, cmd.InOrStdin())
			if err != nil {
				return err
			}
			api, st, err := serverState(cmd)
			if err != nil {
				return err
			}
			plan, err := gitops.NewPlan(docs, st, gitops.Options{
				Prune: prune, UpdateSecrets: updateSecrets,
				Resolver:      &gitops.Resolver{Stdin: cmd.InOrStdin()},
				DocsFromStdin: slices.Contains(files, "-"),
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, k := range plan.Kept {
				fmt.Fprintln(cmd.ErrOrStderr(), "kept:", k)
			}
			if len(plan.Changes) == 0 {
				fmt.Fprintln(out, "no changes")
				return nil
			}
			if dryRun {
				for _, c := range plan.Changes {
					fmt.Fprintln(out, c)
				}
				fmt.Fprintf(out, "dry run: %d change(s) not applied\n", len(plan.Changes))
				return nil
			}
			return plan.Apply(cmd.Context(), api, out)
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "a YAML file, a directory of them (*.yaml, *.yml) or - for stdin (repeat)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the changes without making them")
	cmd.Flags().BoolVar(&prune, "prune", false, "delete what apply created and the files no longer declare")
	cmd.Flags().BoolVar(&updateSecrets, "update-secrets", false, "send every secret the files reference, even those the server holds")
	cmd.MarkFlagRequired("filename")
	addClientFlags(cmd)
	return cmd
}

func newExportCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [-o FILE]",
		Short: "Write what the server holds as apply's YAML documents (secrets as references)",
		Long: `Export writes the server's inventories, sources, credentials, grants and
webhooks in apply's format. Secrets are never exported: a credential's
secret fields, a webhook's URL, signing secret and type secrets are
references to environment variables (CREDENTIAL_<NAME>_<FIELD>,
WEBHOOK_<INVENTORY>_<NAME>_URL, WEBHOOK_<INVENTORY>_<NAME>_SIGNING_SECRET,
WEBHOOK_<INVENTORY>_<NAME>_<FIELD> such as ..._NICKSERV_PASSWORD)
that apply reads. Tokens are not exported; grants name them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, st, err := serverState(cmd)
			if err != nil {
				return err
			}
			b, err := gitops.Marshal(gitops.Export(st))
			if err != nil {
				return err
			}
			if output == "" || output == "-" {
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			return os.WriteFile(output, b, 0o644)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file (default: stdout)")
	addClientFlags(cmd)
	return cmd
}
