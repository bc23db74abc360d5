package cli

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/client"
	"github.com/headwater/headwater/server/api"
)

func spCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{Use: "sp", Short: "Manage SAML service providers (applications that sign in with Headwater)"}
	var in api.SPInput
	var metadataFile, attrs string
	add := &cobra.Command{
		Use:   "add",
		Short: "Register an SP from its metadata (a file or a URL); an SP already registered is replaced",
		Long: `Register a SAML service provider from its metadata.

  headwater sp add --metadata sp.xml --name "Wiki"
  headwater sp add --metadata-url https://app.example.com/saml/metadata --preset aws \
      --attribute 'https://aws.amazon.com/SAML/Attributes/Role==arn:aws:iam::123:role/Admin,arn:aws:iam::123:saml-provider/Headwater'
  headwater sp add --metadata sp.xml --groups engineering,ops --nameid persistent --sign assertion

Attributes are NAME=FIELD, where FIELD is a user field (userName, email, givenName,
familyName, displayName, groups, id, externalId, employeeNumber, department, title,
immutableId) or =literal.`,
		Args: args(cobra.NoArgs),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, _ []string) error {
			switch {
			case metadataFile != "" && in.MetadataURL != "":
				return usageError{fmt.Errorf("give --metadata or --metadata-url, not both")}
			case metadataFile != "":
				b, err := os.ReadFile(metadataFile)
				if err != nil {
					return err
				}
				in.MetadataXML = string(b)
			case in.MetadataURL == "":
				return usageError{fmt.Errorf("give the SP's metadata: --metadata FILE or --metadata-url URL")}
			}
			for _, a := range splitList(attrs, ";") {
				name, field, ok := strings.Cut(a, "=")
				if !ok || name == "" {
					return usageError{fmt.Errorf("attribute %q: write NAME=FIELD", a)}
				}
				in.Attributes = append(in.Attributes, authority.AttributeMapping{Name: name, Field: field})
			}
			var out api.SPJSON
			if err := c.Do(cmd.Context(), "POST", "/api/v1/saml/service-providers", in, &out); err != nil {
				return err
			}
			return printJSON(stdio.Out, out)
		}),
	}
	f := add.Flags()
	f.StringVar(&metadataFile, "metadata", "", "the SP's metadata XML file")
	f.StringVar(&in.MetadataURL, "metadata-url", "", "fetch the SP's metadata from this URL (10 s timeout, 1 MiB cap)")
	f.StringVar(&in.Name, "name", "", "name shown on the portal's tile")
	f.StringVar(&in.Preset, "preset", "", "built-in mapping: aws, google, salesforce or m365")
	f.StringVar(&in.NameIDFormat, "nameid", "", "default NameID format: email, persistent, transient or unspecified")
	f.StringSliceVar(&in.AllowedNameIDFormats, "allow-nameid", nil, "NameID formats the SP may ask for (default: all)")
	f.StringVar(&attrs, "attribute", "", "attribute mappings NAME=FIELD, separated by ';'")
	f.StringSliceVar(&in.Groups, "groups", nil, "only members of these groups (names or ids) may sign in")
	f.StringVar(&in.Sign, "sign", "", "what to sign: response, assertion or both (default)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List registered SPs",
		Args:  args(cobra.NoArgs),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, _ []string) error {
			var l struct {
				Items []api.SPJSON `json:"items"`
			}
			if err := c.Do(cmd.Context(), "GET", "/api/v1/saml/service-providers", nil, &l); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ENTITY ID\tNAME\tPRESET\tNAMEID\tSIGN\tGROUPS")
			for _, s := range l.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", s.EntityID, dash(s.Name), dash(s.Preset), dash(s.NameIDFormat), s.Sign, len(s.Groups))
			}
			return tw.Flush()
		}),
	}
	remove := &cobra.Command{
		Use:   "remove ENTITY_ID",
		Short: "Unregister an SP",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			if err := c.Do(cmd.Context(), "DELETE", "/api/v1/saml/service-providers?entityId="+url.QueryEscape(a[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "%s: removed\n", a[0])
			return nil
		}),
	}
	key := &cobra.Command{Use: "key", Short: "Roll the IdP's signing key over: prepare (publish the next certificate), then promote"}
	keyStep := func(use, short, path string) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: args(cobra.NoArgs),
			RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, _ []string) error {
				var out map[string]any
				if err := c.Do(cmd.Context(), "POST", path, nil, &out); err != nil {
					return err
				}
				return printJSON(stdio.Out, out)
			}),
		}
	}
	key.AddCommand(
		keyStep("prepare", "Make the next signing key; the metadata publishes its certificate from now on", "/api/v1/saml/keys/next"),
		keyStep("promote", "Sign with the next key from now on (after every SP has refreshed the metadata)", "/api/v1/saml/keys/promote"),
	)
	cmd.AddCommand(add, list, remove, key)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func splitList(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func activationLinkCmd(stdio IO) *cobra.Command {
	var ttl string
	cmd := &cobra.Command{
		Use:   "activation-link USER",
		Short: "Make a one-time link with which a staged user sets a password and becomes active",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withAPI(stdio, func(cmd *cobra.Command, c *client.Client, a []string) error {
			u, err := resolveUser(cmd.Context(), c, a[0])
			if err != nil {
				return err
			}
			var out map[string]any
			if err := c.Do(cmd.Context(), "POST", "/api/v1/users/"+u.ID+"/activation", map[string]any{"ttl": ttl}, &out); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "%s\n(valid until %v, once)\n", out["url"], out["expires"])
			return nil
		}),
	}
	cmd.Flags().StringVar(&ttl, "ttl", "72h", "how long the link stays valid")
	return cmd
}
