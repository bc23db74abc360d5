package cli

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/headwater/headwater/client"

	"github.com/headwater/headwater/server/api"
)

// importChunk is how many users one import request carries.
const importChunk = 100

func importCmd(stdio IO) *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Create users from a CSV or JSON file, with progress; '-' reads stdin",
		Long: `Create users from a file.

CSV: a header row naming the columns, then one user per row. Columns are the
admin API's field names: userName (required), givenName, familyName,
displayName, email, title, externalId, state, password, uidNumber, gidNumber,
homeDirectory, loginShell, department, employeeNumber, roles (separated by ';'),
and passwordHash for hashes exported from another directory ({SSHA},
{SSHA256}, {SSHA512}, {CRYPT}$6$..., bcrypt, argon2id): they keep working and
are upgraded to argon2id at each user's first login.

JSON: a list of user objects as POST /api/v1/users takes them, or
{"users": [...]}.

Users are sent 100 at a time. Each row gets its own result: a failed row does
not stop the others, and the failures are listed at the end (exit code 1 if
any row failed).`,
		Args: args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			users, err := readUsers(stdio, a[0], format)
			if err != nil {
				return err
			}
			if len(users) == 0 {
				return usagef("%s holds no users", a[0])
			}
			start := time.Now()
			var created, failed int
			var failures []string
			for off := 0; off < len(users); off += importChunk {
				chunk := users[off:min(off+importChunk, len(users))]
				var res struct {
					Created int                `json:"created"`
					Failed  int                `json:"failed"`
					Results []api.ImportResult `json:"results"`
				}
				if err := c.Do(cmd.Context(), "POST", "/api/v1/users/import", map[string]any{"users": chunk}, &res); err != nil {
					return fmt.Errorf("after %d of %d users (%d created): %w", off, len(users), created, err)
				}
				created += res.Created
				failed += res.Failed
				for _, r := range res.Results {
					if r.Error != nil {
						name := ""
						if r.User != nil {
							name = *r.User
						}
						failures = append(failures, fmt.Sprintf("  record %d (%s): %s", off+r.Index+1, name, r.Error.Message))
					}
				}
				if !quiet {
					done := off + len(chunk)
					rate := float64(done) / time.Since(start).Seconds()
					fmt.Fprintf(stdio.Err, "imported %d/%d (%d created, %d failed, %.0f users/s)\n", done, len(users), created, failed, rate)
				}
			}
			fmt.Fprintf(stdio.Out, "%d created, %d failed in %s\n", created, failed, time.Since(start).Round(time.Millisecond))
			if failed > 0 {
				fmt.Fprintln(stdio.Out, "failures:")
				fmt.Fprintln(stdio.Out, strings.Join(failures, "\n"))
				return fmt.Errorf("%d of %d users were not imported", failed, len(users))
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&format, "format", "", "csv or json (default: from the file name, else json)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress lines")
	return cmd
}

func readUsers(stdio IO, path, format string) ([]map[string]any, error) {
	var r io.Reader
	if path == "-" {
		r = stdio.In
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, usageError{err}
		}
		defer f.Close()
		r = f
	}
	if format == "" {
		format = "json"
		if strings.EqualFold(filepath.Ext(path), ".csv") {
			format = "csv"
		}
	}
	switch format {
	case "csv":
		return readCSV(r)
	case "json":
		return readJSON(r)
	}
	return nil, usagef("--format must be csv or json, not %q", format)
}

func readJSON(r io.Reader) ([]map[string]any, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var list []map[string]any
	if err := json.Unmarshal(data, &list); err == nil {
		return list, nil
	}
	var wrapped struct {
		Users []map[string]any `json:"users"`
	}
	if err := json.Unmarshal(data, &wrapped); err != nil {
		return nil, usagef("the file is neither a JSON list of users nor {\"users\": [...]}: %v", err)
	}
	return wrapped.Users, nil
}

// csvColumns maps CSV headers onto the admin API's fields.
var csvNumbers = map[string]bool{"uidNumber": true, "gidNumber": true}

func readCSV(r io.Reader) ([]map[string]any, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, usagef("reading the CSV header: %v", err)
	}
	for i, h := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	}
	var out []map[string]any
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, usagef("CSV line %d: %v", line, err)
		}
		u := map[string]any{}
		ent := map[string]any{}
		for i, v := range rec {
			if i >= len(header) || v == "" {
				continue
			}
			switch col := header[i]; {
			case csvNumbers[col]:
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, usagef("CSV line %d: %s must be a number, not %q", line, col, v)
				}
				u[col] = n
			case col == "roles":
				u[col] = strings.Split(v, ";")
			case col == "department" || col == "employeeNumber" || col == "costCenter" || col == "organization" || col == "division" || col == "manager":
				ent[col] = v
			default:
				u[col] = v
			}
		}
		if len(ent) > 0 {
			u["enterprise"] = ent
		}
		out = append(out, u)
	}
}
