package wire

import (
	"fmt"
	"log/slog"
)

// Requests that carry secrets format themselves without them, for %v, %+v,
// %#v and slog alike, so a log line can never leak a password however the
// request reaches it.

func (b BindRequest) String() string {
	if b.Simple {
		return fmt.Sprintf("BindRequest{Version:%d Name:%q Simple:true Password:<%d bytes redacted>}", b.Version, b.Name, len(b.Password))
	}
	return fmt.Sprintf("BindRequest{Version:%d Name:%q AuthChoice:%d SASLMechanism:%q SASLCredentials:<%d bytes redacted>}",
		b.Version, b.Name, b.AuthChoice, b.SASLMechanism, len(b.SASLCredentials))
}

// GoString keeps %#v from printing the raw struct.
func (b BindRequest) GoString() string { return b.String() }

// LogValue implements slog.LogValuer.
func (b BindRequest) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.Int("version", b.Version),
		slog.String("name", b.Name),
	}
	if b.Simple {
		attrs = append(attrs, slog.String("auth", "simple"), slog.Bool("empty_password", len(b.Password) == 0))
	} else {
		attrs = append(attrs, slog.String("auth", "sasl"), slog.String("mechanism", b.SASLMechanism), slog.Int("auth_choice", b.AuthChoice))
	}
	return slog.GroupValue(attrs...)
}

func (pm PasswordModifyRequest) String() string {
	return fmt.Sprintf("PasswordModifyRequest{UserIdentity:%q HasUserIdentity:%t OldPassword:%s NewPassword:%s}",
		pm.UserIdentity, pm.HasUserIdentity, presence(pm.OldPassword), presence(pm.NewPassword))
}

// GoString keeps %#v from printing the raw struct.
func (pm PasswordModifyRequest) GoString() string { return pm.String() }

// LogValue implements slog.LogValuer.
func (pm PasswordModifyRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("user_identity", pm.UserIdentity),
		slog.Bool("has_user_identity", pm.HasUserIdentity),
		slog.Bool("has_old_password", pm.OldPassword != nil),
		slog.Bool("has_new_password", pm.NewPassword != nil),
	)
}

// String hides the value: Password Modify carries passwords in it.
func (e ExtendedRequest) String() string {
	return fmt.Sprintf("ExtendedRequest{Name:%q Value:%s}", e.Name, presenceHas(e.HasValue, len(e.Value)))
}

// GoString keeps %#v from printing the raw value.
func (e ExtendedRequest) GoString() string { return e.String() }

// LogValue implements slog.LogValuer.
func (e ExtendedRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", e.Name), slog.Bool("has_value", e.HasValue), slog.Int("value_len", len(e.Value)))
}

func presence(b []byte) string { return presenceHas(b != nil, len(b)) }

func presenceHas(has bool, n int) string {
	if !has {
		return "<absent>"
	}
	return fmt.Sprintf("<%d bytes redacted>", n)
}
