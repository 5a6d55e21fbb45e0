// Package app runs the harvester service. In this release it only starts and answers
// health checks; import runs (StartRun, GetRun, ...) arrive with the import-path issue,
// so the HarvesterService is deliberately not registered: calls answer UNIMPLEMENTED
// instead of pretending to work.
package app

import (
	"context"

	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/server"
)

// DefaultGRPCPort is the harvester's gRPC port (DESIGN §10).
const DefaultGRPCPort = 9103

// Config configures the harvester.
type Config struct{ server.Common }

// Bind registers the flags.
func (c *Config) Bind(s *config.Set) { c.Common.Bind(s, DefaultGRPCPort, "data") }

// Run serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	return server.Run(ctx, cfg.Common.Options("harvester", nil))
}
