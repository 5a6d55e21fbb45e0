// Package server is the one way an Interloan service serves: a gRPC server with
// reflection, grpc.health.v1, OpenTelemetry stats handler, panic recovery, error mapping,
// access logging, bearer-token or client-certificate authentication on each call's
// headers with role checks (platform/auth), capped connections and calls (Limits) and
// optional TLS/mTLS (platform/tlsconfig), plus an HTTP port with /healthz, /readyz and
// /metrics (Prometheus); both stop gracefully when the context ends.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	adminv1 "github.com/interloan/interloan/gen/interloan/admin/v1"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/backup"
	"github.com/interloan/interloan/platform/httpserve"
	"github.com/interloan/interloan/platform/rpc"
	"github.com/interloan/interloan/platform/telemetry"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// Options configure Run.
type Options struct {
	// Name of the service, for logs.
	Name string
	// GRPCAddr is the gRPC listen address (ignored when GRPCListener is set).
	GRPCAddr string
	// HTTPAddr is the HTTP listen address for /healthz and /readyz; empty disables it
	// (ignored when HTTPListener is set).
	HTTPAddr string
	// GRPCListener and HTTPListener, when set, are used instead of listening on the
	// addresses (tests and the all-in-one use them to learn the bound ports).
	GRPCListener net.Listener
	HTTPListener net.Listener
	// Services are the fully qualified gRPC service names reported SERVING by health.
	Services []string
	// Register adds the service implementations.
	Register func(*grpc.Server)
	// ShutdownGrace bounds GracefulStop before a hard Stop (default 10s).
	ShutdownGrace time.Duration
	// Logger receives structured logs (required).
	Logger *slog.Logger
	// Ready, if set, is called once both listeners accept connections.
	Ready func(grpcAddr, httpAddr net.Addr)
	// TokensFile is the bearer-token file Run loads (a missing or invalid file stops the
	// start) and re-reads every TokensReload while serving. Required unless
	// Authenticator is set.
	TokensFile string
	// Authenticator, if set, is used instead of TokensFile (tests and embedding programs
	// that hold their tokens in memory). There is no way to serve without one.
	Authenticator auth.Authenticator
	// OIDC, with an issuer, also accepts that OpenID provider's access tokens, after the
	// tokens (auth.Chain). The provider is contacted on the first such token, not at start.
	OIDC auth.OIDCConfig
	// Policy says which roles may call which method (nil: auth.DefaultPolicy()).
	Policy auth.Policy
	// Snapshot, when set, serves BackupService over the service's data file
	// (boltdb.Backup), admin only, spooled through a temporary file in SpoolDir.
	Snapshot backup.Snapshot
	SpoolDir string
	// TLS, when it names a certificate, makes both listeners serve TLS only, the gRPC
	// one verifying client certificates as configured (mTLS).
	TLS tlsconfig.Config
	// Limits caps connections, calls in flight and idle connections on the gRPC port
	// (zero fields: DefaultLimits).
	Limits Limits
}

// TokensReload is how often a running server looks for a changed tokens file, so a token
// created by `interloan token create` works within seconds, without a restart.
const TokensReload = 2 * time.Second

// New builds the gRPC server with the shared interceptors, health and reflection, under
// DefaultLimits. Tests use it directly with bufconn (servertest); Run uses it for real
// listeners. Every call is checked against policy with authn; a nil authn refuses every
// non-public call. A call without a valid credential is refused on its headers
// (auth.TapHandle), before its request is read, and is logged by auth only; the auth
// interceptors then authorise the caller after the rpc ones, so role denials are
// access-logged and a panic anywhere is still recovered.
func New(log *slog.Logger, authn auth.Authenticator, policy auth.Policy, register func(*grpc.Server), services ...string) (*grpc.Server, *health.Server) {
	return newServer(log, authn, policy, register, Limits{}, nil, services)
}

// newServer is New with limits and extra server options (Run's transport credentials).
func newServer(log *slog.Logger, authn auth.Authenticator, policy auth.Policy, register func(*grpc.Server), limits Limits, extra []grpc.ServerOption, services []string) (*grpc.Server, *health.Server) {
	if policy == nil {
		policy = auth.DefaultPolicy()
	}
	opts := append([]grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithFilter(filters.Not(filters.HealthCheck())))),
		grpc.InTapHandle(auth.TapHandle(authn, policy, log)),
		grpc.ChainUnaryInterceptor(rpc.UnaryInterceptor(log), auth.UnaryServerInterceptor(authn, policy, log)),
		grpc.ChainStreamInterceptor(rpc.StreamInterceptor(log), auth.StreamServerInterceptor(authn, policy, log)),
	}, limits.serverOptions()...)
	srv := grpc.NewServer(append(opts, extra...)...)
	if register != nil {
		register(srv)
	}
	hs := health.NewServer()
	for _, s := range services {
		hs.SetServingStatus(s, healthpb.HealthCheckResponse_SERVING)
	}
	healthpb.RegisterHealthServer(srv, hs)
	adminv1.RegisterIdentityServiceServer(srv, auth.IdentityService{})
	reflection.Register(srv)
	return srv, hs
}

// Run serves until ctx ends, then marks health NOT_SERVING, stops HTTP, and stops gRPC
// gracefully within ShutdownGrace (hard stop after). It returns an error only if serving
// failed; a normal shutdown returns nil.
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		return errors.New("server: Logger is required")
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 10 * time.Second
	}
	tlsSet, err := tlsconfig.Load(o.TLS)
	if err != nil {
		return fmt.Errorf("%s: %w", o.Name, err)
	}
	authn := o.Authenticator
	if authn == nil {
		// Refuse to start rather than serve a service nobody can call, or everyone can.
		if o.TokensFile == "" {
			return fmt.Errorf("%s: no tokens file: set --tokens-file or INTERLOAN_TOKENS_FILE (create tokens with `interloan token create`)", o.Name)
		}
		tokens, err := auth.Load(o.TokensFile, auth.WithLogger(o.Logger))
		if err != nil {
			return fmt.Errorf("%s: %w", o.Name, err)
		}
		if tokens.Len() == 0 {
			o.Logger.Warn("tokens file holds no tokens: every call but health will be refused", "path", o.TokensFile)
		}
		wctx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		go tokens.Watch(wctx, TokensReload)
		authn = tokens
	}
	if o.OIDC.Enabled() {
		oa, err := auth.NewOIDCAuthenticator(o.OIDC, o.Logger)
		if err != nil {
			return fmt.Errorf("%s: %w", o.Name, err)
		}
		authn = auth.Chain(authn, oa)
	}
	glis := o.GRPCListener
	if glis == nil {
		l, err := net.Listen("tcp", o.GRPCAddr)
		if err != nil {
			return fmt.Errorf("%s: listen gRPC %s: %w", o.Name, o.GRPCAddr, err)
		}
		glis = l
	}
	glis = limitListen(glis, o.Limits.withDefaults().MaxConnections)
	hlis := o.HTTPListener
	if hlis == nil && o.HTTPAddr != "" {
		l, err := net.Listen("tcp", o.HTTPAddr)
		if err != nil {
			glis.Close()
			return fmt.Errorf("%s: listen HTTP %s: %w", o.Name, o.HTTPAddr, err)
		}
		hlis = l
	}

	srv, hs := newServer(o.Logger, authn, o.Policy, o.Register, o.Limits, tlsSet.ServerOption(), o.Services)
	if o.Snapshot != nil {
		adminv1.RegisterBackupServiceServer(srv, backup.NewService(o.Snapshot, o.SpoolDir))
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(glis) }()

	// The HTTP port failing while it serves stops Run; once Run stops it, its shutdown
	// (bounded by the grace) reports nothing.
	httpCtx, stopHTTP := context.WithCancel(context.Background())
	defer stopHTTP()
	httpDone := make(chan struct{})
	var httpAddr net.Addr
	if hlis != nil {
		mux := http.NewServeMux()
		mux.Handle("/", HealthMux(hs))
		mux.Handle("GET /metrics", telemetry.MetricsHandler())
		hsrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, TLSConfig: tlsSet.ServerHTTP()}
		httpAddr = hlis.Addr()
		go func() {
			defer close(httpDone)
			if err := httpserve.Run(httpCtx, hsrv, hlis, o.ShutdownGrace); err != nil && httpCtx.Err() == nil {
				errc <- err
			}
		}()
	} else {
		close(httpDone)
	}
	o.Logger.Info("serving", "grpc_addr", glis.Addr().String(), "http_addr", fmt.Sprint(httpAddr), "tls", tlsSet.Enabled(), "client_certs", o.TLS.ClientCAFile != "")
	if o.Ready != nil {
		o.Ready(glis.Addr(), httpAddr)
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	hs.Shutdown()
	stopHTTP()
	<-httpDone
	done := make(chan struct{})
	go func() { srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(o.ShutdownGrace):
		o.Logger.Warn("graceful stop timed out; stopping hard")
		srv.Stop()
		<-done
	}
	o.Logger.Info("stopped")
	if serveErr != nil {
		return fmt.Errorf("%s: serve: %w", o.Name, serveErr)
	}
	return nil
}

// HealthMux serves /healthz (the process is up) and /readyz (the gRPC health server
// reports SERVING for every service: "" is the overall status).
func HealthMux(hs *health.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		resp, err := hs.Check(r.Context(), &healthpb.HealthCheckRequest{})
		w.Header().Set("Content-Type", "text/plain")
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}
