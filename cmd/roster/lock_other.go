//go:build !unix

package main

import "os"

// lockServing does not lock on this platform: nothing stops a second
// roster serve on the same SQLite database here (see lock_unix.go), so
// jobs a previous process left running wait for River's rescue.
func lockServing(string) (*os.File, error) { return nil, nil }
