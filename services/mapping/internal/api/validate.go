package api

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/resource"
)

// Length limits in characters. Display names and batch sizes come from the proto; the
// others keep records and index keys small while fitting any real value.
const (
	maxDisplayName  = 200
	maxExternalCode = 64
	maxContactLine  = 200 // person, phone
	maxEmail        = 254 // the longest address SMTP can carry (RFC 5321)
	maxAddress      = 1000
	maxBatch        = 1000 // codes per Resolve call
)

// Each validate function reports every violation of a complete resource (new, or merged
// by an update), under field paths starting with prefix (the request field, e.g.
// "library"), so one response lists everything the caller must fix.

func validateLibrary(v *apierr.Violations, prefix string, l *mappingv1.Library) {
	checkCode(v, prefix+".code", l.GetCode())
	checkDisplayName(v, prefix+".display_name", l.GetDisplayName())
}

func validateMapping(v *apierr.Violations, prefix string, m *mappingv1.LibraryMapping) {
	checkEnum(v, prefix+".system", m.GetSystem(), true)
	checkExternalCode(v, prefix+".external_code", m.GetExternalCode())
	checkCode(v, prefix+".local_library_code", m.GetLocalLibraryCode())
}

func validatePartner(v *apierr.Violations, prefix string, p *mappingv1.Partner) {
	checkCode(v, prefix+".code", p.GetCode())
	checkDisplayName(v, prefix+".display_name", p.GetDisplayName())
	checkEnum(v, prefix+".status", p.GetStatus(), true)
	checkEnum(v, prefix+".system", p.GetSystem(), true)
	c := p.GetContact()
	checkText(v, prefix+".contact.person", c.GetPerson(), maxContactLine, false)
	checkEmail(v, prefix+".contact.email", c.GetEmail())
	checkText(v, prefix+".contact.phone", c.GetPhone(), maxContactLine, false)
	checkText(v, prefix+".contact.address", c.GetAddress(), maxAddress, true)
}

// checkCode checks a caller-chosen ID (library or partner code) or a reference to one.
func checkCode(v *apierr.Violations, field, code string) {
	switch {
	case code == "":
		v.Add(field, "is required")
	case !resource.ValidCode(code):
		v.Add(field, "%s", resource.CodeRule)
	}
}

func checkDisplayName(v *apierr.Violations, field, s string) {
	if strings.TrimSpace(s) == "" {
		v.Add(field, "is required")
		return
	}
	checkText(v, field, s, maxDisplayName, false)
}

// checkText reports a string that is not valid UTF-8, is longer than max characters, or
// holds control characters (line breaks and tabs only where multiline allows them).
func checkText(v *apierr.Violations, field, s string, max int, multiline bool) {
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

// checkExternalCode checks an (already trimmed) external library code: it is compared
// exactly, so inner whitespace or control characters can only be a mistake.
func checkExternalCode(v *apierr.Violations, field, code string) {
	switch {
	case code == "":
		v.Add(field, "is required")
	case !utf8.ValidString(code):
		v.Add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(code) > maxExternalCode:
		v.Add(field, "must be at most %d characters", maxExternalCode)
	case strings.ContainsFunc(code, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		v.Add(field, "must not contain spaces or control characters")
	}
}

// checkEmail accepts an empty value or one plain address (no display name).
func checkEmail(v *apierr.Violations, field, s string) {
	if s == "" {
		return
	}
	if utf8.RuneCountInString(s) > maxEmail {
		v.Add(field, "must be at most %d characters", maxEmail)
		return
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Name != "" || a.Address != s {
		v.Add(field, "must be an e-mail address such as ill@library.example")
	}
}

// checkEnum rejects numbers the enum does not define and, if required, the UNSPECIFIED
// zero value, listing the accepted names.
func checkEnum(v *apierr.Violations, field string, e protoreflect.Enum, required bool) {
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

// checkBatch enforces the 1..maxBatch codes of a Resolve call.
func checkBatch(v *apierr.Violations, field string, n int) {
	if n < 1 || n > maxBatch {
		v.Add(field, "must hold 1 to %d codes (got %d)", maxBatch, n)
	}
}
