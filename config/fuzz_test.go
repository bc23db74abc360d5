package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParse feeds arbitrary documents to Parse. It must never panic, and whatever Config it
// returns must either validate or fail with nothing but *Error values, because the CLI turns
// those into "invalid config" with exit code 2 and anything else would be a runtime failure.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "example.yaml")); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"httpAddr: :0\n",
		"etcd:\n  endpoints: [http://a:2379]\n  prefix: x\n",
		"a: &x [*x]\n",
		"limiter: {base: 1s, max: 0s}\n",
		"passwordPolicy: {minLength: 99999999999999999999}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		_ = c.Redacted()
		_ = c.SecretKeyPath()
		err = c.Validate()
		walkErrors(err, func(e error) {
			var ce *Error
			if !errors.As(e, &ce) {
				t.Fatalf("Validate returned a %T, not *Error: %v", e, e)
			}
		})
		// What validates must survive printing and parsing again (config check output).
		if err == nil {
			out, merr := yaml.Marshal(c)
			if merr != nil {
				t.Fatalf("Marshal: %v", merr)
			}
			if _, perr := Parse(out); perr != nil {
				t.Fatalf("re-parsing printed config failed: %v\n%s", perr, out)
			}
		}
	})
}
