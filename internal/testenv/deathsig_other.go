//go:build !linux

package testenv

import "syscall"

// setDeathSignal is Linux-only; elsewhere an orphaned server outlives a crashed test.
func setDeathSignal(*syscall.SysProcAttr, syscall.Signal) {}
