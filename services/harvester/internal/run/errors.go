package run

import (
	"fmt"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
)

// The runner's refusals. The API turns them into its errors (internal/api); a run that
// does not exist is the store's ErrNotFound.

// InProgressError refuses to start a run of a profile that already has an active one.
type InProgressError struct{ Profile, Run string }

func (e *InProgressError) Error() string {
	return fmt.Sprintf("profile %s already has an active run %s; wait for it to end or cancel it", e.Profile, e.Run)
}

// NotActiveError refuses to cancel a run that has ended.
type NotActiveError struct {
	Run   string
	State harvesterv1.RunState
}

func (e *NotActiveError) Error() string {
	return fmt.Sprintf("%s is not active (state %s); only a pending or running run can be cancelled", e.Run, e.State)
}

// RequestReusedError refuses a start whose request ID already started a run of another
// profile: the caller would otherwise get back a run it did not ask for.
type RequestReusedError struct{ Run, Profile string }

func (e *RequestReusedError) Error() string {
	return fmt.Sprintf("was already used to start %s of %s", e.Run, e.Profile)
}

// ProfileError is the profiles service's answer (a gRPC status error) when a start
// looked up its profile and did not get it.
type ProfileError struct {
	Profile string
	Err     error
}

func (e *ProfileError) Error() string { return fmt.Sprintf("looking up %s: %v", e.Profile, e.Err) }

func (e *ProfileError) Unwrap() error { return e.Err }

// Event reason codes: what staff read in the event report and what scripts match on.
const (
	reasonInvalid         = "INVALID_EXTERNAL_DATA"
	reasonNotApproved     = "AWAITING_AUTHENTICATION"
	reasonPartnerUnknown  = "PARTNER_UNKNOWN"
	reasonLibraryUnmapped = "LIBRARY_UNMAPPED"
	reasonLedgerRejected  = "LEDGER_REJECTED"
	reasonExternalGone    = "EXTERNAL_REQUEST_GONE"
	reasonExternalWarning = "EXTERNAL_DATA_WARNING"
	reasonFetchFailed     = "EXTERNAL_FETCH_FAILED"
)
