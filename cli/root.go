// Package cli is the headwater command line: the server (serve), its
// configuration check, and the admin commands that call the admin API.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/headwater/headwater/client"
	"github.com/headwater/headwater/config"
	"github.com/headwater/headwater/server"
)

// Exit codes, as CONTRACT.md states them.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// usageError marks bad usage or invalid configuration: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// IO is where commands read and write; tests substitute buffers.
type IO struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	Getenv func(string) (string, bool)
}

// Main runs the command line with args (without the program name) and
// returns the exit code.
func Main(args []string, stdio IO) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewRoot(stdio)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(stdio.Err, "headwater:", err)
	var ue usageError
	var ce *server.ConfigError
	var cfgErr *config.Error
	// cobra reports an unknown subcommand as a plain error.
	unknown := strings.HasPrefix(err.Error(), "unknown command ")
	if unknown || errors.As(err, &ue) || errors.As(err, &ce) || errors.As(err, &cfgErr) {
		return ExitUsage
	}
	return ExitFailure
}

// NewRoot builds the command tree.
func NewRoot(stdio IO) *cobra.Command {
	if stdio.Getenv == nil {
		stdio.Getenv = os.LookupEnv
	}
	root := &cobra.Command{
		Use:           "headwater",
		Short:         "Headwater: one authoritative source of people and groups",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(
		serveCmd(stdio),
		configCmd(stdio),
		userCmd(stdio),
		groupCmd(stdio),
		tokenCmd(stdio),
		serviceAccountCmd(stdio),
		auditCmd(stdio),
		keyCmd(stdio),
		spCmd(stdio),
		directoryCmd(stdio),
		bindingCmd(stdio),
		syncCmd(stdio),
		importDirCmd(stdio),
		agentCmd(stdio),
		agentsCmd(stdio),
	)
	return root
}

// args wraps cobra's argument checks so that their errors exit 2.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usageError{fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath())}
		}
		return nil
	}
}

// withAPI adapts a command body that talks to the admin API to cobra:
// the client comes from HEADWATER_URL and HEADWATER_TOKEN.
func withAPI(stdio IO, fn func(cmd *cobra.Command, c *client.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, a []string) error {
		c, err := apiClient(stdio)
		if err != nil {
			return err
		}
		return fn(cmd, c, a)
	}
}

// apiClient builds a client from HEADWATER_URL and HEADWATER_TOKEN.
func apiClient(stdio IO) (*client.Client, error) {
	base, ok := stdio.Getenv("HEADWATER_URL")
	if !ok || base == "" {
		base = "http://127.0.0.1:8080"
	}
	tok, _ := stdio.Getenv("HEADWATER_TOKEN")
	c, err := client.New(base, tok)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
