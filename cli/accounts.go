package cli

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/headwater/headwater/client"
)

func tokenCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens (only a hash is stored; the secret is shown once)"}
	var name, ttl string
	var scopes []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a token and print its secret",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usagef("--name is required")
			}
			c, err := apiClient(stdio)
			if err != nil {
				return err
			}
			var out struct {
				ID     string   `json:"id"`
				Name   string   `json:"name"`
				Scopes []string `json:"scopes"`
				Token  string   `json:"token"`
			}
			if err := c.Do(cmd.Context(), "POST", "/api/v1/tokens", map[string]any{"name": name, "scopes": scopes, "ttl": ttl}, &out); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Err, "token %s (%s) created with scopes %s; store the secret now, it is not shown again:\n", out.Name, out.ID, strings.Join(out.Scopes, ","))
			fmt.Fprintln(stdio.Out, out.Token)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the token is for (required)")
	create.Flags().StringSliceVar(&scopes, "scope", []string{"scim"}, "scope: scim or admin; repeatable")
	create.Flags().StringVar(&ttl, "ttl", "", "lifetime such as 720h (default: no expiry)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens",
		Args:  args(cobra.NoArgs),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, _ []string) error {
			var l struct {
				Items []struct {
					ID        string     `json:"id"`
					Name      string     `json:"name"`
					Scopes    []string   `json:"scopes"`
					Created   time.Time  `json:"created"`
					ExpiresAt *time.Time `json:"expiresAt"`
				} `json:"items"`
			}
			if err := c.Do(cmd.Context(), "GET", "/api/v1/tokens", nil, &l); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSCOPES\tCREATED\tEXPIRES\tID")
			for _, t := range l.Items {
				exp := "never"
				if t.ExpiresAt != nil {
					exp = t.ExpiresAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, strings.Join(t.Scopes, ","), t.Created.Format(time.RFC3339), exp, t.ID)
			}
			return tw.Flush()
		}),
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			if err := c.Do(cmd.Context(), "DELETE", "/api/v1/tokens/"+url.PathEscape(a[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "token %s revoked\n", a[0])
			return nil
		}),
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func serviceAccountCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{Use: "service-account", Aliases: []string{"sa"}, Short: "Manage service accounts (apps that bind over LDAP)"}
	var name, desc, pw string
	var pwStdin bool
	var roles []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a service account",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usagef("--name is required")
			}
			secret, err := readSecret(stdio, pw, pwStdin, "password")
			if err != nil {
				return err
			}
			if secret == "" {
				return usagef("a service account needs a password: --password-stdin (or --password)")
			}
			c, err := apiClient(stdio)
			if err != nil {
				return err
			}
			var out map[string]any
			if err := c.Do(cmd.Context(), "POST", "/api/v1/service-accounts", map[string]any{"name": name, "password": secret, "description": desc, "roles": roles}, &out); err != nil {
				return err
			}
			return printJSON(stdio.Out, out)
		},
	}
	create.Flags().StringVar(&name, "name", "", "account name; binds as cn=NAME,ou=services,BASEDN (required)")
	create.Flags().StringVar(&desc, "description", "", "what the account is for")
	create.Flags().StringSliceVar(&roles, "role", []string{"ldap-reader"}, "role; repeatable")
	create.Flags().StringVar(&pw, "password", "", "password (visible to other local users; prefer --password-stdin)")
	create.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of stdin")

	list := &cobra.Command{
		Use:   "list",
		Short: "List service accounts",
		Args:  args(cobra.NoArgs),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, _ []string) error {
			var l struct {
				Items []struct {
					ID    string   `json:"id"`
					Name  string   `json:"name"`
					Roles []string `json:"roles"`
				} `json:"items"`
			}
			if err := c.Do(cmd.Context(), "GET", "/api/v1/service-accounts?limit=1000", nil, &l); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLES\tID")
			for _, s := range l.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, strings.Join(s.Roles, ","), s.ID)
			}
			return tw.Flush()
		}),
	}
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a service account",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			if err := c.Do(cmd.Context(), "DELETE", "/api/v1/service-accounts/"+url.PathEscape(a[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "service account %s deleted\n", a[0])
			return nil
		}),
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

func auditCmd(stdio IO) *cobra.Command {
	var limit int
	var before string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log, newest first",
		Args:  args(cobra.NoArgs),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, _ []string) error {
			var l struct {
				Items []struct {
					ID         string            `json:"id"`
					Time       time.Time         `json:"time"`
					Actor      string            `json:"actor"`
					Source     string            `json:"source"`
					Action     string            `json:"action"`
					TargetKind string            `json:"targetKind"`
					TargetID   string            `json:"targetId"`
					Details    map[string]string `json:"details"`
				} `json:"items"`
				Next string `json:"next"`
			}
			if err := c.Do(cmd.Context(), "GET", fmt.Sprintf("/api/v1/audit?limit=%d&before=%s", limit, url.QueryEscape(before)), nil, &l); err != nil {
				return err
			}
			if asJSON {
				return printJSON(stdio.Out, l)
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tACTOR\tSOURCE\tACTION\tTARGET\tDETAILS")
			for _, e := range l.Items {
				var d []string
				for k, v := range e.Details {
					d = append(d, k+"="+v)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t%s\n", e.Time.Format(time.RFC3339), e.Actor, e.Source, e.Action, e.TargetKind, e.TargetID, strings.Join(d, " "))
			}
			if l.Next != "" {
				fmt.Fprintf(tw, "# older: --before %s\n", l.Next)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "events to show (at most 1000)")
	cmd.Flags().StringVar(&before, "before", "", "show events older than this event id")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
