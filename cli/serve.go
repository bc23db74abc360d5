package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/headwater/headwater/authority/seal"
	"github.com/headwater/headwater/config"
	"github.com/headwater/headwater/server"
)

func loadConfig(stdio IO, path string) (config.Config, error) {
	cfg, err := config.Load(path, stdio.Getenv)
	if err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serveCmd(stdio IO) *cobra.Command {
	var cfgPath, readyFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server (embedded etcd unless HEADWATER_ETCD_ENDPOINTS is set)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(stdio, cfgPath)
			if err != nil {
				return err
			}
			log := newLogger(stdio.Err, cfg)
			srv, err := server.New(cfg, server.Options{ReadyFile: readyFile, Logger: log})
			if err != nil {
				return err
			}
			return srv.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "YAML configuration file (environment variables override it)")
	cmd.Flags().StringVar(&readyFile, "ready-file", "", "write the bound addresses as JSON to this file once ready")
	return cmd
}

func configCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with configuration files"}
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "Check a configuration file (with the environment applied) and print the result, secrets redacted",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			cfg, err := loadConfig(stdio, a[0])
			if err != nil {
				return err
			}
			if _, err := server.New(cfg, server.Options{}); err != nil {
				return err
			}
			out, err := yaml.Marshal(cfg.Redacted())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "# %s: configuration is valid\n%s", a[0], out)
			return nil
		},
	}
	cmd.AddCommand(check)
	return cmd
}

func keyCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Manage the sealing key file"}
	var cfgPath string
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Add a new active sealing key; older keys stay to open what they sealed. Restart the server to use it.",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(stdio, cfgPath)
			if err != nil {
				return err
			}
			kid, err := seal.Rotate(cfg.SecretKeyPath())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "new active key %s in %s\n", kid, cfg.SecretKeyPath())
			return nil
		},
	}
	rotate.Flags().StringVar(&cfgPath, "config", "", "YAML configuration file")
	list := &cobra.Command{
		Use:   "list",
		Short: "List key ids in the key file, the active one first",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(stdio, cfgPath)
			if err != nil {
				return err
			}
			k, err := seal.Load(cfg.SecretKeyPath())
			if err != nil {
				return err
			}
			fmt.Fprintln(stdio.Out, strings.Join(k.KeyIDs(), "\n"))
			return nil
		},
	}
	list.Flags().StringVar(&cfgPath, "config", "", "YAML configuration file")
	cmd.AddCommand(rotate, list)
	return cmd
}
