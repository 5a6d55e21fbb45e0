// Package connector is the harvester's view of an external ILL system: a stream of the
// borrowing requests ordered in a window of days, and one request fetched by id. Each
// system (external/libris, external/netpunkt) implements Connector and describes itself
// with a System (system.go); the run never sees its wire format.
package connector

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
)

// Day is a zone-less calendar date, as external systems use for windows.
type Day struct {
	Year  int
	Month time.Month
	Day   int
}

// DayOf returns t's calendar date in t's location.
func DayOf(t time.Time) Day {
	y, m, d := t.Date()
	return Day{y, m, d}
}

// Time returns midnight UTC of the day.
func (d Day) Time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// AddDays returns the day n days later (earlier for negative n).
func (d Day) AddDays(n int) Day { return DayOf(d.Time().AddDate(0, 0, n)) }

// Before reports whether d is strictly before o.
func (d Day) Before(o Day) bool { return d.Time().Before(o.Time()) }

// String formats YYYY-MM-DD.
func (d Day) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// Window is an inclusive range of days.
type Window struct{ From, To Day }

func (w Window) String() string { return w.From.String() + ".." + w.To.String() }

// Valid reports whether both ends are real dates of years 1..9999 and From is not after To:
// what a connector can put in a query.
func (w Window) Valid() bool { return w.From.valid() && w.To.valid() && !w.To.Before(w.From) }

func (d Day) valid() bool { return d.Year >= 1 && d.Year <= 9999 && DayOf(d.Time()) == d }

// Chunks splits w into consecutive windows of at most days days, oldest first.
func (w Window) Chunks(days int) []Window {
	if days < 1 {
		days = 1
	}
	var out []Window
	for from := w.From; !w.To.Before(from); from = from.AddDays(days) {
		to := from.AddDays(days - 1)
		if w.To.Before(to) {
			to = w.To
		}
		out = append(out, Window{from, to})
	}
	return out
}

// RotaEntry is one candidate lender, by its external code.
type RotaEntry struct {
	Code     string
	Active   bool
	Response string
}

// Request is one external borrowing request in the system-neutral shape the run validates,
// resolves and ingests. Library codes are the external system's (e.g. sigels), unresolved.
type Request struct {
	ExternalID        string // stable id (Libris lf_number); with the profile, the identity
	ExternalRequestID string // the system's internal id (Libris request_id)
	StatusRaw         string // external status exactly as received
	Status            requestsv1.Status
	LastModified      time.Time
	OrderDay          Day

	RequestingLibrary string // borrowing library's external code
	PickupLibrary     string // delivery library's external code; may be empty
	Lender            string // current lender's external code; empty when none is active
	Rota              []RotaEntry

	Bibliographic *requestsv1.Bibliographic
	Format        requestsv1.Format
	Media         requestsv1.Media

	PatronID   string
	PatronName string
	// PatronInitiated is set when a patron placed the request (a patron web request in
	// Libris, an end-user order in Netpunkt), not staff on the library's own account;
	// PatronApproved when the external system reports that patron as approved. A profile
	// that requires authentication waits for the approval of patron-initiated requests
	// only.
	PatronInitiated bool
	PatronApproved  bool
	Note            string

	// Problem is set when the item was decoded but is unusable (a required field missing,
	// a value out of range). The run reports it as FAILED with this reason and keeps going.
	Problem string
	// Warnings are field-level oddities the request is imported despite (an unknown status
	// string, a value of the wrong type); they travel to the ledger with the request.
	// Field is the external system's own field name.
	Warnings []*typev1.DataWarning
}

// Codes of the data warnings connectors give (typev1.DataWarning.code).
const (
	WarnUnknownStatus  = "UNKNOWN_STATUS"   // a status value the mapping does not know
	WarnUnknownCode    = "UNKNOWN_CODE"     // another coded value the mapping does not know
	WarnUnparsableDate = "UNPARSABLE_DATE"  // a date that could not be read
	WarnUnparsable     = "UNPARSABLE_VALUE" // another value not in its expected form
	WarnMissing        = "MISSING_VALUE"    // an expected optional value is absent
	WarnIgnored        = "IGNORED_VALUE"    // a value of the wrong type, left out
)

// Warn adds a data warning about field.
func (r *Request) Warn(field, code, format string, args ...any) {
	r.Warnings = append(r.Warnings, &typev1.DataWarning{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

// WarningText is the warnings' messages in one line, for an event's reason.
func WarningText(ws []*typev1.DataWarning) string {
	msgs := make([]string, len(ws))
	for i, w := range ws {
		msgs[i] = w.GetMessage()
	}
	return strings.Join(msgs, "; ")
}

// Connector is one external system bound to one profile's configuration and credentials.
type Connector interface {
	// Fetch streams the requests ordered in w to visit, in the order the system returns
	// them. An error from visit stops the fetch and is returned as is.
	Fetch(ctx context.Context, w Window, visit func(*Request) error) error
	// Get fetches one request by external id; found is false when the system does not
	// know it.
	Get(ctx context.Context, externalID string) (req *Request, found bool, err error)
	// Probe asks the system, with as few calls as it takes and nothing kept, whether it
	// accepts the credential and knows the profile's library code, reading the requests
	// of today (the profile's day). It returns what the system answered in staff's words,
	// or a *Error: KindAuth for a refused credential (with Library set when the
	// credential is known but the library code is not, or is not its), KindUnreachable
	// or KindGarbage as for Fetch; or a *LimitError.
	Probe(ctx context.Context, today Day) (ProbeResult, error)
}

// ProbeResult is how the system answered a Probe, in words for staff.
type ProbeResult struct {
	// Credential says the system accepted the credential, e.g. "Libris accepted the API key".
	Credential string
	// Library says how the system showed it knows the library code, e.g. "Libris lists
	// the outgoing requests of sigel Abc for 2026-03-02 (4 requests)".
	Library string
}

// Kind classifies a connector failure for the run's alert.
type Kind int

const (
	// KindAuth: the system refused our credentials (HTTP 401/403).
	KindAuth Kind = iota + 1
	// KindUnreachable: the system did not answer usefully after retries (network, 5xx, timeout).
	KindUnreachable
	// KindGarbage: the system answered something we cannot decode.
	KindGarbage
)

func (k Kind) String() string {
	switch k {
	case KindAuth:
		return "auth"
	case KindUnreachable:
		return "unreachable"
	case KindGarbage:
		return "garbage"
	}
	return "unknown"
}

// Error is a connector failure. Message is safe to show to staff (never holds secrets).
type Error struct {
	Kind    Kind
	Message string
	Err     error
	// Library is set on a KindAuth refusal that concerns the profile's library code
	// rather than the credential itself: the system knows the credential but will not let
	// it read that library (unknown to it, or another library's).
	Library bool
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err, or 0 when err is not a connector *Error.
func KindOf(err error) Kind {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Kind
	}
	return 0
}

// Sleep waits for d or until ctx ends, whichever is first: the pause between calls to an
// external system, which a cancelled run must not sit out.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
