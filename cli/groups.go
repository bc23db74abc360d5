package cli

import (
	"context"
	"fmt"
	"net/url"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/headwater/headwater/client"
	"github.com/headwater/headwater/server/api"
)

type groupList struct {
	Items []api.GroupJSON `json:"items"`
	Next  string          `json:"next"`
	Total int             `json:"total"`
}

// resolveGroup accepts a displayName or an id.
func resolveGroup(ctx context.Context, c *client.Client, ref string) (api.GroupJSON, error) {
	var l groupList
	if err := c.Do(ctx, "GET", "/api/v1/groups?displayName="+url.QueryEscape(ref), nil, &l); err != nil {
		return api.GroupJSON{}, err
	}
	if len(l.Items) == 1 {
		return l.Items[0], nil
	}
	var g api.GroupJSON
	err := c.Do(ctx, "GET", "/api/v1/groups/"+url.PathEscape(ref), nil, &g)
	if client.IsNotFound(err) {
		return g, fmt.Errorf("no group has the name or id %q", ref)
	}
	return g, err
}

func groupCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{Use: "group", Short: "Manage groups"}
	var desc, extID string
	var gid int64
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a group",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			body := map[string]any{"displayName": a[0]}
			if desc != "" {
				body["description"] = desc
			}
			if extID != "" {
				body["externalId"] = extID
			}
			if gid != 0 {
				body["gidNumber"] = gid
			}
			var g api.GroupJSON
			if err := c.Do(cmd.Context(), "POST", "/api/v1/groups", body, &g); err != nil {
				return err
			}
			return printJSON(stdio.Out, g)
		}),
	}
	create.Flags().StringVar(&desc, "description", "", "description")
	create.Flags().StringVar(&extID, "external-id", "", "id in the provisioning system")
	create.Flags().Int64Var(&gid, "gid-number", 0, "POSIX gidNumber (allocated when absent)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List groups",
		Args:  args(cobra.NoArgs),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, _ []string) error {
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tMEMBERS\tGID\tID")
			cursor := ""
			for {
				var l groupList
				if err := c.Do(cmd.Context(), "GET", "/api/v1/groups?limit=500&after="+url.QueryEscape(cursor), nil, &l); err != nil {
					return err
				}
				for _, g := range l.Items {
					n := 0
					if g.MemberCount != nil {
						n = *g.MemberCount
					}
					fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", g.DisplayName, n, g.GIDNumber, g.ID)
				}
				if l.Next == "" {
					break
				}
				cursor = l.Next
			}
			return tw.Flush()
		}),
	}
	get := &cobra.Command{
		Use:   "get GROUP",
		Short: "Show a group",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			g, err := resolveGroup(cmd.Context(), c, a[0])
			if err != nil {
				return err
			}
			return printJSON(stdio.Out, g)
		}),
	}
	del := &cobra.Command{
		Use:   "delete GROUP",
		Short: "Delete a group and its memberships",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			g, err := resolveGroup(cmd.Context(), c, a[0])
			if err != nil {
				return err
			}
			if err := c.Do(cmd.Context(), "DELETE", "/api/v1/groups/"+g.ID, nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "%s: deleted\n", g.DisplayName)
			return nil
		}),
	}
	members := &cobra.Command{
		Use:   "members GROUP",
		Short: "List a group's members",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			g, err := resolveGroup(cmd.Context(), c, a[0])
			if err != nil {
				return err
			}
			cursor := ""
			for {
				var l struct {
					Items []struct {
						ID       string `json:"id"`
						UserName string `json:"userName"`
					} `json:"items"`
					Next string `json:"next"`
				}
				if err := c.Do(cmd.Context(), "GET", "/api/v1/groups/"+g.ID+"/members?limit=1000&after="+url.QueryEscape(cursor), nil, &l); err != nil {
					return err
				}
				for _, m := range l.Items {
					fmt.Fprintf(stdio.Out, "%s\t%s\n", m.UserName, m.ID)
				}
				if l.Next == "" {
					return nil
				}
				cursor = l.Next
			}
		}),
	}
	membership := func(use, short string, add bool) *cobra.Command {
		return &cobra.Command{
			Use:   use + " GROUP USER...",
			Short: short,
			Args:  args(cobra.MinimumNArgs(2)),
			RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
				g, err := resolveGroup(cmd.Context(), c, a[0])
				if err != nil {
					return err
				}
				var ids []string
				for _, ref := range a[1:] {
					u, err := resolveUser(cmd.Context(), c, ref)
					if err != nil {
						return err
					}
					ids = append(ids, u.ID)
				}
				if add {
					err = c.Do(cmd.Context(), "POST", "/api/v1/groups/"+g.ID+"/members", map[string]any{"userIds": ids}, nil)
				} else {
					for _, id := range ids {
						if err = c.Do(cmd.Context(), "DELETE", "/api/v1/groups/"+g.ID+"/members/"+id, nil, nil); err != nil {
							break
						}
					}
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(stdio.Out, "%s: %d member(s) %s\n", g.DisplayName, len(ids), map[bool]string{true: "added", false: "removed"}[add])
				return nil
			}),
		}
	}
	cmd.AddCommand(create, list, get, del, members,
		membership("add-member", "Add users to a group", true),
		membership("remove-member", "Remove users from a group", false))
	return cmd
}
