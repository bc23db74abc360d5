//go:build unix

package driver

import "syscall"

// sysProcAttr starts each tool in a new session. With no controlling
// terminal, getpass(3) and readpassphrase(3) fall back to standard input,
// which is where the driver puts a password; a tool can never stop to ask
// the operator's terminal.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}
