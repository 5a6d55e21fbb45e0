package store

import (
	"errors"
	"fmt"
)

// The store's domain errors, declared once. The API layer maps each to its gRPC code and
// ErrorInfo reason (api/errors.go). Lifecycle refusals are *lifecycle.NotAllowedError;
// etag mismatches are the platform's (resource.CheckEtag).
var (
	// ErrNotFound is returned when no request has the requested ID.
	ErrNotFound = errors.New("borrowing request not found")
	// ErrBadCursor is returned for a List cursor that no listing with this filter produced.
	ErrBadCursor = errors.New("the cursor does not belong to this listing")
	// ErrBatchTooLarge is returned for an ingest batch of more than MaxBatch items.
	ErrBatchTooLarge = fmt.Errorf("an ingest batch holds at most %d items", MaxBatch)
	// ErrPartnerRequired is returned for sending a request that has no partner without
	// naming one.
	ErrPartnerRequired = errors.New("the request has no partner: name the partner to send it to")
)

// PositionExpiredError is returned for a change-log position older than the log keeps:
// the changes right after it were pruned, so resuming there would miss some.
type PositionExpiredError struct {
	Position uint64 // the position asked for
	Oldest   uint64 // the oldest position a watcher can resume after
}

func (e *PositionExpiredError) Error() string {
	return fmt.Sprintf("change position %d is older than the change log keeps (the oldest position to resume after is %d); list the requests again, then watch from a new stream's first position", e.Position, e.Oldest)
}

// PositionAheadError is returned for a change-log position the ledger never reached
// (e.g. from another ledger, or one restored from an older backup).
type PositionAheadError struct {
	Position uint64 // the position asked for
	Latest   uint64 // the latest position
}

func (e *PositionAheadError) Error() string {
	return fmt.Sprintf("change position %d is ahead of this ledger's change log (latest %d); list the requests again, then watch from a new stream's first position", e.Position, e.Latest)
}
