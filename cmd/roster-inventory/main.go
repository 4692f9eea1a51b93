// Command roster-inventory is an Ansible dynamic inventory script that
// reads an inventory from Roster:
//
//	ROSTER_URL=http://roster:8080 ROSTER_TOKEN_FILE=~/.roster-token ROSTER_INVENTORY=prod \
//	    ansible-inventory -i /usr/local/bin/roster-inventory --graph
//
// It prints nothing unless the whole inventory arrived; any failure is one
// line on stderr and a non-zero exit. Run it with --help for every setting.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rosterhq/roster/internal/ansibleinv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	exe, _ := os.Executable()
	code := ansibleinv.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv, exe)
	stop()
	os.Exit(code)
}
