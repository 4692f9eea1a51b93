package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster/internal/jobs"
	"github.com/rosterhq/roster/internal/store"
)

// Set at build time (make release, the Dockerfile):
//
//	-ldflags "-X main.version=v1.2.0 -X main.commit=<sha> -X main.date=<RFC 3339>"
//
// -X, not the toolchain's VCS stamp: builds with -buildvcs=false (CI) or
// without .git (a container build) have none.
var (
	version = ""
	commit  = ""
	date    = ""
)

// buildInfo is what roster version prints.
type buildInfo struct {
	Version     string `json:"version"`
	Commit      string `json:"commit"`
	Date        string `json:"date"`
	Schema      int    `json:"schema"`       // newest store migration known
	QueueSchema int    `json:"queue_schema"` // newest River migration known
	Go          string `json:"go"`
	Platform    string `json:"platform"`
}

func currentBuild() buildInfo {
	b := buildInfo{Version: buildVersion(), Commit: commit, Date: date,
		Schema: store.SchemaVersion(), QueueSchema: jobs.SchemaVersion(),
		Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if b.Commit == "" {
		b.Commit = vcsSetting("vcs.revision")
	}
	if b.Date == "" {
		b.Date = vcsSetting("vcs.time")
	}
	return b
}

func (b buildInfo) String() string {
	orUnknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	return fmt.Sprintf("roster %s (commit %s, built %s, schema %d, job queue schema %d, %s %s)",
		b.Version, orUnknown(b.Commit), orUnknown(b.Date), b.Schema, b.QueueSchema, b.Go, b.Platform)
}

func newVersionCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and schema versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := currentBuild()
			switch format {
			case "", "text":
				_, err := fmt.Fprintln(cmd.OutOrStdout(), b)
				return err
			case "json":
				out, err := json.Marshal(b)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", out)
				return err
			}
			return fmt.Errorf("--output: %q is not text or json", format)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "text or json")
	return cmd
}

// buildVersion is the -X version, else the module version of a go install,
// else devel (with the commit when the toolchain stamped one).
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	if rev := vcsSetting("vcs.revision"); len(rev) >= 12 {
		return "devel-" + rev[:12]
	}
	return "devel"
}

func vcsSetting(key string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == key {
				return s.Value
			}
		}
	}
	return ""
}
