package server

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// Common is the configuration every service shares. Services embed it in their Config.
type Common struct {
	GRPCAddr      string        // gRPC listen address
	HTTPAddr      string        // health and metrics HTTP address; empty disables
	DataDir       string        // directory of the service's bbolt file
	LogLevel      string        // debug, info, warn, error
	ShutdownGrace time.Duration // GracefulStop bound before a hard stop
	TokensFile    string        // bearer-token file (auth.Load); required, watched for changes
	TLS           tlsconfig.Config
	// OIDC, with an issuer, also accepts that OpenID provider's JWT access tokens.
	OIDC auth.OIDCConfig

	// Set by embedding programs (the all-in-one, tests), not by flags.
	Logger       *slog.Logger
	GRPCListener net.Listener
	HTTPListener net.Listener
	Ready        func(grpcAddr, httpAddr net.Addr)
}

// Bind registers the common flags with their env fallbacks. The HTTP port defaults to
// the gRPC port + 100 (9101 → 9201; docs/architecture.md#ports). Every call but health
// needs a bearer token from the tokens file (or, with mTLS, a client certificate naming
// roles). Listeners default to loopback: exposing a service (--grpc-addr=:9101 in
// Kubernetes) without --tls-cert sends tokens in clear text.
func (c *Common) Bind(s *config.Set, grpcPort int, dataDir string) {
	s.String(&c.GRPCAddr, "grpc-addr", "INTERLOAN_GRPC_ADDR", fmt.Sprintf("127.0.0.1:%d", grpcPort), "gRPC listen address")
	s.String(&c.HTTPAddr, "http-addr", "INTERLOAN_HTTP_ADDR", fmt.Sprintf("127.0.0.1:%d", grpcPort+100), "HTTP listen address for /healthz, /readyz and /metrics (empty disables)")
	s.String(&c.DataDir, "data-dir", "INTERLOAN_DATA_DIR", dataDir, "directory for the service's bbolt file")
	s.String(&c.LogLevel, "log-level", "INTERLOAN_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	s.Duration(&c.ShutdownGrace, "shutdown-grace", "INTERLOAN_SHUTDOWN_GRACE", 10*time.Second, "graceful shutdown bound")
	c.TLS.Bind(s)
	s.String(&c.TokensFile, "tokens-file", "INTERLOAN_TOKENS_FILE", "", "bearer-token file, one `<sha256-hex> <principal> <roles>` line per token (required; reloaded on change; see `interloan token create`)")
	c.OIDC.Bind(s)
	c.OIDC.BindAudience(s)
}

// Options turns the common configuration into server Options for service name. Calls
// are authorised by auth.DefaultPolicy with the tokens of TokensFile, which Run loads:
// Common has no way to turn authentication off.
func (c *Common) Options(name string, services []string) Options {
	log := c.Logger
	if log == nil {
		log = logging.New(nil, name, c.LogLevel)
	}
	return Options{
		Name: name, GRPCAddr: c.GRPCAddr, HTTPAddr: c.HTTPAddr,
		GRPCListener: c.GRPCListener, HTTPListener: c.HTTPListener,
		Services: services, ShutdownGrace: c.ShutdownGrace, Logger: log, Ready: c.Ready,
		TokensFile: c.TokensFile, OIDC: c.OIDC, Policy: auth.DefaultPolicy(), TLS: c.TLS, SpoolDir: c.DataDir,
	}
}
