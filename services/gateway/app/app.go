// Package app runs the REST gateway: every RPC of ProfileService, MappingService,
// HarvesterService and RequestService that has an HTTP binding is served under /v1/...
// through grpc-gateway, forwarded over real gRPC client connections to the upstream
// services (the internal ProfileCredentialsService and IngestService have no binding and
// are never reachable here). Beside the API it serves the generated OpenAPI document at
// /openapi.json, its rendered reference at /docs, /healthz (the process is up) and
// /readyz (every upstream answers SERVING on grpc.health.v1).
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/interloan/interloan/platform/client"
	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// Config configures the gateway.
type Config struct {
	HTTPAddr      string
	MetricsAddr   string // /metrics, apart from the public REST port; empty disables
	ProfilesAddr  string
	MappingAddr   string
	HarvesterAddr string
	RequestsAddr  string
	// CORSAllowedOrigins is a comma-separated list of exact origins; empty: no CORS.
	CORSAllowedOrigins string
	LogLevel           string
	ShutdownGrace      time.Duration
	// TLS secures the REST listener (with its certificate) and the upstream connections
	// (verified against its CA, presenting the certificate for mTLS).
	TLS tlsconfig.Config

	// Set by embedding programs, not flags.
	Logger          *slog.Logger
	HTTPListener    net.Listener
	MetricsListener net.Listener // used instead of MetricsAddr when set
	Ready           func(httpAddr net.Addr)
}

// Bind registers the flags.
func (c *Config) Bind(s *config.Set) {
	s.String(&c.HTTPAddr, "http-addr", "INTERLOAN_HTTP_ADDR", "127.0.0.1:8080", "REST listen address")
	s.String(&c.MetricsAddr, "metrics-addr", "INTERLOAN_METRICS_ADDR", "127.0.0.1:8180", "Prometheus /metrics listen address, kept off the public REST port (empty disables)")
	s.String(&c.ProfilesAddr, "profiles-addr", "INTERLOAN_PROFILES_ADDR", "localhost:9101", "profiles gRPC address")
	s.String(&c.MappingAddr, "mapping-addr", "INTERLOAN_MAPPING_ADDR", "localhost:9102", "mapping gRPC address")
	s.String(&c.HarvesterAddr, "harvester-addr", "INTERLOAN_HARVESTER_ADDR", "localhost:9103", "harvester gRPC address")
	s.String(&c.RequestsAddr, "requests-addr", "INTERLOAN_REQUESTS_ADDR", "localhost:9104", "requests gRPC address")
	s.String(&c.CORSAllowedOrigins, "cors-allowed-origins", "INTERLOAN_CORS_ALLOWED_ORIGINS", "", "comma-separated origins (scheme://host[:port]) browsers may call the REST API from; empty: no CORS")
	s.String(&c.LogLevel, "log-level", "INTERLOAN_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	s.Duration(&c.ShutdownGrace, "shutdown-grace", "INTERLOAN_SHUTDOWN_GRACE", 10*time.Second, "graceful shutdown bound")
	c.TLS.BindHTTP(s)
}

// Upstreams are the gRPC connections to the four services the gateway exposes. One set
// serves both the REST routes and the readiness checks.
type Upstreams = client.Upstreams

// Dial creates the client connections to the upstream addresses in cfg, with the
// transport security of tlsSet; /readyz reports an upstream that is down.
func Dial(cfg Config, tlsSet *tlsconfig.Set) (Upstreams, error) {
	up, err := client.DialUpstreams(client.Addresses{Profiles: cfg.ProfilesAddr, Mapping: cfg.MappingAddr,
		Harvester: cfg.HarvesterAddr, Requests: cfg.RequestsAddr}, tlsSet)
	if err != nil {
		return Upstreams{}, fmt.Errorf("gateway: %w", err)
	}
	return up, nil
}

// Run serves until ctx ends, then shuts down gracefully: in-flight requests get
// ShutdownGrace to finish, after which the remaining connections (typically watch
// streams, which never finish by themselves) are closed.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = logging.New(nil, "gateway", cfg.LogLevel)
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 10 * time.Second
	}
	tlsSet, err := tlsconfig.Load(cfg.TLS)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	up, err := Dial(cfg, tlsSet)
	if err != nil {
		return err
	}
	defer up.Close()
	handler, err := NewHandler(up, Options{Logger: log, CORSAllowedOrigins: SplitOrigins(cfg.CORSAllowedOrigins)})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}

	return server.RunEdge(ctx, server.Edge{
		Name:    "gateway",
		Handler: handler,
		Addr:    cfg.HTTPAddr, Listener: cfg.HTTPListener, MetricsAddr: cfg.MetricsAddr, MetricsListener: cfg.MetricsListener,
		TLS: tlsSet,
		// No ReadTimeout: it would cut watch streams. The body has its own read deadline
		// (Options.BodyReadTimeout).
		ShutdownGrace: cfg.ShutdownGrace, Logger: log, Ready: cfg.Ready,
	})
}
