// Command graphemu runs the Microsoft Graph emulator on its own, for demos and for poking at a
// connector by hand: it prints the Graph base URL, the authority URL of each tenant, the client
// credentials to use and the path of the CA certificate to trust, then serves until
// interrupted.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/headwater/headwater/internal/graphemu"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "graphemu:", err)
		}
		os.Exit(2)
	}
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type options struct {
	listen           string
	tenants          listFlag
	domains          listFlag
	unverified       listFlag
	clientID         string
	clientSecret     string
	latency          time.Duration
	throttleFraction float64
	unavailFraction  float64
	retryAfter       time.Duration
	tokenLifetime    time.Duration
	replicationDelay time.Duration
	users            int
	caOut            string
	verbose          bool
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("graphemu", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "address to listen on (port 0 picks a free port)")
	fs.Var(&o.tenants, "tenant", "tenant id; repeat for several tenants (default one fixed GUID)")
	fs.Var(&o.domains, "domain", "verified domain, as TENANT=NAME or NAME for the first tenant; repeatable (default <tenant>.onmicrosoft.com)")
	fs.Var(&o.unverified, "unverified-domain", "unverified domain, as TENANT=NAME or NAME for the first tenant; repeatable")
	fs.StringVar(&o.clientID, "client-id", "", "app registration client id accepted in every tenant (default: random, printed)")
	fs.StringVar(&o.clientSecret, "client-secret", "", "client secret of that app (default: random, printed)")
	fs.DurationVar(&o.latency, "latency", 0, "delay added to every Graph request")
	fs.Float64Var(&o.throttleFraction, "throttle-fraction", 0, "fraction of Graph requests answered 429 Too Many Requests")
	fs.Float64Var(&o.unavailFraction, "unavailable-fraction", 0, "fraction of Graph requests answered 503 Service Unavailable")
	fs.DurationVar(&o.retryAfter, "retry-after", 2*time.Second, "Retry-After sent with injected 429 and 503 answers")
	fs.DurationVar(&o.tokenLifetime, "token-lifetime", time.Hour, "lifetime (expires_in) of issued access tokens")
	fs.DurationVar(&o.replicationDelay, "replication-delay", 0, "how long a newly created user answers 404 by id")
	fs.IntVar(&o.users, "users", 0, "users to create in each tenant at start (userNNN@<default domain>)")
	fs.StringVar(&o.caOut, "ca-out", "", "where to write the CA certificate PEM (default: a file in the temp directory)")
	fs.BoolVar(&o.verbose, "v", false, "log every request")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.throttleFraction < 0 || o.throttleFraction > 1 || o.unavailFraction < 0 || o.unavailFraction > 1 {
		return nil, errors.New("fractions are between 0 and 1")
	}
	if len(o.tenants) == 0 {
		o.tenants = listFlag{"00000000-0000-4000-8000-00000000e001"}
	}
	if o.clientID == "" {
		o.clientID = newGUID()
	}
	if o.clientSecret == "" {
		o.clientSecret = "graphemu-" + newGUID()
	}
	return o, nil
}

// config turns the flags into an emulator configuration.
func (o *options) config(log *slog.Logger) (graphemu.Config, error) {
	cfg := graphemu.Config{Addr: o.listen, TokenLifetime: o.tokenLifetime, Logger: log}
	index := map[string]int{}
	for i, id := range o.tenants {
		index[strings.ToLower(id)] = i
		cfg.Tenants = append(cfg.Tenants, graphemu.TenantConfig{
			ID:   id,
			Apps: []graphemu.App{{ClientID: o.clientID, ClientSecret: o.clientSecret}},
		})
	}
	add := func(specs []string, verified bool) error {
		for _, spec := range specs {
			tenant, name, ok := strings.Cut(spec, "=")
			if !ok {
				tenant, name = o.tenants[0], spec
			}
			i, known := index[strings.ToLower(tenant)]
			if !known || name == "" {
				return fmt.Errorf("domain %q: name a configured tenant as TENANT=NAME", spec)
			}
			cfg.Tenants[i].Domains = append(cfg.Tenants[i].Domains, graphemu.Domain{Name: name, Verified: verified})
		}
		return nil
	}
	if err := add(o.domains, true); err != nil {
		return cfg, err
	}
	if err := add(o.unverified, false); err != nil {
		return cfg, err
	}
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		// Entra gives every tenant its initial domain; keep it so seeded users have one. The
		// first verified domain given on the command line becomes the default.
		initial := strings.ToLower(t.ID) + ".onmicrosoft.com"
		hasInitial := false
		def := -1
		for j, d := range t.Domains {
			hasInitial = hasInitial || strings.EqualFold(d.Name, initial)
			if def < 0 && d.Verified {
				def = j
			}
		}
		if def >= 0 {
			t.Domains[def].Default = true
		}
		if !hasInitial {
			t.Domains = append(t.Domains, graphemu.Domain{Name: initial, Verified: true, Default: def < 0})
		}
		defName := initial
		if def >= 0 {
			defName = t.Domains[def].Name
		}
		for n := 1; n <= o.users; n++ {
			t.Users = append(t.Users, graphemu.NewUser{
				UserPrincipalName: fmt.Sprintf("user%03d@%s", n, defName),
				DisplayName:       fmt.Sprintf("User %03d", n),
				Mail:              fmt.Sprintf("user%03d@%s", n, defName),
				AccountEnabled:    true,
			})
		}
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := o.config(log)
	if err != nil {
		return err
	}
	emu, err := graphemu.Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer emu.Close()

	emu.SetLatency(o.latency)
	emu.SetReplicationDelay(o.replicationDelay)
	if o.throttleFraction > 0 {
		if err := emu.ThrottleFraction(o.throttleFraction, o.retryAfter); err != nil {
			return err
		}
	}
	if o.unavailFraction > 0 {
		if err := emu.UnavailableFraction(o.unavailFraction, o.retryAfter); err != nil {
			return err
		}
	}

	caPath := o.caOut
	if caPath == "" {
		u, _ := url.Parse(emu.URL())
		caPath = filepath.Join(os.TempDir(), "graphemu-"+u.Port()+"-ca.pem")
	}
	if err := os.WriteFile(caPath, emu.CACertPEM(), 0o644); err != nil {
		return fmt.Errorf("write CA certificate: %w", err)
	}

	fmt.Fprintf(stdout, "graphemu: Microsoft Graph emulator\n")
	fmt.Fprintf(stdout, "  base URL:       %s\n", emu.URL())
	fmt.Fprintf(stdout, "  Graph URL:      %s\n", emu.GraphURL())
	for _, t := range o.tenants {
		fmt.Fprintf(stdout, "  authority:      %s\n", emu.AuthorityURL(t))
	}
	fmt.Fprintf(stdout, "  client id:      %s\n", o.clientID)
	fmt.Fprintf(stdout, "  client secret:  %s\n", o.clientSecret)
	fmt.Fprintf(stdout, "  CA certificate: %s\n", caPath)
	fmt.Fprintf(stdout, "  token:          curl --cacert %s -d grant_type=client_credentials -d client_id=%s -d client_secret=%s -d scope=https://graph.microsoft.com/.default %s/oauth2/v2.0/token\n",
		caPath, o.clientID, o.clientSecret, emu.AuthorityURL(o.tenants[0]))

	<-ctx.Done()
	return nil
}

func newGUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
