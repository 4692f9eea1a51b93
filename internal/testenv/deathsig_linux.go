package testenv

import "syscall"

// setDeathSignal asks the kernel to send sig to the child when the test binary dies.
func setDeathSignal(a *syscall.SysProcAttr, sig syscall.Signal) { a.Pdeathsig = sig }
