package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/headwater/headwater/client"
	"github.com/headwater/headwater/connectors"
	"github.com/headwater/headwater/server/api"
)

func directoryCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{Use: "directory", Short: "Manage directories that receive Headwater's changes (Microsoft 365, Active Directory, local accounts)"}
	var in api.DirectoryInput
	var settingsFile, settings string
	var secrets []string
	var secretsStdin bool
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a directory, or change one (settings given replace the stored ones)",
		Long: `Add a directory, or change one.

  headwater directory add contoso --kind m365 --settings-file m365.json \
      --secret 0000-tenant-id.clientSecret=... --mode push --groups staff

Credentials (--secret KEY=VALUE, or --secrets-stdin with one KEY=VALUE per line)
are sealed before they are stored and never shown again.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			in.Name = a[0]
			switch {
			case settingsFile != "":
				b, err := os.ReadFile(settingsFile)
				if err != nil {
					return err
				}
				in.Settings = b
			case settings != "":
				in.Settings = json.RawMessage(settings)
			}
			kv := secrets
			if secretsStdin {
				sc := bufio.NewScanner(stdio.In)
				for sc.Scan() {
					if l := strings.TrimSpace(sc.Text()); l != "" {
						kv = append(kv, l)
					}
				}
			}
			if len(kv) > 0 {
				in.Secrets = map[string]string{}
				for _, p := range kv {
					k, v, ok := strings.Cut(p, "=")
					if !ok || k == "" {
						return usageError{fmt.Errorf("secret %q: write KEY=VALUE", strings.SplitN(p, "=", 2)[0])}
					}
					in.Secrets[k] = v
				}
			}
			var out api.DirectoryJSON
			if err := c.Do(cmd.Context(), "POST", "/api/v1/directories", in, &out); err != nil {
				return err
			}
			return printJSON(stdio.Out, out)
		}),
	}
	f := add.Flags()
	f.StringVar(&in.Kind, "kind", "", "kind of directory: "+kindList())
	f.StringVar(&settingsFile, "settings-file", "", "the kind's settings, a JSON file")
	f.StringVar(&settings, "settings", "", "the kind's settings as JSON")
	f.StringArrayVar(&secrets, "secret", nil, "a credential KEY=VALUE (repeatable; visible to other local users: prefer --secrets-stdin)")
	f.BoolVar(&secretsStdin, "secrets-stdin", false, "read credentials KEY=VALUE, one per line, from stdin")
	f.StringVar(&in.Mode, "mode", "", "push (Headwater wins, default) or report (only record differences)")
	f.StringSliceVar(&in.Groups, "groups", nil, "bind the members of these groups (names or ids)")
	f.BoolVar(&in.AllUsers, "all-users", false, "bind every user, from creation (passwords set at creation are delivered)")
	f.StringVar(&in.Login, "login", "", "account login: email (default, as UPN) or userName")
	f.BoolVar(&in.DeleteInTarget, "delete-in-target", false, "delete accounts of deleted users (default: disable them)")
	f.StringVar(&in.SyncEvery, "sync-every", "", "full reconcile period (default 3h)")
	f.StringVar(&in.ImportEvery, "import-every", "", "run an import on this period (default: never)")

	list := &cobra.Command{
		Use: "list", Short: "List directories", Args: args(cobra.NoArgs),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, _ []string) error {
			var l struct {
				Items []api.DirectoryJSON `json:"items"`
			}
			if err := c.Do(cmd.Context(), "GET", "/api/v1/directories", nil, &l); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tMODE\tGROUPS\tSYNC EVERY")
			for _, d := range l.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", d.Name, d.Kind, d.Mode, len(d.Groups), d.SyncEvery)
			}
			return tw.Flush()
		}),
	}
	show := &cobra.Command{
		Use: "show NAME", Short: "Show a directory with its bindings by status and its queue", Args: args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			var d api.DirectoryJSON
			if err := c.Do(cmd.Context(), "GET", "/api/v1/directories/"+url.PathEscape(a[0]), nil, &d); err != nil {
				return err
			}
			return printJSON(stdio.Out, d)
		}),
	}
	remove := &cobra.Command{
		Use: "remove NAME", Short: "Remove a directory (unbind its users first)", Args: args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			if err := c.Do(cmd.Context(), "DELETE", "/api/v1/directories/"+url.PathEscape(a[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "%s: removed\n", a[0])
			return nil
		}),
	}
	test := &cobra.Command{
		Use: "test NAME", Short: "Check a directory's credentials and reachability", Args: args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			var out struct {
				OK     bool   `json:"ok"`
				Error  string `json:"error"`
				Reason string `json:"reason"`
			}
			if err := c.Do(cmd.Context(), "POST", "/api/v1/directories/"+url.PathEscape(a[0])+"/test", nil, &out); err != nil {
				return err
			}
			if !out.OK {
				return fmt.Errorf("%s: %s (%s)", a[0], out.Error, out.Reason)
			}
			fmt.Fprintf(stdio.Out, "%s: ok\n", a[0])
			return nil
		}),
	}
	bindings := &cobra.Command{
		Use: "bindings NAME", Short: "List a directory's bindings with their status", Args: args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			var l struct {
				Items []api.BindingJSON `json:"items"`
			}
			if err := c.Do(cmd.Context(), "GET", "/api/v1/directories/"+url.PathEscape(a[0])+"/bindings", nil, &l); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tSTATUS\tSOURCE\tACCOUNT\tDETAIL")
			for _, b := range l.Items {
				detail := b.Detail
				if len(b.Mismatch) > 0 {
					detail = "differs: " + strings.Join(b.Mismatch, ", ")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", dash(b.UserName), b.Status, dash(b.Source), dash(b.ExternalID), detail)
			}
			return tw.Flush()
		}),
	}
	var user string
	dead := func(verb, short string) *cobra.Command {
		cc := &cobra.Command{
			Use: verb + " NAME", Short: short, Args: args(cobra.ExactArgs(1)),
			RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
				q := ""
				if user != "" {
					u, err := resolveUser(cmd.Context(), c, user)
					if err != nil {
						return err
					}
					q = "?userId=" + url.QueryEscape(u.ID)
				}
				var out map[string]int
				if err := c.Do(cmd.Context(), "POST", "/api/v1/directories/"+url.PathEscape(a[0])+"/outbox/"+verb+q, nil, &out); err != nil {
					return err
				}
				return printJSON(stdio.Out, out)
			}),
		}
		cc.Flags().StringVar(&user, "user", "", "only this user's entries")
		return cc
	}
	cmd.AddCommand(add, list, show, remove, test, bindings, enrolCmd(stdio), revokeCmd(stdio),
		dead("retry", "Retry a directory's dead letters (deliveries that failed for good)"),
		dead("dismiss", "Drop a directory's dead letters"))
	return cmd
}

func kindList() string {
	var n []string
	for _, k := range connectors.Kinds() {
		n = append(n, k.Name)
	}
	if len(n) == 0 {
		return "m365"
	}
	return strings.Join(n, ", ")
}

func syncCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{Use: "sync", Short: "Reconcile directories"}
	plan := &cobra.Command{
		Use: "plan DIRECTORY", Short: "Print what a full reconcile pass would change, changing nothing", Args: args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			var out struct {
				Items  []connectors.PlanItem `json:"items"`
				Counts map[string]int        `json:"counts"`
			}
			if err := c.Do(cmd.Context(), "GET", "/api/v1/directories/"+url.PathEscape(a[0])+"/plan", nil, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tACTION\tACCOUNT\tCHANGES")
			for _, it := range out.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", dash(it.User), it.Action, dash(it.Account), strings.Join(it.Changes, ", "))
			}
			tw.Flush()
			fmt.Fprintf(stdio.Out, "%d unchanged", out.Counts["none"])
			for k, v := range out.Counts {
				if k != "none" {
					fmt.Fprintf(stdio.Out, ", %d %s", v, k)
				}
			}
			fmt.Fprintln(stdio.Out)
			return nil
		}),
	}
	cmd.AddCommand(plan)
	return cmd
}

func importDirCmd(stdio IO) *cobra.Command {
	var dry, staged bool
	cmd := &cobra.Command{
		Use:   "import DIRECTORY",
		Short: "Import a directory's accounts: match them to users (email, then login) and bind them",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			body, _ := json.Marshal(map[string]bool{"dryRun": dry, "createStaged": staged})
			req, err := http.NewRequestWithContext(cmd.Context(), "POST", c.BaseURL+"/api/v1/directories/"+url.PathEscape(a[0])+"/import", bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+c.Token)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/x-ndjson") // progress as it goes
			resp, err := c.HTTP.Do(req)
			if err != nil {
				return fmt.Errorf("cannot reach Headwater at %s: %w", c.BaseURL, err)
			}
			defer resp.Body.Close()
			if resp.StatusCode >= 400 {
				b, _ := io.ReadAll(resp.Body)
				var e struct {
					Error *client.APIError `json:"error"`
				}
				if json.Unmarshal(b, &e) == nil && e.Error != nil {
					return e.Error
				}
				return fmt.Errorf("import: %s", resp.Status)
			}
			dec := json.NewDecoder(resp.Body)
			for {
				var line struct {
					Progress *int                     `json:"progress"`
					Result   *connectors.ImportResult `json:"result"`
					Error    *client.APIError         `json:"error"`
				}
				if err := dec.Decode(&line); err != nil {
					if err == io.EOF {
						return fmt.Errorf("import: the server closed the stream without a result")
					}
					return err
				}
				switch {
				case line.Progress != nil:
					fmt.Fprintf(stdio.Err, "\rimport: %d accounts read", *line.Progress)
				case line.Error != nil:
					fmt.Fprintln(stdio.Err)
					return line.Error
				case line.Result != nil:
					fmt.Fprintln(stdio.Err)
					r := line.Result
					verb := "bound"
					if r.DryRun {
						verb = "would bind"
					}
					fmt.Fprintf(stdio.Out, "%d accounts: %d matched (%s), %d already bound, %d created as staged users, %d unmatched, %d conflicts\n",
						r.Accounts, r.Matched, verb, r.AlreadyBound, r.Created, len(r.Unmatched), len(r.Conflicts))
					tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
					for _, m := range r.Matches {
						fmt.Fprintf(tw, "  matched\t%s\t-> %s\t(by %s)\n", m.Account.Login, m.User, m.By)
					}
					for _, u := range r.Unmatched {
						fmt.Fprintf(tw, "  unmatched\t%s\t%s\t\n", u.Login, u.DisplayName)
					}
					for _, m := range r.Conflicts {
						fmt.Fprintf(tw, "  conflict\t%s\t-> %s\t(already bound to another account)\n", m.Account.Login, m.User)
					}
					return tw.Flush()
				}
			}
		}),
	}
	cmd.Flags().BoolVar(&dry, "dry-run", false, "show what would be bound, bind nothing")
	cmd.Flags().BoolVar(&staged, "create-staged", false, "create staged users for accounts that match nobody")
	return cmd
}

func bindingCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{Use: "binding", Short: "Bind users to directories"}
	var mode string
	add := &cobra.Command{
		Use: "add USER DIRECTORY", Short: "Bind a user to a directory (the account is created or matched there)", Args: args(cobra.ExactArgs(2)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			u, err := resolveUser(cmd.Context(), c, a[0])
			if err != nil {
				return err
			}
			if err := c.Do(cmd.Context(), "POST", "/api/v1/users/"+u.ID+"/bindings", map[string]string{"directory": a[1], "mode": mode}, nil); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "%s: bound to %s\n", u.UserName, a[1])
			return nil
		}),
	}
	add.Flags().StringVar(&mode, "mode", "", "push or report (default: the directory's)")
	remove := &cobra.Command{
		Use: "remove USER DIRECTORY", Short: "Unbind a user: the account in the directory is disabled", Args: args(cobra.ExactArgs(2)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			u, err := resolveUser(cmd.Context(), c, a[0])
			if err != nil {
				return err
			}
			if err := c.Do(cmd.Context(), "DELETE", "/api/v1/users/"+u.ID+"/bindings/"+url.PathEscape(a[1]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "%s: unbinding from %s (the account gets disabled)\n", u.UserName, a[1])
			return nil
		}),
	}
	list := &cobra.Command{
		Use: "list USER", Short: "List a user's bindings with their status", Args: args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			u, err := resolveUser(cmd.Context(), c, a[0])
			if err != nil {
				return err
			}
			var l struct {
				Items []api.BindingJSON `json:"items"`
			}
			if err := c.Do(cmd.Context(), "GET", "/api/v1/users/"+u.ID+"/bindings", nil, &l); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DIRECTORY\tSTATUS\tACCOUNT\tDETAIL")
			for _, b := range l.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.Directory, b.Status, dash(b.ExternalID), b.Detail)
			}
			return tw.Flush()
		}),
	}
	cmd.AddCommand(add, remove, list)
	return cmd
}
