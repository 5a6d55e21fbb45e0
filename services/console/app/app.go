// Package app runs the staff console: the library staff's web pages for profiles,
// mapping, import jobs, reports and the request queue. It calls the four services over
// gRPC with each signed-in person's own credential (see internal/web), so the console
// holds no power of its own: what a person may do is what their token may do.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/interloan/interloan/platform/client"
	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/platform/tlsconfig"
	"github.com/interloan/interloan/services/console/internal/session"
	"github.com/interloan/interloan/services/console/internal/web"
)

// Config configures the console.
type Config struct {
	HTTPAddr      string
	MetricsAddr   string // /metrics, apart from the console's port; empty disables
	ProfilesAddr  string
	MappingAddr   string
	HarvesterAddr string
	RequestsAddr  string
	LogLevel      string
	ShutdownGrace time.Duration
	// SessionIdle and SessionMax end a session unused for SessionIdle, or SessionMax
	// after sign-in.
	SessionIdle, SessionMax time.Duration
	// TLS secures the console's listener (with its certificate) and the upstream
	// connections (verified against its CA, presenting the certificate for mTLS).
	TLS tlsconfig.Config
	// OIDC adds "Sign in with <provider>" beside the token form (off without an issuer).
	OIDC OIDC

	// Set by embedding programs, not flags.
	Logger          *slog.Logger
	HTTPListener    net.Listener
	MetricsListener net.Listener // used instead of MetricsAddr when set
	Ready           func(httpAddr net.Addr)
}

// OIDC configures sign-in through an OpenID provider: its issuer, the console's client
// registration and the services' claim-to-role mapping.
type OIDC = web.OIDC

// Bind registers the flags.
func (c *Config) Bind(s *config.Set) {
	s.String(&c.HTTPAddr, "http-addr", "INTERLOAN_HTTP_ADDR", "127.0.0.1:8081", "console listen address (HTTPS with --tls-cert; browsers keep its cookie only over HTTPS or on localhost)")
	s.String(&c.MetricsAddr, "metrics-addr", "INTERLOAN_METRICS_ADDR", "127.0.0.1:8181", "Prometheus /metrics listen address, kept off the console's port (empty disables)")
	s.String(&c.ProfilesAddr, "profiles-addr", "INTERLOAN_PROFILES_ADDR", "localhost:9101", "profiles gRPC address")
	s.String(&c.MappingAddr, "mapping-addr", "INTERLOAN_MAPPING_ADDR", "localhost:9102", "mapping gRPC address")
	s.String(&c.HarvesterAddr, "harvester-addr", "INTERLOAN_HARVESTER_ADDR", "localhost:9103", "harvester gRPC address")
	s.String(&c.RequestsAddr, "requests-addr", "INTERLOAN_REQUESTS_ADDR", "localhost:9104", "requests gRPC address")
	s.String(&c.LogLevel, "log-level", "INTERLOAN_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	s.Duration(&c.ShutdownGrace, "shutdown-grace", "INTERLOAN_SHUTDOWN_GRACE", 10*time.Second, "graceful shutdown bound")
	s.Duration(&c.SessionIdle, "session-idle", "INTERLOAN_SESSION_IDLE", session.DefaultLimits.Idle, "sign a person out after this long without a request")
	s.Duration(&c.SessionMax, "session-max", "INTERLOAN_SESSION_MAX", session.DefaultLimits.Absolute, "sign a person out this long after sign-in, however busy")
	c.TLS.BindHTTP(s)
	c.OIDC.Bind(s)
}

// Run serves until ctx ends, then shuts down gracefully within ShutdownGrace (live
// progress streams, which never end by themselves, are closed after it).
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = logging.New(nil, "console", cfg.LogLevel)
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 10 * time.Second
	}
	tlsSet, err := tlsconfig.Load(cfg.TLS)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	up, err := client.DialUpstreams(client.Addresses{Profiles: cfg.ProfilesAddr, Mapping: cfg.MappingAddr,
		Harvester: cfg.HarvesterAddr, Requests: cfg.RequestsAddr}, tlsSet)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	defer up.Close()
	sessions := session.NewStore(session.Limits{Idle: cfg.SessionIdle, Absolute: cfg.SessionMax, Max: session.DefaultLimits.Max}, nil)
	handler, err := web.NewHandler(web.Options{Upstreams: up, Sessions: sessions, Logger: log, OIDC: cfg.OIDC})
	if err != nil {
		return err
	}
	return server.RunEdge(ctx, server.Edge{
		Name: "console",
		// Spans are named by route pattern, never by the raw path (which holds codes).
		Handler: otelhttp.NewHandler(handler, "console", otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "console " + r.Pattern })),
		Addr:    cfg.HTTPAddr, Listener: cfg.HTTPListener, MetricsAddr: cfg.MetricsAddr, MetricsListener: cfg.MetricsListener,
		TLS:           tlsSet,
		ReadTimeout:   30 * time.Second,
		ShutdownGrace: cfg.ShutdownGrace, Logger: log, Ready: cfg.Ready,
	})
}
