package run

// ErrorInfo reasons of the harvester's API, beside the platform's INVALID_ARGUMENT.
// Clients match on them.
const (
	ReasonProfileNotFound = "PROFILE_NOT_FOUND"
	ReasonRunInProgress   = "RUN_IN_PROGRESS"
	ReasonRunNotActive    = "RUN_NOT_ACTIVE"
	ReasonRunNotFound     = "RUN_NOT_FOUND"
)

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
