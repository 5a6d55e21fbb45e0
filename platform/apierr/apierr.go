// Package apierr declares the typed errors domain code returns. Domain packages never
// import gRPC codes: the edge (package rpc) maps a Kind to a canonical code, an ErrorInfo
// reason and, for invalid input, BadRequest field violations.
package apierr

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kind classifies an error the way a caller must react to it.
type Kind int

// The kinds, each mapped to exactly one gRPC code in package rpc.
const (
	KindInternal           Kind = iota // a bug or an unexpected failure: never the caller's fault
	KindInvalidArgument                // the request itself is wrong
	KindNotFound                       // the named resource does not exist
	KindAlreadyExists                  // a resource with that identity exists
	KindFailedPrecondition             // the system is not in a state that allows the call
	KindAborted                        // a concurrency conflict (etag mismatch)
	KindUnavailable                    // a dependency is down; retry later
	KindUnauthenticated                // no or bad credentials
	KindPermissionDenied               // authenticated but not allowed
)

// Domain is the ErrorInfo domain of every Interloan error.
const Domain = "interloan.dev"

// FieldViolation names one invalid field (a path such as `integration_profile.libris.base_url`).
type FieldViolation struct {
	Field       string
	Description string
}

// Error is the one error type domain code returns to callers.
type Error struct {
	Kind       Kind
	Reason     string // UPPER_SNAKE, stable, machine-readable
	Message    string // short, actionable, English; never contains secrets
	Metadata   map[string]string
	Violations []FieldViolation
}

func (e *Error) Error() string {
	if len(e.Violations) == 0 {
		return e.Message
	}
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Description
	}
	return e.Message + ": " + strings.Join(parts, "; ")
}

// Truncate shortens caller input quoted in an error message, so a huge input cannot
// make a huge error.
func Truncate(s string) string { return Clip(s, 100) }

// Clip shortens s to at most max bytes, cut on a rune boundary and marked with "…":
// for caller or provider input quoted in errors and log lines.
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return "…"
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// IsKind reports whether err is an *Error of kind k.
func IsKind(err error, k Kind) bool {
	e, ok := As(err)
	return ok && e.Kind == k
}

// New builds an error of any kind; prefer the specific constructors where they fit.
func New(k Kind, reason string, md map[string]string, format string, args ...any) *Error {
	return &Error{Kind: k, Reason: reason, Message: fmt.Sprintf(format, args...), Metadata: md}
}

// NotFound reports that the resource `name` does not exist.
func NotFound(reason, name string) *Error {
	return New(KindNotFound, reason, map[string]string{"name": name}, "%s not found", name)
}

// AlreadyExists reports that `name` exists.
func AlreadyExists(reason, name string) *Error {
	return New(KindAlreadyExists, reason, map[string]string{"name": name}, "%s already exists", name)
}

// EtagMismatch reports an optimistic-concurrency conflict on `name` (AIP-154: ABORTED).
func EtagMismatch(name string) *Error {
	return New(KindAborted, "ETAG_MISMATCH", map[string]string{"name": name},
		"%s was changed by someone else (etag mismatch); read it again and retry", name)
}

// FailedPrecondition reports that the state of the system forbids the call.
func FailedPrecondition(reason string, md map[string]string, format string, args ...any) *Error {
	return New(KindFailedPrecondition, reason, md, format, args...)
}

// Unavailable reports that a dependency is down.
func Unavailable(reason string, format string, args ...any) *Error {
	return New(KindUnavailable, reason, nil, format, args...)
}

// Violations collects field violations; Err returns nil when there are none.
type Violations struct {
	list []FieldViolation
}

// Add records that field is invalid.
func (v *Violations) Add(field, format string, args ...any) {
	v.list = append(v.list, FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// Len is the number of violations so far.
func (v *Violations) Len() int { return len(v.list) }

// Err returns an INVALID_ARGUMENT error listing every violation, or nil.
func (v *Violations) Err() error {
	if len(v.list) == 0 {
		return nil
	}
	return &Error{Kind: KindInvalidArgument, Reason: "INVALID_ARGUMENT", Message: "invalid request", Violations: v.list}
}

// Invalid is a one-violation INVALID_ARGUMENT error.
func Invalid(field, format string, args ...any) error {
	var v Violations
	v.Add(field, format, args...)
	return v.Err()
}
