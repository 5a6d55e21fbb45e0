// Package app runs the requests (ledger) service. In this release it only starts and answers
// health checks; the ledger (ingest, Get, List, lifecycle actions) arrives with the import-path issue,
// so the RequestService and IngestService are deliberately not registered: calls answer UNIMPLEMENTED
// instead of pretending to work.
package app

import (
	"context"

	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/server"
)

// DefaultGRPCPort is the ledger's gRPC port (DESIGN §10).
const DefaultGRPCPort = 9104

// Config configures the ledger.
type Config struct{ server.Common }

// Bind registers the flags.
func (c *Config) Bind(s *config.Set) { c.Common.Bind(s, DefaultGRPCPort, "data") }

// Run serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	return server.Run(ctx, cfg.Common.Options("requests", nil))
}
