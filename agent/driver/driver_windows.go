//go:build windows

package driver

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Windows manages local accounts through the NetUser API in netapi32.dll,
// the interface "net user" and the Local Users and Groups console use, so
// a password goes straight to the security account manager and never
// through a command line.
type Windows struct {
	setInfo *windows.LazyProc
	enum    *windows.LazyProc
}

var _ Driver = (*Windows)(nil)

// NewWindows loads the NetUser functions, failing early if netapi32.dll
// lacks them rather than on the first change.
func NewWindows() (*Windows, error) {
	dll := windows.NewLazySystemDLL("netapi32.dll")
	w := &Windows{setInfo: dll.NewProc("NetUserSetInfo"), enum: dll.NewProc("NetUserEnum")}
	for _, p := range []*windows.LazyProc{w.setInfo, w.enum} {
		if err := p.Find(); err != nil {
			return nil, fmt.Errorf("load %s from netapi32.dll: %w", p.Name, err)
		}
	}
	return w, nil
}

// New returns the driver for this machine: the Windows NetUser driver.
func New() (Driver, error) {
	return NewWindows()
}

// SetPassword sets name's password at level 1003.
func (w *Windows) SetPassword(ctx context.Context, name, password string) error {
	if err := validateWindowsName(name); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if err := validateWindowsPassword(password); err != nil {
		return fmt.Errorf("set password for %q: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("set password for %q: %w", name, err)
	}
	pw, err := utf16z(password)
	if err != nil {
		return fmt.Errorf("set password for %q: %w", name, err)
	}
	defer clear(pw)
	info := userInfo1003{Password: &pw[0]}
	err = w.set(name, 1003, unsafe.Pointer(&info))
	runtime.KeepAlive(pw)
	if err != nil {
		return fmt.Errorf("set password for %q: %w", name, err)
	}
	return nil
}

// Disable sets UF_ACCOUNTDISABLE at level 1008, keeping the other flags.
func (w *Windows) Disable(ctx context.Context, name string) error {
	if err := w.setDisabled(ctx, name, true); err != nil {
		return fmt.Errorf("disable %q: %w", name, err)
	}
	return nil
}

// Enable clears UF_ACCOUNTDISABLE and any lockout at level 1008.
func (w *Windows) Enable(ctx context.Context, name string) error {
	if err := w.setDisabled(ctx, name, false); err != nil {
		return fmt.Errorf("enable %q: %w", name, err)
	}
	return nil
}

func (w *Windows) setDisabled(ctx context.Context, name string, disable bool) error {
	if err := validateWindowsName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Level 1008 replaces every flag, so start from the current ones.
	info, err := getInfo20(name)
	if err != nil {
		return err
	}
	flags := userInfo1008{Flags: accountFlags(info.flags, disable)}
	return w.set(name, 1008, unsafe.Pointer(&flags))
}

// SetFullName sets the full name at level 1011.
func (w *Windows) SetFullName(ctx context.Context, name, full string) error {
	if err := validateWindowsName(name); err != nil {
		return fmt.Errorf("set full name: %w", err)
	}
	if err := validateFullName(full, ""); err != nil {
		return fmt.Errorf("set full name of %q: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("set full name of %q: %w", name, err)
	}
	fn, err := utf16z(full)
	if err != nil {
		return fmt.Errorf("set full name of %q: %w", name, err)
	}
	info := userInfo1011{FullName: &fn[0]}
	err = w.set(name, 1011, unsafe.Pointer(&info))
	runtime.KeepAlive(fn)
	if err != nil {
		return fmt.Errorf("set full name of %q: %w", name, err)
	}
	return nil
}

// List enumerates normal (not machine or trust) accounts at level 20.
func (w *Windows) List(ctx context.Context) ([]Account, error) {
	var out []Account
	var resume uint32
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("list local accounts: %w", err)
		}
		var buf *byte
		var read, total uint32
		r, _, _ := w.enum.Call(0, 20, filterNormalAccount,
			uintptr(unsafe.Pointer(&buf)), maxPreferredLength,
			uintptr(unsafe.Pointer(&read)), uintptr(unsafe.Pointer(&total)),
			uintptr(unsafe.Pointer(&resume)))
		if r != 0 && r != errorMoreData {
			if buf != nil {
				windows.NetApiBufferFree(buf)
			}
			return nil, fmt.Errorf("list local accounts: %w", netStatusError(uint32(r)))
		}
		if buf != nil {
			for _, u := range unsafe.Slice((*userInfo20)(unsafe.Pointer(buf)), read) {
				out = append(out, windowsAccount(windows.UTF16PtrToString(u.Name),
					windows.UTF16PtrToString(u.FullName), u.Flags, u.UserID))
			}
			windows.NetApiBufferFree(buf)
		}
		if r != errorMoreData {
			return out, nil
		}
	}
}

// Get reads one account at level 20.
func (w *Windows) Get(ctx context.Context, name string) (*Account, error) {
	if err := validateWindowsName(name); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %q: %w", name, err)
	}
	info, err := getInfo20(name)
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", name, err)
	}
	a := windowsAccount(info.name, info.full, info.flags, info.rid)
	return &a, nil
}

// set calls NetUserSetInfo on the local machine.
func (w *Windows) set(name string, level uint32, buf unsafe.Pointer) error {
	n, err := utf16z(name)
	if err != nil {
		return err
	}
	var parmErr uint32
	r, _, _ := w.setInfo.Call(0, uintptr(unsafe.Pointer(&n[0])), uintptr(level),
		uintptr(buf), uintptr(unsafe.Pointer(&parmErr)))
	return netStatusError(uint32(r))
}

type info20 struct {
	name, full string
	flags, rid uint32
}

func getInfo20(name string) (info20, error) {
	n, err := utf16z(name)
	if err != nil {
		return info20{}, err
	}
	var buf *byte
	if err := windows.NetUserGetInfo(nil, &n[0], 20, &buf); err != nil {
		var errno windows.Errno
		if errors.As(err, &errno) {
			return info20{}, netStatusError(uint32(errno))
		}
		return info20{}, err
	}
	defer windows.NetApiBufferFree(buf)
	u := (*userInfo20)(unsafe.Pointer(buf))
	return info20{
		name:  windows.UTF16PtrToString(u.Name),
		full:  windows.UTF16PtrToString(u.FullName),
		flags: u.Flags,
		rid:   u.UserID,
	}, nil
}
