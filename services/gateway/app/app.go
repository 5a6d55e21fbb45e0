// Package app runs the REST gateway. In this release it serves only /healthz and /readyz
// (ready when every upstream service answers SERVING on grpc.health.v1); the REST routes
// for all services arrive with the import-path issue.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/logging"
)

// Config configures the gateway.
type Config struct {
	HTTPAddr      string
	ProfilesAddr  string
	MappingAddr   string
	HarvesterAddr string
	RequestsAddr  string
	LogLevel      string
	ShutdownGrace time.Duration

	// Set by embedding programs, not flags.
	Logger       *slog.Logger
	HTTPListener net.Listener
	Ready        func(httpAddr net.Addr)
}

// Bind registers the flags.
func (c *Config) Bind(s *config.Set) {
	s.String(&c.HTTPAddr, "http-addr", "INTERLOAN_HTTP_ADDR", "127.0.0.1:8080", "REST listen address")
	s.String(&c.ProfilesAddr, "profiles-addr", "INTERLOAN_PROFILES_ADDR", "localhost:9101", "profiles gRPC address")
	s.String(&c.MappingAddr, "mapping-addr", "INTERLOAN_MAPPING_ADDR", "localhost:9102", "mapping gRPC address")
	s.String(&c.HarvesterAddr, "harvester-addr", "INTERLOAN_HARVESTER_ADDR", "localhost:9103", "harvester gRPC address")
	s.String(&c.RequestsAddr, "requests-addr", "INTERLOAN_REQUESTS_ADDR", "localhost:9104", "requests gRPC address")
	s.String(&c.LogLevel, "log-level", "INTERLOAN_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	s.Duration(&c.ShutdownGrace, "shutdown-grace", "INTERLOAN_SHUTDOWN_GRACE", 10*time.Second, "graceful shutdown bound")
}

// Run serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = logging.New(nil, "gateway", cfg.LogLevel)
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 10 * time.Second
	}
	upstreams := map[string]string{"profiles": cfg.ProfilesAddr, "mapping": cfg.MappingAddr, "harvester": cfg.HarvesterAddr, "requests": cfg.RequestsAddr}
	checks := map[string]healthpb.HealthClient{}
	for name, addr := range upstreams {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
		if err != nil {
			return fmt.Errorf("gateway: %s upstream %q: %w", name, addr, err)
		}
		defer conn.Close()
		checks[name] = healthpb.NewHealthClient(conn)
	}

	lis := cfg.HTTPListener
	if lis == nil {
		l, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("gateway: listen %s: %w", cfg.HTTPAddr, err)
		}
		lis = l
	}
	srv := &http.Server{Handler: healthMux(checks), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	log.Info("serving", "http_addr", lis.Addr().String())
	if cfg.Ready != nil {
		cfg.Ready(lis.Addr())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("gateway: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("gateway: shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// healthMux serves /healthz (the gateway process is up) and /readyz (every upstream
// answers SERVING), naming the upstreams that are not ready.
func healthMux(checks map[string]healthpb.HealthClient) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var down []string
		for name, hc := range checks {
			resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
			if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
				down = append(down, name)
			}
		}
		if len(down) > 0 {
			slices.Sort(down)
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", down)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}
