//go:build darwin

package driver

// New returns the driver for this machine: the macOS driver, running
// sysadminctl and dscl against the local directory node.
//
// The driver's logic lives in macos.go, untagged, so that its command
// construction and parsing are tested on every platform CI runs on.
func New() (Driver, error) {
	return NewMacOS(ExecRunner{}), nil
}
