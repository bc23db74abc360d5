package cli

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/headwater/headwater/agent"
	"github.com/headwater/headwater/agent/driver"
	"github.com/headwater/headwater/client"
)

const defaultAgentDir = "/var/lib/headwater-agent"

func agentCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{Use: "agent", Short: "Run the Headwater agent on a machine (its local accounts follow Headwater)"}
	var server, token, dir string
	enroll := &cobra.Command{
		Use:   "enroll",
		Short: "Enrol this machine with a one-time token (from `headwater directory enrol MACHINE`)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if server == "" || token == "" {
				return usageError{fmt.Errorf("give --server (the agent listener, https://host:port) and --token")}
			}
			m, err := agent.Enroll(cmd.Context(), server, token, dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "enrolled as %s; state in %s. Start it with: headwater agent run --dir %s\n", m, dir, dir)
			return nil
		},
	}
	enroll.Flags().StringVar(&server, "server", "", "Headwater's agent listener, https://host:port")
	enroll.Flags().StringVar(&token, "token", "", "the one-time enrolment token")
	enroll.Flags().StringVar(&dir, "dir", defaultAgentDir, "where the agent keeps its key and certificate")
	var runDir string
	run := &cobra.Command{
		Use:   "run",
		Short: "Apply Headwater's changes to this machine's local accounts until stopped",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			drv, err := driver.New()
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(stdio.Err, nil))
			a, err := agent.Load(runDir, drv, log)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log.Info("agent running")
			return a.Run(ctx)
		},
	}
	run.Flags().StringVar(&runDir, "dir", defaultAgentDir, "the agent's state directory (from enroll)")
	cmd.AddCommand(enroll, run)
	return cmd
}

func agentsCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use: "agents", Short: "List machines (directories of kind local): online, last seen, accounts", Args: args(cobra.NoArgs),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, _ []string) error {
			var l struct {
				Items []struct {
					Name     string `json:"name"`
					Online   bool   `json:"online"`
					LastSeen string `json:"lastSeen"`
					Accounts int    `json:"accounts"`
					Enrolled bool   `json:"enrolled"`
				} `json:"items"`
			}
			if err := c.Do(cmd.Context(), "GET", "/api/v1/agents", nil, &l); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MACHINE\tSTATE\tLAST SEEN\tACCOUNTS")
			for _, m := range l.Items {
				st := "offline"
				switch {
				case !m.Enrolled:
					st = "not enrolled"
				case m.Online:
					st = "online"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", m.Name, st, dash(m.LastSeen), m.Accounts)
			}
			return tw.Flush()
		}),
	}
}

func enrolCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use: "enrol MACHINE", Short: "Make a one-time token with which a machine's agent enrols (valid 24h)", Args: args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			var out map[string]any
			if err := c.Do(cmd.Context(), "POST", "/api/v1/directories/"+url.PathEscape(a[0])+"/enrolment", nil, &out); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "run on the machine (once, within 24 hours):\n  %s\n", out["command"])
			return nil
		}),
	}
}

func revokeCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use: "revoke MACHINE", Short: "Refuse a machine's agent certificate from now on", Args: args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			if err := c.Do(cmd.Context(), "POST", "/api/v1/directories/"+url.PathEscape(a[0])+"/revoke", nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "%s: revoked\n", a[0])
			return nil
		}),
	}
}
