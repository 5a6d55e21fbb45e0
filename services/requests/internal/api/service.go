// Package api implements the ledger's gRPC services on top of the store: the harvester's
// IngestService (the import stream and FlagBorrowingRequest) and RequestService (Get,
// List, counts, the lifecycle actions, batch actions, anonymization, the audit trail and
// the change stream). Handlers validate input (INVALID_ARGUMENT with every field
// violation, nothing changed) and return apierr errors; the platform's rpc interceptor
// maps them to gRPC status at the edge.
package api

import (
	"sync"
	"time"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/services/requests/internal/store"
)

// Service implements RequestService and IngestService.
type Service struct {
	requestsv1.UnimplementedRequestServiceServer
	requestsv1.UnimplementedIngestServiceServer

	store *store.Store
	now   func() time.Time

	stopOnce sync.Once
	stopping chan struct{} // closed by Close: watch streams end
}

// New returns the service over st. now is the clock (time.Now in production).
func New(st *store.Store, now func() time.Time) *Service {
	return &Service{store: st, now: now, stopping: make(chan struct{})}
}

// Close ends the open watch streams (they answer UNAVAILABLE with the position to resume
// after), so a graceful stop need not wait out its deadline for them. Other calls still
// work; call it when the server starts stopping.
func (s *Service) Close() { s.stopOnce.Do(func() { close(s.stopping) }) }
