// Package api implements the ledger's gRPC services on top of the store: the harvester's
// IngestService stream, and RequestService's Get and List. Handlers return apierr errors;
// the platform's rpc interceptor maps them to gRPC status at the edge. The lifecycle
// actions, ListRequestEvents and WatchBorrowingRequests arrive with a later issue: until
// then the embedded Unimplemented servers answer UNIMPLEMENTED rather than pretend.
package api

import (
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
}

// New returns the service over st. now is the clock (time.Now in production).
func New(st *store.Store, now func() time.Time) *Service {
	return &Service{store: st, now: now}
}
