// Package testenv starts a whole Interloan for the programs that exercise one: the
// end-to-end and CLI tests, `interloan demo`, and the bench, load and campaign tools. An
// Env is the suite (internal/suite, every service in this process over loopback gRPC),
// the fake external systems it imports from, and the administrator's clients. Seeding
// goes through the public gRPC APIs only, as a real administrator configures Interloan,
// so whatever an Env finds working is what a deployment would.
//
// It is a regular package, not a _test.go helper, because the demo binary and the tools
// link it; so it never imports testing, and reports failures as errors.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/interloan/interloan/fakes/fakelibris"
	"github.com/interloan/interloan/fakes/fakenetpunkt"
	adminv1 "github.com/interloan/interloan/gen/interloan/admin/v1"
	"github.com/interloan/interloan/internal/suite"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/client"
	"github.com/interloan/interloan/platform/tlsconfig"
	console "github.com/interloan/interloan/services/console/app"
	harvester "github.com/interloan/interloan/services/harvester/app"
	profiles "github.com/interloan/interloan/services/profiles/app"
)

// Options configure Start. The zero value is a suite on free loopback ports, without
// TLS or fakes, in a temporary data directory.
type Options struct {
	// DataDir holds the services' data; "" is a temporary directory that Close removes.
	// An existing directory is used as it is: a second start sees the first's data.
	DataDir string
	// Host is the interface every listener binds to; "" is 127.0.0.1.
	Host string
	// BasePort, GatewayPort and ConsolePort are suite.Config's; 0 picks free ports.
	BasePort, GatewayPort, ConsolePort int
	// TLS serves every listener with TLS from a throw-away CA (suite.Config.TLS); the
	// Env's clients trust it.
	TLS bool
	// Logger, if set, receives every service's logs; otherwise they go to stderr as JSON
	// at LogLevel ("" is warn).
	Logger   *slog.Logger
	LogLevel string

	// Libris, when set, is served as the fake Libris on LibrisPort (0: a free one). The
	// caller makes it, so it chooses its options and injects its faults.
	Libris     *fakelibris.Server
	LibrisPort int
	// Netpunkt, when set, is served as the fake Netpunkt on NetpunktPort, and the
	// harvester listens for the receipts Netpunkt pushes on ReceiptPort (0: free ports).
	Netpunkt     *fakenetpunkt.Server
	NetpunktPort int
	ReceiptPort  int

	// HarvesterBounds are the harvester's bounds of a run; zero fields take the defaults.
	HarvesterBounds harvester.Bounds

	// RefusePrivateNetworks runs the harvester with the default outbound policy, which
	// refuses loopback and private addresses: the fakes, on loopback, cannot be reached.
	// Without it the harvester allows them (--allow-private-networks).
	RefusePrivateNetworks bool

	// OIDC and ConsoleOIDC are suite.Config's: an OpenID provider the services and the
	// console accept (see oidcprovider for one to run).
	OIDC        auth.OIDCConfig
	ConsoleOIDC console.OIDC
}

// Env is a running environment. Its Clients act as the suite's administrator.
type Env struct {
	Clients
	// Addrs are the suite's addresses and files; DataDir is its data directory.
	Addrs   suite.Addrs
	DataDir string
	// AdminToken is the administrator's bearer token, which the suite created in DataDir.
	AdminToken string
	// Libris and Netpunkt are the served fakes (nil unless asked for).
	Libris   *Libris
	Netpunkt *Netpunkt
	// ReceiptURL is the harvester's receipt listener, with Netpunkt ("" without).
	ReceiptURL string
	// HTTP calls the gateway and the receipt listener, trusting the suite's CA.
	HTTP *http.Client

	cleanup []func() error // run in reverse by Close
}

// Start starts the fakes asked for, then the suite, and dials it as the administrator.
// The suite runs until Close, whatever becomes of ctx, which bounds the start only.
func Start(ctx context.Context, o Options) (_ *Env, err error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	e := &Env{DataDir: o.DataDir}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.Close())
		}
	}()
	if e.DataDir == "" {
		dir, err := os.MkdirTemp("", "interloan-")
		if err != nil {
			return nil, err
		}
		e.DataDir = dir
		e.onClose(func() error { return os.RemoveAll(dir) })
	}
	if o.Libris != nil {
		if e.Libris, err = ServeLibris(o.Libris, o.Host, o.LibrisPort); err != nil {
			return nil, err
		}
		e.onClose(e.Libris.Close)
	}
	var receipts net.Listener
	if o.Netpunkt != nil {
		if e.Netpunkt, err = ServeNetpunkt(o.Netpunkt, o.Host, o.NetpunktPort); err != nil {
			return nil, err
		}
		e.onClose(e.Netpunkt.Close)
		if receipts, err = listen(o.Host, o.ReceiptPort); err != nil {
			return nil, fmt.Errorf("receipt listener: %w", err)
		}
		// The harvester closes it too; this covers a suite that never started.
		e.onClose(func() error { receipts.Close(); return nil })
	}

	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ready := make(chan suite.Addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- suite.Run(sctx, suite.Config{
			DataDir: e.DataDir, Host: o.Host, BasePort: o.BasePort, GatewayPort: o.GatewayPort, ConsolePort: o.ConsolePort, TLS: o.TLS,
			LogLevel: o.LogLevel, Logger: o.Logger, ReceiptListener: receipts, HarvesterBounds: o.HarvesterBounds, AllowPrivateNetworks: !o.RefusePrivateNetworks,
			OIDC: o.OIDC, ConsoleOIDC: o.ConsoleOIDC,
			Ready: func(a suite.Addrs) { ready <- a },
		})
	}()
	select {
	case e.Addrs = <-ready:
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("suite: %w", err)
	case <-ctx.Done():
		cancel()
		return nil, errors.Join(ctx.Err(), <-done)
	}
	e.onClose(func() error {
		cancel()
		if err := <-done; err != nil {
			return fmt.Errorf("suite: %w", err)
		}
		return nil
	})
	if receipts != nil {
		e.ReceiptURL = e.scheme() + "://" + receipts.Addr().String()
	}
	if e.HTTP, err = httpClient(e.Addrs.CAFile); err != nil {
		return nil, err
	}
	if e.AdminToken, err = readToken(e.Addrs.AdminTokenFile); err != nil {
		return nil, err
	}
	if e.Clients, err = DialClients(e.Addrs, e.AdminToken); err != nil {
		return nil, err
	}
	e.onClose(e.Clients.Close)
	return e, nil
}

// Dial connects to addr as the holder of token (none if ""), over TLS verified by the
// suite's CA when it has one: for callers other than the administrator, and for services
// started beside the suite.
func (e *Env) Dial(addr, token string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	// Without the suite's TLS the token goes over loopback in plain text.
	return client.Dial(addr, tlsconfig.Config{CAFile: e.Addrs.CAFile}, token, opts...)
}

// GatewayURL is the REST gateway's base URL: https when the suite serves TLS.
func (e *Env) GatewayURL() string { return e.scheme() + "://" + e.Addrs.Gateway }

// ConsoleURL is the staff console's base URL for a browser (suite.Addrs.ConsoleURL).
func (e *Env) ConsoleURL() string { return e.Addrs.ConsoleURL() }

func (e *Env) scheme() string {
	if e.Addrs.CAFile != "" {
		return "https"
	}
	return "http"
}

// Close closes the clients, stops the suite and waits for it, stops the fakes and removes
// a temporary data directory. It returns the suite's failure, if it had one; closing
// again does nothing.
func (e *Env) Close() error {
	var errs []error
	for i := len(e.cleanup) - 1; i >= 0; i-- {
		errs = append(errs, e.cleanup[i]())
	}
	e.cleanup = nil
	return errors.Join(errs...)
}

func (e *Env) onClose(f func() error) { e.cleanup = append(e.cleanup, f) }

// httpClient is an HTTP client that trusts caFile's CA, or the system's roots when caFile
// is "".
func httpClient(caFile string) (*http.Client, error) {
	set, err := tlsconfig.Load(tlsconfig.Config{CAFile: caFile})
	if err != nil {
		return nil, err
	}
	c := &http.Client{Timeout: 30 * time.Second}
	if tc := set.Client(); tc != nil {
		c.Transport = &http.Transport{TLSClientConfig: tc}
	}
	return c, nil
}

// readToken reads a token file the suite wrote.
func readToken(path string) (string, error) {
	if path == "" {
		return "", errors.New("the data directory has no admin token (admin.token); create one with `interloan token create --role admin`")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func listen(host string, port int) (net.Listener, error) {
	return net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
}

// Secrets are what services started as separate processes share, made as the suite makes
// them in its data directory: a tokens file holding an administrator's token and the
// harvester's, and the profiles service's credential encryption key.
type Secrets struct {
	TokensFile string
	// AdminToken is the administrator's token; HarvesterTokenFile holds the harvester's.
	AdminToken         string
	HarvesterTokenFile string
	KeyFile            string
}

// NewSecrets creates a set of secrets in dir.
func NewSecrets(dir string) (Secrets, error) {
	s := Secrets{TokensFile: filepath.Join(dir, suite.TokensFileName), HarvesterTokenFile: filepath.Join(dir, suite.HarvesterTokenName)}
	var err error
	if s.AdminToken, err = suite.CreateToken(s.TokensFile, "", "admin", auth.RoleAdmin); err != nil {
		return Secrets{}, err
	}
	if _, err := suite.CreateToken(s.TokensFile, s.HarvesterTokenFile, "harvester", auth.RoleHarvester); err != nil {
		return Secrets{}, err
	}
	if s.KeyFile, err = profiles.EnsureDevKey(dir); err != nil {
		return Secrets{}, err
	}
	return s, nil
}

// NewToken creates a bearer token for principal with roles in the suite's tokens file
// and waits until every service accepts it (AwaitToken).
func (e *Env) NewToken(ctx context.Context, principal string, roles ...auth.Role) (string, error) {
	tok, err := suite.CreateToken(e.Addrs.TokensFile, "", principal, roles...)
	if err != nil {
		return "", err
	}
	if err := e.AwaitToken(ctx, tok); err != nil {
		return "", fmt.Errorf("new token for %s: %w", principal, err)
	}
	return tok, nil
}

// AwaitToken waits until every service accepts tok: each re-reads the tokens file every
// few seconds, so a token just added is refused for a moment. It asks each who the caller
// is, the one call any valid token may make.
func (e *Env) AwaitToken(ctx context.Context, tok string) error {
	for _, addr := range []string{e.Addrs.Profiles, e.Addrs.Mapping, e.Addrs.Harvester, e.Addrs.Requests} {
		conn, err := e.Dial(addr, tok)
		if err != nil {
			return err
		}
		id := adminv1.NewIdentityServiceClient(conn)
		for {
			_, err = id.GetCaller(ctx, &adminv1.GetCallerRequest{})
			if status.Code(err) != codes.Unauthenticated || ctx.Err() != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		conn.Close()
		if err != nil {
			return fmt.Errorf("the service at %s: %w", addr, err)
		}
	}
	return nil
}
