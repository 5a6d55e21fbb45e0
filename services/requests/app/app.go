// Package app runs the requests service, the ledger of borrowing requests: its own binary
// (cmd/requests) and the all-in-one launcher both call Run. It serves the harvester's
// IngestService and RequestService: reads, counts, the lifecycle actions, the audit trail
// and the change stream.
package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"google.golang.org/grpc"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/services/requests/internal/api"
	"github.com/interloan/interloan/services/requests/internal/store"
)

// DefaultGRPCPort is the ledger's gRPC port, the fourth of the suite's 9101–9104
// (docs/architecture.md#ports).
const DefaultGRPCPort = 9104

// Config configures the ledger.
type Config struct {
	server.Common
	// ChangeRetention is how long the change log keeps a change, i.e. how long after its
	// last position a WatchBorrowingRequests client can resume (0: 7 days).
	ChangeRetention time.Duration
}

// Bind registers the flags.
func (c *Config) Bind(s *config.Set) {
	c.Common.Bind(s, DefaultGRPCPort, "data")
	s.Duration(&c.ChangeRetention, "change-retention", "INTERLOAN_CHANGE_RETENTION", store.DefaultChangeRetention,
		"how long the change log keeps a change: a watch client can resume this long after its last position")
}

// Services are the gRPC services the ledger reports healthy.
var Services = []string{
	requestsv1.RequestService_ServiceDesc.ServiceName,
	requestsv1.IngestService_ServiceDesc.ServiceName,
}

// Run serves until ctx ends, with the ledger in DataDir/requests.db.
func Run(ctx context.Context, cfg Config) error {
	st, err := store.Open(filepath.Join(cfg.DataDir, DataFile), store.Options{ChangeRetention: cfg.ChangeRetention})
	if err != nil {
		return fmt.Errorf("requests: %w", err)
	}
	stopGauge, err := observeLedger(st)
	if err != nil {
		return errors.Join(fmt.Errorf("requests: metrics: %w", err), st.Close())
	}
	svc := api.New(st, time.Now)
	// Watch streams never end by themselves: end them as the stop begins, so the graceful
	// stop need not wait out its deadline.
	stop := context.AfterFunc(ctx, svc.Close)
	defer stop()
	opts := cfg.Common.Options("requests", Services)
	opts.Snapshot = st.Backup
	opts.Register = func(s *grpc.Server) {
		requestsv1.RegisterRequestServiceServer(s, svc)
		requestsv1.RegisterIngestServiceServer(s, svc)
	}
	err = server.Run(ctx, opts)
	// The gauge stops before the store closes: a scrape must not read a closed store.
	return errors.Join(err, stopGauge(), st.Close())
}
