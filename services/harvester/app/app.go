// Package app runs the harvester service: its own binary (cmd/harvester) and the
// all-in-one launcher both call Run. The harvester reaches profiles, mapping and the
// ledger over gRPC only, never through their files or code (docs/architecture.md), and
// the external systems over HTTP.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"google.golang.org/grpc"

	"github.com/interloan/interloan/external"
	"github.com/interloan/interloan/external/connector"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/client"
	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/platform/tlsconfig"
	"github.com/interloan/interloan/services/harvester/internal/api"
	"github.com/interloan/interloan/services/harvester/internal/retention"
	"github.com/interloan/interloan/services/harvester/internal/run"
	"github.com/interloan/interloan/services/harvester/internal/scheduler"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// DefaultGRPCPort is the harvester's gRPC port, the third of the suite's 9101–9104
// (docs/architecture.md#ports).
const DefaultGRPCPort = 9103

// Config configures the harvester.
type Config struct {
	server.Common
	ProfilesAddr   string
	MappingAddr    string
	RequestsAddr   string
	OverlapDays    int
	RefreshLimit   int
	RefreshDelay   time.Duration
	ParkAfter      int
	EventRetention time.Duration
	SchedulePoll   time.Duration
	// Bounds are the hard bounds of every run (bounds.go).
	Bounds Bounds
	// ServiceTokenFile holds the harvester's own bearer token (role harvester), sent on
	// every call to profiles, mapping and the ledger.
	ServiceTokenFile string
	// AllowedHosts, when set, is the comma-separated list of the only hosts the harvester
	// calls external systems on (exact names, or "*.example.org" for its subdomains).
	AllowedHosts string
	// AllowPrivateNetworks lets the harvester call external systems on loopback, private,
	// link-local and other non-global addresses, which it refuses by default
	// (external.Outbound): for development, the demo and tests, whose fakes are local.
	AllowPrivateNetworks bool
	// ReceiptAddr, when set, is the HTTP address Netpunkt posts OrderReceipt messages to
	// (api.ReceiptPath). A listener of its own, apart from the health and metrics port,
	// so that only it needs to be reachable from DBC. ReceiptListener, when set, is used
	// instead (tests and the all-in-one).
	ReceiptAddr     string
	ReceiptListener net.Listener
}

// Bind registers the flags (and their INTERLOAN_* env fallbacks).
func (c *Config) Bind(s *config.Set) {
	c.Common.Bind(s, DefaultGRPCPort, "data")
	s.String(&c.ProfilesAddr, "profiles-addr", "INTERLOAN_PROFILES_ADDR", "localhost:9101", "profiles gRPC address")
	s.String(&c.MappingAddr, "mapping-addr", "INTERLOAN_MAPPING_ADDR", "localhost:9102", "mapping gRPC address")
	s.String(&c.RequestsAddr, "requests-addr", "INTERLOAN_REQUESTS_ADDR", "localhost:9104", "requests (ledger) gRPC address")
	s.Int(&c.OverlapDays, "overlap-days", "INTERLOAN_OVERLAP_DAYS", 2, "days each run re-reads before the profile's cursor (Libris lists by order date)")
	s.Int(&c.RefreshLimit, "refresh-limit", "INTERLOAN_REFRESH_LIMIT", 200, "open ledger requests outside the window re-read per run (-1 disables)")
	s.Int(&c.ParkAfter, "park-after", "INTERLOAN_PARK_AFTER", 5, "runs in a row a request may fail to import before it is parked: no longer retried until staff retry it (ListParkedItems, RetryParkedItem); -1 never parks")
	s.Duration(&c.RefreshDelay, "refresh-delay", "INTERLOAN_REFRESH_DELAY", 200*time.Millisecond, "pause between single-request fetches (retry set, refresh), to spare the external system")
	s.Duration(&c.EventRetention, "event-retention", "INTERLOAN_EVENT_RETENTION", 90*24*time.Hour, "run events older than this are pruned (run summaries stay)")
	s.String(&c.ServiceTokenFile, "service-token-file", "INTERLOAN_SERVICE_TOKEN_FILE", "", "file holding the harvester's bearer token (role harvester; mode 0600), sent to profiles, mapping and requests (required unless --tls-cert has OU=harvester)")
	s.String(&c.AllowedHosts, "allowed-hosts", "INTERLOAN_ALLOWED_HOSTS", "", "comma-separated hosts external systems may be called on (exact, or *.domain for its subdomains); empty allows any host, whose addresses --allow-private-networks still governs")
	s.Bool(&c.AllowPrivateNetworks, "allow-private-networks", "INTERLOAN_ALLOW_PRIVATE_NETWORKS", false, "let external systems be called on loopback, private (RFC 1918, fc00::/7, 100.64/10), link-local and other non-global addresses, checked on each connection's resolved address (development and fakes only)")
	s.String(&c.ReceiptAddr, "receipt-addr", "INTERLOAN_RECEIPT_ADDR", "", "HTTP address Netpunkt posts OrderReceipt messages to (POST /netpunkt/receipts/{profile}; TLS with --tls-cert; no bearer token: each message carries the profile's receipt password); empty disables")
	s.Duration(&c.SchedulePoll, "schedule-poll", "INTERLOAN_SCHEDULE_POLL", 5*time.Second, "how often the scheduler re-reads profiles; a saved profile takes effect within this")
	c.Bounds.bind(s)
}

// Run serves the harvester until ctx ends, with its data in DataDir/harvester.db. Runs in
// flight when ctx ends are recorded as ABORTED before Run returns.
func Run(ctx context.Context, cfg Config) (err error) {
	log := cfg.Logger
	if log == nil {
		log = logging.New(nil, "harvester", cfg.LogLevel)
		cfg.Logger = log
	}
	// Runs and the scheduler stop with ctx, or when the server fails for another reason.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	st, err := store.Open(filepath.Join(cfg.DataDir, DataFile))
	if err != nil {
		return fmt.Errorf("harvester: %w", err)
	}
	defer func() { err = errors.Join(err, st.Close()) }()

	tlsSet, err := tlsconfig.Load(cfg.TLS)
	if err != nil {
		return fmt.Errorf("harvester: %w", err)
	}
	hosts, err := external.ParseAllowedHosts(cfg.AllowedHosts)
	if err != nil {
		return fmt.Errorf("harvester: --allowed-hosts: %w", err)
	}
	outbound := external.Outbound{Hosts: hosts, AllowPrivate: cfg.AllowPrivateNetworks}
	log.Info("outbound policy", "allowed_hosts", cmp.Or(cfg.AllowedHosts, "any"), "private_networks_allowed", cfg.AllowPrivateNetworks)
	identity, err := client.Identity(auth.RoleHarvester, cfg.ServiceTokenFile, cfg.TLS, log)
	if err != nil {
		return fmt.Errorf("harvester: %w", err)
	}
	dial := func(name, addr string) (*grpc.ClientConn, error) {
		conn, err := client.Peer(addr, tlsSet, identity)
		if err != nil {
			return nil, fmt.Errorf("harvester: %s address %q: %w", name, addr, err)
		}
		return conn, nil
	}
	profilesConn, err := dial("profiles", cfg.ProfilesAddr)
	if err != nil {
		return err
	}
	defer profilesConn.Close()
	mappingConn, err := dial("mapping", cfg.MappingAddr)
	if err != nil {
		return err
	}
	defer mappingConn.Close()
	requestsConn, err := dial("requests", cfg.RequestsAddr)
	if err != nil {
		return err
	}
	defer requestsConn.Close()

	health := &importHealth{backlog: st.Backlogs}
	runner := run.New(ctx, run.Deps{
		Store:       st,
		Profiles:    profilesv1.NewProfileServiceClient(profilesConn),
		Credentials: profilesv1.NewProfileCredentialsServiceClient(profilesConn),
		Mapping:     mappingv1.NewMappingServiceClient(mappingConn),
		Ingest:      requestsv1.NewIngestServiceClient(requestsConn),
		Requests:    requestsv1.NewRequestServiceClient(requestsConn),
		Connect: func(p *profilesv1.IntegrationProfile, secret string) (connector.Connector, error) {
			return external.Connect(outbound, p, secret, cfg.Bounds.limits())
		},
		Probe: func(ctx context.Context, p *profilesv1.IntegrationProfile, secret string, today connector.Day) []external.Check {
			return external.Probe(ctx, outbound, p, secret, cfg.Bounds.limits(), today)
		},
		Log:          log,
		OverlapDays:  cfg.OverlapDays,
		RefreshLimit: cfg.RefreshLimit,
		RefreshDelay: cfg.RefreshDelay,
		ParkAfter:    cfg.ParkAfter,
		// The run's own bounds; Connect gives each connector the rest.
		MaxChunkItems: cfg.Bounds.MaxChunkItems,
		MaxRunItems:   cfg.Bounds.MaxRunItems,
		RunTimeout:    cfg.Bounds.RunTimeout,
		Ended:         health.ended,
	})
	if err := runner.Recover(); err != nil {
		return fmt.Errorf("harvester: recover runs left by a crash: %w", err)
	}
	if err := health.restore(st); err != nil {
		return fmt.Errorf("harvester: read the last runs for the metrics: %w", err)
	}
	defer runner.Wait()

	receiptLis, err := receiptListener(cfg)
	if err != nil {
		return err
	}
	receiptsDone := make(chan error, 1)
	if receiptLis == nil {
		receiptsDone <- nil
	} else {
		receipts := &api.ReceiptServer{
			Profiles:    profilesv1.NewProfileServiceClient(profilesConn),
			Credentials: profilesv1.NewProfileCredentialsServiceClient(profilesConn),
			Store:       st, Runs: api.Starter{Runner: runner}, TLS: tlsSet.ServerHTTP(), Log: log,
		}
		go func() {
			err := receipts.Serve(ctx, receiptLis)
			if err != nil {
				err = fmt.Errorf("harvester: receipt listener: %w", err)
			}
			receiptsDone <- err
		}()
	}
	defer func() { err = errors.Join(err, <-receiptsDone) }()

	opts := cfg.Common.Options("harvester", []string{harvesterv1.HarvesterService_ServiceDesc.ServiceName})
	opts.Snapshot = st.Backup
	pruneDone := make(chan struct{})
	go func() { defer close(pruneDone); retention.Run(ctx, st, cfg.EventRetention, time.Hour, log) }()
	defer func() { <-pruneDone }()
	sched := scheduler.New(scheduler.Config{Profiles: profilesv1.NewProfileServiceClient(profilesConn), Starter: api.Starter{Runner: runner}, Log: log, Poll: cfg.SchedulePoll})
	health.jobs, health.active = sched.Jobs, runner.ActiveProfiles
	unregister, err := health.register()
	if err != nil {
		return fmt.Errorf("harvester: metrics: %w", err)
	}
	defer unregister()
	schedDone := make(chan error, 1)
	go func() { schedDone <- sched.Run(ctx) }()
	defer func() { err = errors.Join(err, <-schedDone) }()
	defer stop() // first of the deferred calls: stop runs and the scheduler, then wait for them
	svc := api.New(runner, st, func() []*harvesterv1.ScheduledJob {
		var out []*harvesterv1.ScheduledJob
		for _, j := range sched.Jobs() {
			last := ""
			if r, err := st.LastRun(j.Code()); err == nil && r != nil {
				last = r.GetName()
			}
			out = append(out, scheduler.ToScheduledJob(j, last))
		}
		return out
	})
	opts.Register = func(s *grpc.Server) { harvesterv1.RegisterHarvesterServiceServer(s, svc) }
	return server.Run(ctx, opts)
}

// receiptListener is where Netpunkt's receipts arrive: ReceiptListener, or a listener on
// ReceiptAddr; nil when neither is set.
func receiptListener(cfg Config) (net.Listener, error) {
	if cfg.ReceiptListener != nil || cfg.ReceiptAddr == "" {
		return cfg.ReceiptListener, nil
	}
	lis, err := net.Listen("tcp", cfg.ReceiptAddr)
	if err != nil {
		return nil, fmt.Errorf("harvester: --receipt-addr: %w", err)
	}
	return lis, nil
}
