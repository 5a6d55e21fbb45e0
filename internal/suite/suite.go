// Package suite runs every Interloan service in one process (`interloan up`). The
// services still talk to each other over loopback gRPC, never by direct calls, so the
// all-in-one behaves like the Kubernetes deployment.
package suite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/pki"
	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/platform/tlsconfig"
	console "github.com/interloan/interloan/services/console/app"
	gateway "github.com/interloan/interloan/services/gateway/app"
	harvester "github.com/interloan/interloan/services/harvester/app"
	mapping "github.com/interloan/interloan/services/mapping/app"
	profiles "github.com/interloan/interloan/services/profiles/app"
	requests "github.com/interloan/interloan/services/requests/app"
)

// Config configures the all-in-one.
type Config struct {
	// DataDir holds every service's bbolt file (one file each) and the dev encryption key.
	DataDir string
	// Host is the interface every listener binds to.
	Host string
	// BasePort is the first of the gRPC ports: profiles BasePort+1, mapping +2,
	// harvester +3, requests +4, each HTTP port +100 (9100 gives gRPC 9101..9104 and HTTP
	// 9201..9204, the services' own defaults). 0 picks free ports (tests).
	BasePort int
	// GatewayPort is the REST port (0 picks a free one).
	GatewayPort int
	// ConsolePort is the staff console's port (0 picks a free one).
	ConsolePort int
	// SecretKeyFile or SecretKey is the credential encryption key; with neither, a
	// development key is created in DataDir.
	SecretKeyFile string
	SecretKey     string
	// TokensFile is the bearer-token file every service loads and watches; "" means
	// DataDir/tokens, created on first start with an admin token in DataDir/admin.token.
	TokensFile string
	// ServiceTokenFile holds the harvester's token; "" means DataDir/harvester.token,
	// created (and its hash added to TokensFile) when missing — or, with TLS, no token:
	// the harvester's client certificate (OU=harvester) authenticates it.
	ServiceTokenFile string
	// TLS serves every listener with TLS, the services calling each other with client
	// certificates (mTLS; the harvester is authenticated by its own), from a throw-away CA
	// and certificates created in DataDir/tls on every start (platform/pki). Client
	// certificates are verified when given but not required, so people and scripts can
	// still call a service with the CA and a token alone. Addrs.CAFile is the CA to trust.
	TLS bool
	// LogLevel for every service.
	LogLevel string
	// Logger, if set, replaces the default JSON logger on stderr.
	Logger *slog.Logger
	// Ready is called once every listener is up.
	Ready func(Addrs)
	// ReceiptListener, if set, is where the harvester serves Netpunkt's pushed receipts
	// (harvester --receipt-addr), with TLS when TLS is on.
	ReceiptListener net.Listener
	// HarvesterBounds are the harvester's bounds of a run (harvester --run-max-items, …);
	// zero fields take the defaults.
	HarvesterBounds harvester.Bounds
	// AllowedHosts and AllowPrivateNetworks are the harvester's outbound policy
	// (harvester --allowed-hosts, --allow-private-networks).
	AllowedHosts         string
	AllowPrivateNetworks bool
	// CORSAllowedOrigins is the gateway's --cors-allowed-origins (empty: no CORS).
	CORSAllowedOrigins string
	// OIDC is every service's OpenID provider (--oidc-issuer, --oidc-audience, …; empty:
	// tokens only). ConsoleOIDC, with a client id, signs staff in to the console through
	// it (its issuer and role mapping are OIDC's; RedirectURL defaults to the console's
	// own callback).
	OIDC        auth.OIDCConfig
	ConsoleOIDC console.OIDC
}

// Addrs are the bound addresses of a running suite.
type Addrs struct {
	Profiles, Mapping, Harvester, Requests string // gRPC
	Gateway                                string // HTTP
	// Console is the staff console's address (HTTP, or HTTPS when TLS is on).
	Console string
	// TokensFile is the tokens file the services use; AdminTokenFile holds the admin
	// token created with it ("" if the data directory has none).
	TokensFile, AdminTokenFile string
	// CAFile is the CA certificate that verifies the listeners when TLS is on ("" without).
	CAFile string
	// HTTP maps each gRPC service's name to its HTTP address (/healthz, /readyz, /metrics).
	HTTP map[string]string
}

// ConsoleURL is the staff console's address for a browser: https when the suite serves
// TLS, and "localhost" for a loopback listener, which browsers treat as a secure origin,
// so the console's Secure cookies also work there without TLS.
func (a Addrs) ConsoleURL() string {
	scheme := "http"
	if a.CAFile != "" {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(a.Console)
	if err != nil {
		return scheme + "://" + a.Console
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// BrowserNote says what a browser needs to know about the console's certificate: with
// TLS it comes from the suite's throw-away CA, which no browser trusts by itself.
func (a Addrs) BrowserNote() string {
	if a.CAFile == "" {
		return ""
	}
	return "Its certificate is from the throw-away CA " + a.CAFile + ", which your browser does not know: accept it once, or start with --tls=false."
}

// TLSDirName is the directory of DataDir holding the throw-away CA and certificates.
const TLSDirName = "tls"

// certificates creates the suite's throw-away CA and one certificate per service, for
// the names clients use to reach the listeners, and returns each service's TLS
// configuration: its own certificate, the CA for the services it calls, and — on the
// gRPC services — client certificates verified against the same CA.
func certificates(cfg Config) (map[string]tlsconfig.Config, string, error) {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if cfg.Host != "" && !unspecified(cfg.Host) {
		hosts = append(hosts, cfg.Host)
	}
	if name, err := os.Hostname(); err == nil {
		hosts = append(hosts, name)
	}
	files, err := pki.WriteSuite(filepath.Join(cfg.DataDir, TLSDirName), pki.SuiteIdentities(), hosts, 90*24*time.Hour)
	if err != nil {
		return nil, "", err
	}
	out := map[string]tlsconfig.Config{}
	for name := range files.Cert {
		c := tlsconfig.Config{CertFile: files.Cert[name], KeyFile: files.Key[name], CAFile: files.CA}
		if name != "gateway" && name != "console" {
			c.ClientCAFile = files.CA
		}
		out[name] = c
	}
	return out, files.CA, nil
}

func unspecified(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

type service struct {
	name string
	port int // offset from BasePort
	run  func(context.Context, server.Common) error
}

// Run starts every service and blocks until ctx ends or one of them fails; then it stops
// them all and returns the first failure.
func Run(ctx context.Context, cfg Config) error {
	// Each service logs under its own name, like it does as its own binary.
	logFor := func(name string) *slog.Logger {
		if cfg.Logger != nil {
			return cfg.Logger.With("service", name)
		}
		return logging.New(nil, name, cfg.LogLevel)
	}
	log := logFor("interloan")
	keyFile := cfg.SecretKeyFile
	if keyFile == "" && cfg.SecretKey == "" {
		var err error
		if keyFile, err = profiles.EnsureDevKey(cfg.DataDir); err != nil {
			return fmt.Errorf("dev encryption key: %w", err)
		}
	}
	adminFile, err := ensureTokens(&cfg)
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	var addrs Addrs // set once every listener is bound, before any service starts
	services := []service{
		{"profiles", 1, func(ctx context.Context, c server.Common) error {
			return profiles.Run(ctx, profiles.Config{Common: c, SecretKeyFile: keyFile, SecretKey: cfg.SecretKey})
		}},
		{"mapping", 2, func(ctx context.Context, c server.Common) error { return mapping.Run(ctx, mapping.Config{Common: c}) }},
		{"harvester", 3, func(ctx context.Context, c server.Common) error {
			return harvester.Run(ctx, harvester.Config{Common: c, ProfilesAddr: addrs.Profiles, MappingAddr: addrs.Mapping, RequestsAddr: addrs.Requests,
				ServiceTokenFile: cfg.ServiceTokenFile, ReceiptListener: cfg.ReceiptListener, Bounds: cfg.HarvesterBounds,
				AllowedHosts: cfg.AllowedHosts, AllowPrivateNetworks: cfg.AllowPrivateNetworks})
		}},
		{"requests", 4, func(ctx context.Context, c server.Common) error { return requests.Run(ctx, requests.Config{Common: c}) }},
	}

	// Listen first, so every address is known before any service starts dialling others.
	grpcLis := make([]net.Listener, len(services))
	httpLis := make([]net.Listener, len(services))
	closeAll := func() {
		for _, l := range append(grpcLis, httpLis...) {
			if l != nil {
				l.Close()
			}
		}
	}
	for i, s := range services {
		var err error
		if grpcLis[i], err = listen(cfg.Host, cfg.BasePort, s.port); err != nil {
			closeAll()
			return err
		}
		if httpLis[i], err = listen(cfg.Host, cfg.BasePort, s.port+100); err != nil {
			closeAll()
			return err
		}
	}
	gwLis, err := listen(cfg.Host, cfg.GatewayPort, 0)
	if err != nil {
		closeAll()
		return err
	}
	consoleLis, err := listen(cfg.Host, cfg.ConsolePort, 0)
	if err != nil {
		closeAll()
		gwLis.Close()
		return err
	}
	// Certificates only once every port is ours: a second start on a running suite's
	// data directory fails above instead of replacing the certificates it serves (its CA
	// pools are read once, so a new CA would break its calls until a restart).
	var tlsFor map[string]tlsconfig.Config // by service name; nil without TLS
	var caFile string
	if cfg.TLS {
		if tlsFor, caFile, err = certificates(cfg); err != nil {
			closeAll()
			gwLis.Close()
			consoleLis.Close()
			return fmt.Errorf("certificates: %w", err)
		}
	}
	addrs = Addrs{
		Profiles: dialAddr(grpcLis[0]), Mapping: dialAddr(grpcLis[1]),
		Harvester: dialAddr(grpcLis[2]), Requests: dialAddr(grpcLis[3]),
		Gateway: dialAddr(gwLis), Console: dialAddr(consoleLis),
		TokensFile: cfg.TokensFile, AdminTokenFile: adminFile, CAFile: caFile,
		HTTP: map[string]string{},
	}
	for i, s := range services {
		addrs.HTTP[s.name] = dialAddr(httpLis[i])
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	ready := make(chan struct{}, len(services)+2)
	start := func(name string, run func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				log.Error("service failed; stopping the suite", "service", name, "error", err)
				cancel()
			}
		}()
	}
	for i, s := range services {
		c := server.Common{
			DataDir: cfg.DataDir, LogLevel: cfg.LogLevel, Logger: logFor(s.name), TokensFile: cfg.TokensFile, TLS: tlsFor[s.name], OIDC: cfg.OIDC,
			GRPCListener: grpcLis[i], HTTPListener: httpLis[i],
			Ready: func(net.Addr, net.Addr) { ready <- struct{}{} },
		}
		start(s.name, func() error { return s.run(ctx, c) })
	}
	start("gateway", func() error {
		return gateway.Run(ctx, gateway.Config{
			ProfilesAddr: addrs.Profiles, MappingAddr: addrs.Mapping, HarvesterAddr: addrs.Harvester, RequestsAddr: addrs.Requests,
			Logger: logFor("gateway"), HTTPListener: gwLis, TLS: tlsFor["gateway"],
			CORSAllowedOrigins: cfg.CORSAllowedOrigins,
			Ready:              func(net.Addr) { ready <- struct{}{} },
		})
	})
	consoleOIDC := cfg.ConsoleOIDC
	if consoleOIDC.ClientID != "" {
		consoleOIDC.OIDCConfig = cfg.OIDC
		if consoleOIDC.RedirectURL == "" {
			consoleOIDC.RedirectURL = addrs.ConsoleURL() + "/signin/oidc/callback"
		}
	}
	start("console", func() error {
		return console.Run(ctx, console.Config{
			ProfilesAddr: addrs.Profiles, MappingAddr: addrs.Mapping, HarvesterAddr: addrs.Harvester, RequestsAddr: addrs.Requests,
			Logger: logFor("console"), HTTPListener: consoleLis, TLS: tlsFor["console"], OIDC: consoleOIDC,
			Ready: func(net.Addr) { ready <- struct{}{} },
		})
	})

	go func() {
		for range len(services) + 2 {
			select {
			case <-ready:
			case <-ctx.Done():
				return
			}
		}
		log.Info("suite ready", "profiles", addrs.Profiles, "mapping", addrs.Mapping, "harvester", addrs.Harvester, "requests", addrs.Requests, "gateway", addrs.Gateway, "console", addrs.Console)
		if cfg.Ready != nil {
			cfg.Ready(addrs)
		}
	}()
	wg.Wait()
	closeAll() // a service that failed before serving never took ownership of its listeners
	gwLis.Close()
	consoleLis.Close()
	return errors.Join(errs...)
}

// dialAddr is the address to reach l at: a listener on every interface is reached on
// loopback, a name its certificate holds.
func dialAddr(l net.Listener) string {
	a, ok := l.Addr().(*net.TCPAddr)
	if ok && a.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", fmt.Sprint(a.Port))
	}
	return l.Addr().String()
}

func listen(host string, base, offset int) (net.Listener, error) {
	port := 0
	if base != 0 {
		port = base + offset
	}
	addr := net.JoinHostPort(host, fmt.Sprint(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return l, nil
}
