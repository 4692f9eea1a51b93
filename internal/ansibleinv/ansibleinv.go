// Package ansibleinv is Roster's Ansible dynamic inventory script: it
// fetches an inventory from the Roster API and prints it the way Ansible's
// script inventory plugin expects (--list, --host NAME). Both
// roster-inventory and `roster inventory` run it.
//
// A failure prints nothing on stdout, one line on stderr, and exits
// non-zero: Ansible never reads a partial or foreign document as an
// inventory.
package ansibleinv

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Exit statuses of Main.
const (
	exitOK = 0
	// exitFailed: the inventory could not be read.
	exitFailed = 1
	// exitUsage: bad arguments or configuration; nothing was fetched.
	exitUsage = 2
)

// usage is the --help text, its settings table built from settings().
func usage() string {
	var b strings.Builder
	b.WriteString(`Usage: roster-inventory --list | --host NAME [flags]

Prints a Roster inventory as Ansible dynamic inventory JSON, for Ansible's
script inventory plugin, from any working directory:
  ansible-inventory -i /usr/local/bin/roster-inventory --graph
  ansible-playbook -i /usr/local/bin/roster-inventory site.yml

  --list          print the whole inventory (with _meta.hostvars)
  --host NAME     print one host's vars
  --config FILE   the config file (also ROSTER_INVENTORY_CONFIG)
  --help          print this help

Settings: a flag wins over the environment, which wins over the config file.
`)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  FLAG\tENVIRONMENT\tFILE KEY\tMEANING")
	for _, s := range settings() {
		flag := "(none)"
		if s.flag != "" {
			flag = strings.TrimSpace("--" + s.flag + " " + s.arg)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", flag, s.env, s.key, s.usage)
	}
	tw.Flush()
	b.WriteString(`
The token has no flag: a flag's value shows in the process list.

The config file is YAML with the keys above, e.g.
  url: https://roster.example:8080
  inventory: prod
  token_file: roster-token    # relative to the config file's directory
Without --config or ROSTER_INVENTORY_CONFIG, the first of these that exists:
  roster-inventory.yaml beside this program (symlinks resolved)
  $XDG_CONFIG_HOME/roster/inventory.yaml (default ~/.config/roster/inventory.yaml)
  /etc/roster/inventory.yaml

The last --list document is kept in the cache directory with its ETag: while
Roster answers that it is unchanged (304), the kept copy is printed.

The document is checked before anything is printed: on any failure (Roster
unreachable or too slow, an HTTP error, an answer that is not a whole
inventory) stdout stays empty, stderr gets one line, and the exit status is
1 (2 for bad arguments or settings). Make Ansible stop on it with
ANSIBLE_INVENTORY_UNPARSED_FAILED=true (or, with several inventory sources,
ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED=true).
`)
	return b.String()
}

// Main runs the script with args (without the program name) and returns
// its exit code. Every error is one line on stderr.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, exe string) int {
	fail := func(code int, err error, secret string) int {
		fmt.Fprintln(stderr, "roster-inventory: "+oneLine(redact(err.Error(), secret), 1000))
		return code
	}
	fs := flag.NewFlagSet("roster-inventory", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	list := fs.Bool("list", false, "")
	host := fs.String("host", "", "")
	configFile := fs.String("config", "", "")
	var flags []flagValue
	for _, s := range settings() {
		if s.flag == "" {
			continue
		}
		record := func(v string) error {
			flags = append(flags, flagValue{flag: s.flag, value: v})
			return nil
		}
		if s.arg == "" {
			fs.BoolFunc(s.flag, "", record)
		} else {
			fs.Func(s.flag, "", record)
		}
	}
	err := fs.Parse(args)
	hostGiven := false
	fs.Visit(func(f *flag.Flag) { hostGiven = hostGiven || f.Name == "host" })
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage())
		return exitOK
	case err != nil:
		return fail(exitUsage, fmt.Errorf("%v (see --help)", err), "")
	case fs.NArg() > 0:
		return fail(exitUsage, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0)), "")
	case *list == hostGiven:
		return fail(exitUsage, errors.New("give --list or --host NAME (see --help)"), "")
	case hostGiven && *host == "":
		return fail(exitUsage, errors.New("--host needs a host name"), "")
	}
	c, err := loadConfig(getenv, exe, *configFile, flags)
	if err != nil {
		return fail(exitUsage, err, c.Token.Reveal())
	}
	if err := Fetch(ctx, c, *host, stdout); err != nil {
		return fail(exitFailed, err, c.Token.Reveal())
	}
	return exitOK
}
