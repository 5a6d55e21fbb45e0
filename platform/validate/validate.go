// Package validate holds the field checks every service applies to input, each adding
// to an apierr.Violations so one response lists everything the caller must fix.
package validate

import (
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/resource"
)

// MaxDisplayName bounds every display_name.
const MaxDisplayName = 200

// MaxRequestID bounds an AIP-155 request_id, as the protos document.
const MaxRequestID = 128

// Code checks a caller-chosen ID (profile, library or partner code) or a reference to one.
func Code(v *apierr.Violations, field, code string) {
	switch {
	case code == "":
		v.Add(field, "is required")
	case !resource.ValidCode(code):
		v.Add(field, "%s", resource.CodeRule)
	}
}

// CodeName checks a required reference to a resource with a caller-chosen code, in the
// form `collection/{code}` (e.g. `partners/ABC`); callers of optional references check
// for "" first.
func CodeName(v *apierr.Violations, field, name, collection string) {
	code, ok := strings.CutPrefix(name, collection+"/")
	switch {
	case name == "":
		v.Add(field, "is required")
	case !ok || !resource.ValidCode(code):
		v.Add(field, "must have the form %s/{code}, where the code %s", collection, resource.CodeRule)
	}
}

// RequestID checks the length of an optional AIP-155 request_id.
func RequestID(v *apierr.Violations, field, id string) {
	if n := utf8.RuneCountInString(id); n > MaxRequestID {
		v.Add(field, "must be at most %d characters (got %d)", MaxRequestID, n)
	}
}

// DisplayName checks a required, single-line human-readable name.
func DisplayName(v *apierr.Violations, field, s string) {
	if strings.TrimSpace(s) == "" {
		v.Add(field, "is required")
		return
	}
	Text(v, field, s, MaxDisplayName, false)
}

// Text reports a string that is not valid UTF-8, is longer than max characters, or holds
// control characters (line breaks and tabs only where multiline allows them).
func Text(v *apierr.Violations, field, s string, max int, multiline bool) {
	switch {
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		v.Add(field, "must be at most %d characters", max)
	case strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) && !(multiline && strings.ContainsRune("\n\r\t", r))
	}):
		v.Add(field, "must not contain control characters")
	}
}

// Token checks a required identifier from an external system (a sigel, an agency id):
// compared exactly, so whitespace or control characters inside can only be a mistake.
func Token(v *apierr.Violations, field, s string, max int) {
	switch {
	case s == "":
		v.Add(field, "is required")
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		v.Add(field, "must be at most %d characters", max)
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		v.Add(field, "must not contain spaces or control characters")
	}
}

// Email accepts an empty value or one plain address (no display name), at most 254
// characters (the longest SMTP carries).
func Email(v *apierr.Violations, field, s string) {
	if s == "" {
		return
	}
	if utf8.RuneCountInString(s) > 254 {
		v.Add(field, "must be at most 254 characters")
		return
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Name != "" || a.Address != s {
		v.Add(field, "must be an e-mail address such as ill@library.example")
	}
}

// BaseURL checks a required absolute http(s) URL of an external system: no credentials
// (they belong in the encrypted key), no query or fragment (paths are appended to it).
func BaseURL(v *apierr.Violations, field, s string) {
	u, err := url.Parse(s)
	switch {
	case s == "":
		v.Add(field, "is required")
	case len(s) > 2048:
		v.Add(field, "must be at most 2048 bytes")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		v.Add(field, "must be an absolute http or https URL")
	case u.User != nil:
		v.Add(field, "must not contain credentials")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		v.Add(field, "must not have a query or fragment")
	}
}

// Enum rejects numbers the enum does not define and, if required, the UNSPECIFIED zero
// value, listing the accepted names.
func Enum(v *apierr.Violations, field string, e protoreflect.Enum, required bool) {
	values := e.Descriptor().Values()
	known := values.ByNumber(e.Number()) != nil
	if known && (e.Number() != 0 || !required) {
		return
	}
	var names []string
	for i := range values.Len() {
		if n := values.Get(i); n.Number() != 0 {
			names = append(names, string(n.Name()))
		}
	}
	if e.Number() == 0 {
		v.Add(field, "is required: one of %s", strings.Join(names, ", "))
	} else {
		v.Add(field, "must be one of %s (got %d)", strings.Join(names, ", "), e.Number())
	}
}

// TimeRange checks an AIP-160-style pair of optional timestamp filters, name_after and
// name_before: each valid when set, and after earlier than before when both are. It
// returns them as times, zero when unset or invalid.
func TimeRange(v *apierr.Violations, name string, after, before *timestamppb.Timestamp) (time.Time, time.Time) {
	a := optionalTime(v, name+"_after", after)
	b := optionalTime(v, name+"_before", before)
	if !a.IsZero() && !b.IsZero() && !a.Before(b) {
		v.Add(name+"_before", "must be later than %s_after", name)
	}
	return a, b
}

func optionalTime(v *apierr.Violations, field string, t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	if t.CheckValid() != nil {
		v.Add(field, "must be a valid timestamp")
		return time.Time{}
	}
	return t.AsTime()
}
