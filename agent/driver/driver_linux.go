//go:build linux

package driver

// New returns the driver for this machine: the Linux driver, running the
// system's tools and reading the live /etc.
func New() (Driver, error) {
	return NewLinux(ExecRunner{}, "/"), nil
}
