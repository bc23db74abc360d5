//go:build !linux && !darwin && !windows

package driver

import (
	"fmt"
	"runtime"
)

// New reports that this operating system has no local-account driver.
func New() (Driver, error) {
	return nil, fmt.Errorf("%w: %s", ErrUnsupported, runtime.GOOS)
}
