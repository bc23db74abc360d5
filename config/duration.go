package config

import (
	"errors"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as text with a unit ("30s", "5m", "1h") in YAML, JSON
// and the environment. A bare number is refused, because "30" could mean seconds or
// nanoseconds; "0" is accepted since it means the same in every unit.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes the form UnmarshalText reads, so a printed configuration parses again.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses Go duration syntax.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("%q is not a duration; write a number with a unit, e.g. 30s, 5m or 1h", truncate(string(text)))
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML accepts only a scalar, so a list or mapping in a duration's place is reported
// as such rather than as an odd parse error.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("must be a duration with a unit, e.g. 30s, 5m or 1h")
	}
	return d.UnmarshalText([]byte(n.Value))
}

// truncate keeps a quoted bad value from flooding an error message.
func truncate(s string) string {
	const limit = 64
	if len(s) > limit {
		return s[:limit] + "..."
	}
	return s
}
