//go:build !unix

package driver

import "syscall"

// sysProcAttr needs nothing special where tools cannot reach a terminal
// the way Unix tools do.
func sysProcAttr() *syscall.SysProcAttr { return nil }
