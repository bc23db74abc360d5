package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/client"
	"github.com/headwater/headwater/server/api"
)

type userList struct {
	Items []api.UserJSON `json:"items"`
	Next  string         `json:"next"`
	Total int            `json:"total"`
}

// resolveUser accepts a userName, an email or an id.
func resolveUser(ctx context.Context, c *client.Client, ref string) (api.UserJSON, error) {
	var u api.UserJSON
	for _, param := range []string{"userName", "email"} {
		var l userList
		if err := c.Do(ctx, "GET", "/api/v1/users?"+param+"="+url.QueryEscape(ref), nil, &l); err != nil {
			return u, err
		}
		if len(l.Items) == 1 {
			return l.Items[0], nil
		}
	}
	err := c.Do(ctx, "GET", "/api/v1/users/"+url.PathEscape(ref), nil, &u)
	if client.IsNotFound(err) {
		return u, fmt.Errorf("no user has the userName, email or id %q", ref)
	}
	return u, err
}

// readSecret takes a password from --password or the first line of stdin.
func readSecret(stdio IO, flagValue string, fromStdin bool, what string) (string, error) {
	if flagValue != "" && fromStdin {
		return "", usagef("give the %s with --password or --password-stdin, not both", what)
	}
	if !fromStdin {
		return flagValue, nil
	}
	line, err := bufio.NewReader(stdio.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the %s from stdin: %w", what, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usagef("stdin held no %s", what)
	}
	return line, nil
}

// userFlags binds the flags shared by create and update onto an input.
type userFlags struct {
	in                                                           api.UserInput
	userName, givenName, familyName, displayName, email, title   string
	externalID, state, department, employeeNumber, manager, home string
	shell                                                        string
	roles                                                        []string
	uid, gid                                                     int64
}

func (f *userFlags) register(cmd *cobra.Command, withName bool) {
	fl := cmd.Flags()
	if withName {
		fl.StringVar(&f.userName, "username", "", "login name (required)")
	} else {
		fl.StringVar(&f.userName, "username", "", "new login name")
	}
	fl.StringVar(&f.givenName, "given-name", "", "given name")
	fl.StringVar(&f.familyName, "family-name", "", "family name")
	fl.StringVar(&f.displayName, "display-name", "", "display name")
	fl.StringVar(&f.email, "email", "", "primary email address")
	fl.StringVar(&f.title, "title", "", "job title")
	fl.StringVar(&f.externalID, "external-id", "", "id in the provisioning system")
	fl.StringVar(&f.state, "state", "", "staged, active or suspended")
	fl.StringVar(&f.department, "department", "", "department")
	fl.StringVar(&f.employeeNumber, "employee-number", "", "employee number")
	fl.StringVar(&f.manager, "manager", "", "manager's user id")
	fl.StringVar(&f.home, "home-directory", "", "POSIX home directory")
	fl.StringVar(&f.shell, "login-shell", "", "POSIX login shell")
	fl.StringSliceVar(&f.roles, "role", nil, "role (admin, ldap-reader); repeatable")
	fl.Int64Var(&f.uid, "uid-number", 0, "POSIX uidNumber (allocated when absent)")
	fl.Int64Var(&f.gid, "gid-number", 0, "POSIX gidNumber")
}

// input returns only the flags the user gave.
func (f *userFlags) input(cmd *cobra.Command) api.UserInput {
	in := api.UserInput{}
	str := func(name string, v string, dst **string) {
		if cmd.Flags().Changed(name) {
			s := v
			*dst = &s
		}
	}
	str("username", f.userName, &in.UserName)
	str("given-name", f.givenName, &in.GivenName)
	str("family-name", f.familyName, &in.FamilyName)
	str("display-name", f.displayName, &in.DisplayName)
	str("email", f.email, &in.Email)
	str("title", f.title, &in.Title)
	str("external-id", f.externalID, &in.ExternalID)
	str("state", f.state, &in.State)
	str("home-directory", f.home, &in.HomeDirectory)
	str("login-shell", f.shell, &in.LoginShell)
	if cmd.Flags().Changed("role") {
		r := f.roles
		in.Roles = &r
	}
	if cmd.Flags().Changed("uid-number") {
		n := f.uid
		in.UIDNumber = &n
	}
	if cmd.Flags().Changed("gid-number") {
		n := f.gid
		in.GIDNumber = &n
	}
	return in
}

func userCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users (through the admin API: HEADWATER_URL, HEADWATER_TOKEN)"}

	var cf userFlags
	var pw string
	var pwStdin bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a user",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cf.userName == "" {
				return usagef("--username is required")
			}
			c, err := apiClient(stdio)
			if err != nil {
				return err
			}
			in := cf.input(cmd)
			if in.Enterprise == nil && (cf.department != "" || cf.employeeNumber != "" || cf.manager != "") {
				in.Enterprise = &authority.Enterprise{Department: cf.department, EmployeeNumber: cf.employeeNumber, Manager: cf.manager}
			}
			secret, err := readSecret(stdio, pw, pwStdin, "password")
			if err != nil {
				return err
			}
			if secret != "" {
				in.Password = &secret
			}
			var u api.UserJSON
			if err := c.Do(cmd.Context(), "POST", "/api/v1/users", in, &u); err != nil {
				return err
			}
			return printJSON(stdio.Out, u)
		},
	}
	cf.register(create, true)
	create.Flags().StringVar(&pw, "password", "", "initial password (visible to other local users; prefer --password-stdin)")
	create.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the initial password from the first line of stdin")

	get := &cobra.Command{
		Use:   "get USER",
		Short: "Show a user (by userName, email or id)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			u, err := resolveUser(cmd.Context(), c, a[0])
			if err != nil {
				return err
			}
			return printJSON(stdio.Out, u)
		}),
	}

	var limit int
	var after, output string
	var all bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List users by userName, a page at a time",
		Args:  args(cobra.NoArgs),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, _ []string) error {
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			if output == "table" {
				fmt.Fprintln(tw, "USERNAME\tSTATE\tEMAIL\tUID\tID")
			}
			cursor := after
			for {
				var l userList
				q := fmt.Sprintf("/api/v1/users?limit=%d&after=%s", limit, url.QueryEscape(cursor))
				if err := c.Do(cmd.Context(), "GET", q, nil, &l); err != nil {
					return err
				}
				if output == "json" {
					if err := printJSON(stdio.Out, l); err != nil {
						return err
					}
				} else {
					for _, u := range l.Items {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", u.UserName, u.State, u.Email, u.UIDNumber, u.ID)
					}
				}
				if !all || l.Next == "" {
					if output == "table" && l.Next != "" {
						fmt.Fprintf(tw, "# more: --after %q (or --all)\n", l.Next)
					}
					break
				}
				cursor = l.Next
			}
			return tw.Flush()
		}),
	}
	list.Flags().IntVar(&limit, "limit", 100, "users per page (at most 1000)")
	list.Flags().StringVar(&after, "after", "", "start after this (lowercased) userName")
	list.Flags().BoolVar(&all, "all", false, "fetch every page")
	list.Flags().StringVarP(&output, "output", "o", "table", "table or json")

	var uf userFlags
	update := &cobra.Command{
		Use:   "update USER",
		Short: "Change a user's attributes (only the flags given)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			u, err := resolveUser(cmd.Context(), c, a[0])
			if err != nil {
				return err
			}
			in := uf.input(cmd)
			if cmd.Flags().Changed("department") || cmd.Flags().Changed("employee-number") || cmd.Flags().Changed("manager") {
				e := u.Enterprise
				if cmd.Flags().Changed("department") {
					e.Department = uf.department
				}
				if cmd.Flags().Changed("employee-number") {
					e.EmployeeNumber = uf.employeeNumber
				}
				if cmd.Flags().Changed("manager") {
					e.Manager = uf.manager
				}
				in.Enterprise = &e
			}
			var out api.UserJSON
			if err := c.Do(cmd.Context(), "PATCH", "/api/v1/users/"+u.ID, in, &out); err != nil {
				return err
			}
			return printJSON(stdio.Out, out)
		}),
	}
	uf.register(update, false)

	simple := func(use, short, method, suffix string) *cobra.Command {
		return &cobra.Command{
			Use:   use + " USER",
			Short: short,
			Args:  args(cobra.ExactArgs(1)),
			RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
				u, err := resolveUser(cmd.Context(), c, a[0])
				if err != nil {
					return err
				}
				if err := c.Do(cmd.Context(), method, "/api/v1/users/"+u.ID+suffix, nil, nil); err != nil {
					return err
				}
				fmt.Fprintf(stdio.Out, "%s: %s\n", u.UserName, map[string]string{"delete": "deleted", "suspend": "suspended", "activate": "activated"}[use])
				return nil
			}),
		}
	}

	var spw string
	var spwStdin, mustChange bool
	setPassword := &cobra.Command{
		Use:   "set-password USER",
		Short: "Set a user's password (the policy applies; bound directories receive it)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			secret, err := readSecret(stdio, spw, spwStdin, "password")
			if err != nil {
				return err
			}
			if secret == "" {
				return usagef("give the password with --password-stdin (or --password)")
			}
			c, err := apiClient(stdio)
			if err != nil {
				return err
			}
			u, err := resolveUser(cmd.Context(), c, a[0])
			if err != nil {
				return err
			}
			body := map[string]any{"password": secret, "mustChange": mustChange}
			if err := c.Do(cmd.Context(), "POST", "/api/v1/users/"+u.ID+"/password", body, nil); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "%s: password set\n", u.UserName)
			return nil
		},
	}
	setPassword.Flags().StringVar(&spw, "password", "", "new password (visible to other local users; prefer --password-stdin)")
	setPassword.Flags().BoolVar(&spwStdin, "password-stdin", false, "read the new password from the first line of stdin")
	setPassword.Flags().BoolVar(&mustChange, "must-change", false, "ask the user to change it at next login")

	del := simple("delete", "Delete a user", "DELETE", "")
	del.Short = "Delete a user (bound directories disable the account)"

	cmd.AddCommand(create, get, list, update, del,
		simple("suspend", "Suspend a user: no logins, bound directories disable the account", "POST", "/suspend"),
		simple("activate", "Activate a staged or suspended user", "POST", "/activate"),
		setPassword, importCmd(stdio), activationLinkCmd(stdio))
	return cmd
}
