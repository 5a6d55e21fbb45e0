package api

import (
	"fmt"
	"unicode/utf8"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/validate"
)

// Length limits in characters. Batch sizes come from the proto; the others keep records
// and index keys small while fitting any real value.
const (
	maxExternalCode = 64
	maxContactLine  = 200 // person, phone
	maxAddress      = 1000
	maxBatch        = 1000 // codes per Resolve call
	// maxResolveCode bounds each code of a Resolve call, before trimming (the raw code is
	// echoed back). No stored external code or partner code is longer, so a longer one
	// can only be a mistake or abuse.
	maxResolveCode = maxExternalCode
	// maxCodeViolations caps the per-code violations of one Resolve call, so a hostile
	// batch cannot produce a huge error.
	maxCodeViolations = 10
)

// Each validate function reports every violation of a complete resource (new, or merged
// by an update), under field paths starting with prefix (the request field, e.g.
// "library"), so one response lists everything the caller must fix.

func validateLibrary(v *apierr.Violations, prefix string, l *mappingv1.Library) {
	validate.Code(v, prefix+".code", l.GetCode())
	validate.DisplayName(v, prefix+".display_name", l.GetDisplayName())
}

func validateMapping(v *apierr.Violations, prefix string, m *mappingv1.LibraryMapping) {
	validate.Enum(v, prefix+".system", m.GetSystem(), true)
	validate.Token(v, prefix+".external_code", m.GetExternalCode(), maxExternalCode)
	validate.Code(v, prefix+".local_library_code", m.GetLocalLibraryCode())
}

func validatePartner(v *apierr.Violations, prefix string, p *mappingv1.Partner) {
	validate.Code(v, prefix+".code", p.GetCode())
	validate.DisplayName(v, prefix+".display_name", p.GetDisplayName())
	validate.Enum(v, prefix+".status", p.GetStatus(), true)
	validate.Enum(v, prefix+".system", p.GetSystem(), true)
	c := p.GetContact()
	validate.Text(v, prefix+".contact.person", c.GetPerson(), maxContactLine, false)
	validate.Email(v, prefix+".contact.email", c.GetEmail())
	validate.Text(v, prefix+".contact.phone", c.GetPhone(), maxContactLine, false)
	validate.Text(v, prefix+".contact.address", c.GetAddress(), maxAddress, true)
}

// checkBatch enforces the 1..maxBatch codes of a Resolve call and the length of each
// code, naming each offending index (`codes[3]`) up to maxCodeViolations. Empty and blank
// codes are allowed: they resolve to found = false.
func checkBatch(v *apierr.Violations, field string, codes []string) {
	if n := len(codes); n < 1 || n > maxBatch {
		v.Add(field, "must hold 1 to %d codes (got %d)", maxBatch, n)
	}
	long := 0
	for i, c := range codes {
		if utf8.RuneCountInString(c) <= maxResolveCode {
			continue
		}
		if long++; long <= maxCodeViolations {
			v.Add(fmt.Sprintf("%s[%d]", field, i), "must be at most %d characters", maxResolveCode)
		}
	}
	if long > maxCodeViolations {
		v.Add(field, "%d more codes are longer than %d characters (only the first %d are listed)",
			long-maxCodeViolations, maxResolveCode, maxCodeViolations)
	}
}
