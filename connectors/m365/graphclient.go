package m365

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	khttp "github.com/microsoft/kiota-http-go"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	textser "github.com/microsoft/kiota-serialization-text-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// sdkVersion is reported in the SdkVersion header Graph uses for telemetry.
const sdkVersion = "1.89.0"

// requestTimeout bounds one HTTP exchange with Graph or the identity
// platform; the caller's context bounds the whole operation.
const requestTimeout = 60 * time.Second

// newAdapter builds the SDK's request adapter for one tenant.
//
// It is assembled from msgraph-sdk-go-core rather than with
// msgraphsdkgo.NewGraphRequestAdapter because the root package's
// GraphServiceClient links every Graph API there is; the request builders
// of the users and domains packages are all this connector needs, and the
// build is several times cheaper.
//
// The middleware chain is the SDK's default minus its retry handler: that
// handler sleeps through 429, 503 and 504 answers on its own (three times,
// up to 180 s) where nobody sees them, while this connector must decide
// whether to wait or to hand the Retry-After to the framework, whose
// worker holds the directory's lock meanwhile (see retry.go). The rest stays:
// gzip of request bodies, redirects, the SdkVersion and User-Agent headers.
// Serializers are per adapter rather than the SDK's process-wide registry,
// so that nothing here depends on global state being set up by someone.
func newAdapter(tc tenantConfig, base *http.Client, tokens *tokenSource) (*core.GraphRequestAdapterBase, error) {
	var parent http.RoundTripper = http.DefaultTransport
	if base != nil && base.Transport != nil {
		parent = base.Transport
	}
	opts := core.GraphClientOptions{GraphServiceLibraryVersion: sdkVersion}
	var mw []khttp.Middleware
	for _, m := range core.GetDefaultMiddlewaresWithOptions(&opts) {
		switch m.(type) {
		case *khttp.RetryHandler, khttp.RetryHandler:
			continue
		}
		mw = append(mw, m)
	}
	client := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(parent, mw...),
		// The SDK's redirect middleware follows redirects itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       requestTimeout,
	}

	parse := absser.NewParseNodeFactoryRegistry()
	parse.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonParseNodeFactory()
	parse.ContentTypeAssociatedFactories["text/plain"] = textser.NewTextParseNodeFactory()
	write := absser.NewSerializationWriterFactoryRegistry()
	write.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonSerializationWriterFactory()
	write.ContentTypeAssociatedFactories["text/plain"] = textser.NewTextSerializationWriterFactory()

	auth := absauth.NewBaseBearerTokenAuthenticationProvider(tokens)
	adapter, err := core.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, opts, parse, write, client)
	if err != nil {
		return nil, fmt.Errorf("m365: tenant %s: build the Graph request adapter: %w", tc.TenantID, err)
	}
	adapter.SetBaseUrl(tc.GraphURL)
	return adapter, nil
}

// tokenSource gives the SDK app-only tokens for one tenant from MSAL.
//
// MSAL keeps the token cache and renews a token shortly before it expires.
// AcquireTokenByCredential consults that cache before it asks the token
// endpoint (MSAL's public AcquireTokenSilent wants a user account, which
// app-only tokens do not have), so a token is requested about once an hour
// per tenant however many calls are made.
type tokenSource struct {
	app      confidential.Client
	tenantID string
	clientID string
	credName string
	scopes   []string
	// host is the Graph host tokens may be sent to; the SDK's own
	// allowed-hosts check sends no token at all to an unlisted host, which
	// Graph answers with a puzzling 401, so the check lives here instead
	// and fails loudly.
	host string
}

func newTokenSource(tc tenantConfig, base *http.Client) (*tokenSource, error) {
	opts := []confidential.Option{}
	if base != nil {
		opts = append(opts, confidential.WithHTTPClient(base))
	}
	if !strings.EqualFold(tc.AuthorityHost, DefaultAuthorityHost) {
		// Instance discovery asks login.microsoftonline.com whether the
		// authority is known; a national cloud or a test authority is not
		// listed there.
		opts = append(opts, confidential.WithInstanceDiscovery(false))
	}
	app, err := confidential.New(tc.AuthorityHost+"/"+tc.TenantID, tc.ClientID, tc.cred, opts...)
	if err != nil {
		return nil, fmt.Errorf("m365: tenant %s: set up sign-in: %w", tc.TenantID, err)
	}
	gu, err := url.Parse(tc.GraphURL)
	if err != nil {
		return nil, fmt.Errorf("m365: tenant %s: graph URL: %w", tc.TenantID, err)
	}
	return &tokenSource{
		app:      app,
		tenantID: tc.TenantID,
		clientID: tc.ClientID,
		credName: tc.credName,
		scopes:   []string{graphScope(gu.Host)},
		host:     strings.ToLower(gu.Host),
	}, nil
}

// graphScope is the .default scope of the Graph instance at host. National
// clouds have their own Graph resource; any other host (a proxy, a test
// emulator) is taken to stand for the global Graph.
func graphScope(host string) string {
	switch h := strings.ToLower(host); h {
	case "graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn":
		return "https://" + h + "/.default"
	}
	return "https://graph.microsoft.com/.default"
}

// GetAuthorizationToken implements the SDK's AccessTokenProvider.
func (s *tokenSource) GetAuthorizationToken(ctx context.Context, u *url.URL, _ map[string]any) (string, error) {
	if u == nil || u.Scheme != "https" || !strings.EqualFold(u.Host, s.host) {
		return "", fmt.Errorf("m365: refusing to send tenant %s's token to %v: only %s is trusted with it", s.tenantID, u, s.host)
	}
	res, err := s.app.AcquireTokenByCredential(ctx, s.scopes)
	if err != nil {
		return "", &tokenError{tenantID: s.tenantID, clientID: s.clientID, credName: s.credName, err: err}
	}
	return res.AccessToken, nil
}

// GetAllowedHostsValidator implements the SDK's AccessTokenProvider.
func (s *tokenSource) GetAllowedHostsValidator() *absauth.AllowedHostsValidator {
	v := absauth.NewAllowedHostsValidator([]string{s.host})
	return &v
}

// tokenError is a failure to obtain a token, kept apart from Graph's own
// errors because its fix is in the app registration, not in the request.
type tokenError struct {
	tenantID, clientID, credName string
	err                          error
}

func (e *tokenError) Error() string {
	return fmt.Sprintf("tenant %s, app %s: sign-in failed: %v", e.tenantID, e.clientID, e.err)
}

func (e *tokenError) Unwrap() error { return e.err }
