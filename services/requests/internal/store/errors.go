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
// its change, or the changes right after it, were pruned, so resuming there could miss
// some.
type PositionExpiredError struct {
	Position string // the position asked for
	Oldest   uint64 // the number of the oldest change the log holds (0: none)
}

func (e *PositionExpiredError) Error() string {
	return fmt.Sprintf("change position %s is older than the change log keeps (its oldest change is number %d); list the requests again, then watch from a new stream's first position", e.Position, e.Oldest)
}

// PositionAheadError is returned for a change-log position this database never reached
// (e.g. one restored from an older backup, before it has caught up).
type PositionAheadError struct {
	Position string // the position asked for
	Latest   uint64 // the number of the latest change
}

func (e *PositionAheadError) Error() string {
	return fmt.Sprintf("change position %s is ahead of this ledger's change log (latest change number %d); list the requests again, then watch from a new stream's first position", e.Position, e.Latest)
}

// PositionForeignError is returned for a change-log position that is not from this
// database's history: from another database (another ledger, or from before positions
// named their database), or, with RolledBack, from this database before it was restored
// from a backup (the change under that number here is another one). Resuming there would
// silently miss changes.
type PositionForeignError struct {
	Position   string // the position asked for
	Database   string // this database's id
	RolledBack bool
}

func (e *PositionForeignError) Error() string {
	if e.RolledBack {
		return fmt.Sprintf("change position %s names a change this database does not have (it was restored from a backup since, or the position was altered); list the requests again, then watch from a new stream's first position", e.Position)
	}
	return fmt.Sprintf("change position %s is not from this ledger's database (id %s); list the requests again, then watch from a new stream's first position", e.Position, e.Database)
}
