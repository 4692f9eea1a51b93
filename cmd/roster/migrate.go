package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster/internal/jobs"
	"github.com/rosterhq/roster/internal/store"
)

func newMigrateCommand() *cobra.Command {
	base := defaultConfig()
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema, then exit",
		Long: `Create or upgrade the database schema (Roster's tables and the job
queue's), then exit. With --dry-run, print the migrations it would apply and
change nothing. A database upgraded by a newer roster is refused, as serve
refuses it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(cmd, base)
			if err != nil {
				return err
			}
			if dryRun {
				return redactDatabase(planMigrations(cmd.Context(), c.Database, cmd.OutOrStdout()), c.Database)
			}
			return redactDatabase(migrate(cmd.Context(), c, cmd.OutOrStdout()), c.Database)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the migrations that would be applied; change nothing")
	addConfigFlags(cmd.Flags(), &base)
	return cmd
}

func migrate(ctx context.Context, c Config, out io.Writer) error {
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	if pg, ok := st.(*store.Postgres); ok {
		err = jobs.MigratePostgres(ctx, pg.Pool())
	} else {
		err = jobs.MigrateSQLite(ctx, c.Database)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "database %s is up to date (schema %d, job queue schema %d)\n",
		displayDatabase(c.Database), store.SchemaVersion(), jobs.SchemaVersion())
	return err
}

// planMigrations prints what migrate would apply to database, reading it
// only.
func planMigrations(ctx context.Context, database string, out io.Writer) error {
	var st *store.Plan
	var q *jobs.Plan
	var err error
	if isPostgres(database) {
		if st, err = store.PlanPostgres(ctx, database); err == nil {
			q, err = jobs.PlanPostgres(ctx, database)
		}
	} else {
		if st, err = store.PlanSQLite(ctx, database); err == nil {
			q, err = jobs.PlanSQLite(ctx, database)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "database %s: schema %s, job queue schema %s\n",
		displayDatabase(database), newestApplied(st.Applied), newestApplied(q.Applied))
	if len(st.Pending)+len(q.Pending) == 0 {
		_, err = fmt.Fprintln(out, "up to date: nothing to do")
		return err
	}
	fmt.Fprintln(out, "would apply:")
	for _, m := range st.Pending {
		fmt.Fprintf(out, "  schema %s\n", m.Name)
	}
	for _, m := range q.Pending {
		fmt.Fprintf(out, "  job queue (River) %03d %s\n", m.Version, m.Name)
	}
	_, err = fmt.Fprintln(out, "nothing was changed (--dry-run)")
	return err
}

func newestApplied(versions []int) string {
	if len(versions) == 0 {
		return "none"
	}
	return fmt.Sprint(versions[len(versions)-1])
}
