// Package app runs the mapping service: its own binary (cmd/mapping) and the all-in-one
// launcher both call Run.
package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"google.golang.org/grpc"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/server"
	"github.com/interloan/interloan/services/mapping/internal/api"
	"github.com/interloan/interloan/services/mapping/internal/store"
)

// DefaultGRPCPort is the mapping service's gRPC port, the second of the suite's 9101–9104
// (docs/architecture.md#ports).
const DefaultGRPCPort = 9102

// Config is the mapping service's configuration.
type Config struct {
	server.Common
}

// Bind registers the flags (and their INTERLOAN_* env fallbacks).
func (c *Config) Bind(s *config.Set) {
	c.Common.Bind(s, DefaultGRPCPort, "data")
}

// Run serves the mapping service until ctx ends, with its data in DataDir/mapping.db.
func Run(ctx context.Context, cfg Config) error {
	st, err := store.Open(filepath.Join(cfg.DataDir, DataFile))
	if err != nil {
		return fmt.Errorf("mapping: %w", err)
	}
	opts := cfg.Common.Options("mapping", []string{mappingv1.MappingService_ServiceDesc.ServiceName})
	opts.Snapshot = st.Backup
	svc := api.New(st)
	opts.Register = func(s *grpc.Server) { mappingv1.RegisterMappingServiceServer(s, svc) }
	err = server.Run(ctx, opts)
	return errors.Join(err, st.Close())
}
