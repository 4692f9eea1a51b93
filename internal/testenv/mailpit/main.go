// Command mailpit runs Mailpit's SMTP server for Roster's tests. It is its
// own module, so Mailpit's dependencies never enter Roster's go.mod; the
// tests build it offline from the module cache (testenv.SMTP), and
// scripts/install-test-deps.sh warms that cache.
package main

import "github.com/axllent/mailpit/cmd"

func main() { cmd.Execute() }
