package store

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/resource"
)

// The ledger stores every item whose identity it can store (checkIdentity). A field it
// cannot store as sent is normalised so that what is stored is always valid, and the
// change is recorded as a data warning on the request: a person sees what was changed,
// and the request is never refused, or retried for ever, for one odd field.
// docs/lifecycle.md lists these rules.
const (
	// MaxText bounds each free-text field in characters (Unicode code points). Real
	// patron messages and lender responses run to several thousand characters; 32 768
	// keeps any of them whole while a record stays far below the 16 MiB a gRPC message
	// may carry. Longer text is stored cut at a character boundary and ending with the
	// truncation marker, text and marker together at most MaxText characters.
	MaxText = 32768
	// maxRota bounds the rota entries kept; later ones are dropped with a warning.
	maxRota = 100
	// maxItemWarnings bounds the warnings an item brings that are kept, and
	// maxWarningText each of their fields, so a faulty sender cannot bloat a record.
	maxItemWarnings = 100
	maxWarningText  = 1024
)

// Codes of the ledger's data warnings (DataWarning.code). The items' own warnings
// (UNPARSABLE_DATE, UNKNOWN_STATUS, … from the harvester) are kept with theirs.
const (
	WarningTextTruncated     = "TEXT_TRUNCATED"     // cut at MaxText, with the marker
	WarningInvalidCharacters = "INVALID_CHARACTERS" // invalid UTF-8 or control characters replaced by U+FFFD
	WarningUnknownCode       = "UNKNOWN_CODE"       // an enum value the ledger does not define: stored unspecified
	WarningUnknownStatus     = "UNKNOWN_STATUS"     // no external status, or one the ledger does not define
	WarningInvalidReference  = "INVALID_REFERENCE"  // a partner that is not partners/{code}: dropped
	WarningTooManyEntries    = "TOO_MANY_ENTRIES"   // rota entries beyond maxRota: dropped
	WarningEmptyEntry        = "EMPTY_ENTRY"        // a rota entry naming no lender: dropped
	WarningTooManyWarnings   = "TOO_MANY_WARNINGS"  // the item's warnings beyond maxItemWarnings: dropped
)

// truncationMarker ends a text cut at its bound; n is the number of characters cut.
func truncationMarker(n int) string {
	return "… [truncated: " + strconv.Itoa(n) + " more characters]"
}

// textField is one free-text field of an item. at returns a pointer to it, or nil when
// the message holding it is unset (the field is then empty).
type textField struct {
	name string
	at   func(*requestsv1.IngestItem) *string
}

func inReference(f func(*requestsv1.ExternalReference) *string) func(*requestsv1.IngestItem) *string {
	return func(it *requestsv1.IngestItem) *string {
		if r := it.GetExternalReference(); r != nil {
			return f(r)
		}
		return nil
	}
}

func inBibliographic(f func(*requestsv1.Bibliographic) *string) func(*requestsv1.IngestItem) *string {
	return func(it *requestsv1.IngestItem) *string {
		if b := it.GetBibliographic(); b != nil {
			return f(b)
		}
		return nil
	}
}

func inRequester(f func(*requestsv1.Requester) *string) func(*requestsv1.IngestItem) *string {
	return func(it *requestsv1.IngestItem) *string {
		if r := it.GetRequester(); r != nil {
			return f(r)
		}
		return nil
	}
}

// textFields are the item's free-text fields outside the rota, all multiline: catalogue
// data and patron messages carry line breaks.
var textFields = []textField{
	{"external_reference.external_request_id", inReference(func(r *requestsv1.ExternalReference) *string { return &r.ExternalRequestId })},
	{"external_reference.status_raw", inReference(func(r *requestsv1.ExternalReference) *string { return &r.StatusRaw })},
	{"bibliographic.title", inBibliographic(func(b *requestsv1.Bibliographic) *string { return &b.Title })},
	{"bibliographic.author", inBibliographic(func(b *requestsv1.Bibliographic) *string { return &b.Author })},
	{"bibliographic.isbn", inBibliographic(func(b *requestsv1.Bibliographic) *string { return &b.Isbn })},
	{"bibliographic.issn", inBibliographic(func(b *requestsv1.Bibliographic) *string { return &b.Issn })},
	{"bibliographic.publisher", inBibliographic(func(b *requestsv1.Bibliographic) *string { return &b.Publisher })},
	{"bibliographic.place_of_publication", inBibliographic(func(b *requestsv1.Bibliographic) *string { return &b.PlaceOfPublication })},
	{"bibliographic.year", inBibliographic(func(b *requestsv1.Bibliographic) *string { return &b.Year })},
	{"bibliographic.volume", inBibliographic(func(b *requestsv1.Bibliographic) *string { return &b.Volume })},
	{"bibliographic.pages", inBibliographic(func(b *requestsv1.Bibliographic) *string { return &b.Pages })},
	{"bibliographic.article_title", inBibliographic(func(b *requestsv1.Bibliographic) *string { return &b.ArticleTitle })},
	{"bibliographic.article_author", inBibliographic(func(b *requestsv1.Bibliographic) *string { return &b.ArticleAuthor })},
	{"bibliographic.external_record_id", inBibliographic(func(b *requestsv1.Bibliographic) *string { return &b.ExternalRecordId })},
	{"requester.patron_id", inRequester(func(r *requestsv1.Requester) *string { return &r.PatronId })},
	{"requester.name", inRequester(func(r *requestsv1.Requester) *string { return &r.Name })},
	{"pickup_location", func(it *requestsv1.IngestItem) *string { return &it.PickupLocation }},
	{"note", func(it *requestsv1.IngestItem) *string { return &it.Note }},
}

// partnerPrefix starts every valid partner reference.
var partnerPrefix = PartnersCollection + "/"

func validPartner(name string) bool {
	code, ok := strings.CutPrefix(name, partnerPrefix)
	return ok && resource.ValidCode(code)
}

func definedEnum(e protoreflect.Enum) bool {
	return e.Descriptor().Values().ByNumber(e.Number()) != nil
}

// clean returns the item to store and the warnings to store with it: the item's own
// (bounded and repaired like text), then the ledger's, one per change it made. The
// item's identity is never changed. A clean item is returned itself with its own
// warnings, at no allocation; the first change clones it, because the caller's item is
// not the ledger's to change (a re-import of it must find the same problems).
func clean(it *requestsv1.IngestItem) (*requestsv1.IngestItem, []*typev1.DataWarning) {
	c := cleaner{orig: it, out: it}
	if ref := it.GetExternalReference(); !definedEnum(ref.GetSystem()) {
		c.item().ExternalReference.System = typev1.ExternalSystem_EXTERNAL_SYSTEM_UNSPECIFIED
		c.warn("external_reference.system", WarningUnknownCode,
			"%d is not an external system the ledger knows: stored as unspecified", ref.GetSystem())
	}
	switch st := it.GetExternalStatus(); {
	case st == requestsv1.Status_STATUS_UNSPECIFIED:
		c.warn("external_status", WarningUnknownStatus,
			"no status: a new request starts as %s, an existing one keeps its status", requestsv1.Status_STATUS_CREATED)
	case !definedEnum(st):
		c.item().ExternalStatus = requestsv1.Status_STATUS_UNSPECIFIED
		c.warn("external_status", WarningUnknownStatus,
			"%d is not a status the ledger knows: a new request starts as %s, an existing one keeps its status", st, requestsv1.Status_STATUS_CREATED)
	}
	if p := it.GetPartner(); p != "" && !validPartner(p) {
		c.item().Partner = ""
		c.warn("partner", WarningInvalidReference, "not of the form %s{code}: the request is stored without a partner", partnerPrefix)
	}
	if f := it.GetFormat(); !definedEnum(f) {
		c.item().Format = requestsv1.Format_FORMAT_UNSPECIFIED
		c.warn("format", WarningUnknownCode, "%d is not a format the ledger knows: stored as unspecified", f)
	}
	if m := it.GetMedia(); !definedEnum(m) {
		c.item().Media = requestsv1.Media_MEDIA_UNSPECIFIED
		c.warn("media", WarningUnknownCode, "%d is not a media the ledger knows: stored as unspecified (a loan)", m)
	}
	c.rota()
	for _, f := range textFields {
		if p := f.at(it); p != nil && !textOK(*p, MaxText, true) {
			c.text(f.name, f.at(c.item()), MaxText, true)
		}
	}
	own := c.own()
	if len(c.warnings) == 0 {
		return c.out, own
	}
	return c.out, append(slices.Clip(own), c.warnings...)
}

type cleaner struct {
	orig, out *requestsv1.IngestItem
	warnings  []*typev1.DataWarning // the ledger's
}

// item is the item to change: a clone of the original, made at the first change.
func (c *cleaner) item() *requestsv1.IngestItem {
	if c.out == c.orig {
		c.out = proto.CloneOf(c.orig)
	}
	return c.out
}

func (c *cleaner) warn(field, code, format string, args ...any) {
	c.warnings = append(c.warnings, &typev1.DataWarning{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

// text repairs the text at p in place and warns about each change. Warnings never quote
// the text: it may be the patron's.
func (c *cleaner) text(field string, p *string, limit int, multiline bool) {
	s, replaced := repairText(*p, multiline)
	if replaced > 0 {
		c.warn(field, WarningInvalidCharacters,
			"held invalid UTF-8 or control characters: %d replaced by U+FFFD", replaced)
	}
	if n := utf8.RuneCountInString(s); n > limit {
		var kept int
		s, kept = truncate(s, n, limit)
		c.warn(field, WarningTextTruncated,
			"%d characters, more than the ledger keeps (%d): the first %d stored, followed by %q", n, limit, kept, truncationMarker(n-kept))
	}
	*p = s
}

// rota bounds the rota and repairs its entries; the warnings name the entries by their
// position in the item as received.
func (c *cleaner) rota() {
	in := c.orig.GetRota()
	if len(in) <= maxRota && !slices.ContainsFunc(in, entryNeedsWork) {
		return
	}
	out := c.item()
	entries := out.Rota
	if len(entries) > maxRota {
		c.warn("rota", WarningTooManyEntries, "%d entries, more than the ledger keeps (%d): the first %d kept", len(entries), maxRota, maxRota)
		entries = entries[:maxRota]
	}
	kept := entries[:0] // the clone's own array
	var empty []string
	for i, e := range entries {
		field := "rota[" + strconv.Itoa(i) + "]"
		if p := e.GetPartner(); p != "" && !validPartner(p) {
			e.Partner = ""
			c.warn(field+".partner", WarningInvalidReference, "not of the form %s{code}: dropped", partnerPrefix)
		}
		if e.GetPartnerCode() == "" && e.GetPartner() == "" {
			empty = append(empty, strconv.Itoa(i))
			continue
		}
		if !textOK(e.PartnerCode, MaxText, false) {
			c.text(field+".partner_code", &e.PartnerCode, MaxText, false)
		}
		if !textOK(e.Response, MaxText, true) {
			c.text(field+".response", &e.Response, MaxText, true)
		}
		kept = append(kept, e)
	}
	out.Rota = kept
	if len(empty) > 0 {
		// One warning for them all: a sender that fills a rota with blanks would
		// otherwise bury the other warnings.
		c.warn("rota", WarningEmptyEntry, "%d entries name no lender (neither partner_code nor partner), dropped: positions %s",
			len(empty), strings.Join(empty, ", "))
	}
}

func entryNeedsWork(e *requestsv1.RotaEntry) bool {
	return e.GetPartnerCode() == "" && e.GetPartner() == "" ||
		e.GetPartner() != "" && !validPartner(e.GetPartner()) ||
		!textOK(e.GetPartnerCode(), MaxText, false) || !textOK(e.GetResponse(), MaxText, true)
}

// own returns the item's own warnings as they are stored: at most maxItemWarnings, each
// text bounded and repaired (visibly: the marker, U+FFFD), unset ones left out.
func (c *cleaner) own() []*typev1.DataWarning {
	in := c.orig.GetWarnings()
	if len(in) <= maxItemWarnings && !slices.ContainsFunc(in, warningNeedsWork) {
		return in
	}
	out := make([]*typev1.DataWarning, 0, min(len(in), maxItemWarnings)+1)
	for _, w := range in {
		if w == nil {
			continue
		}
		if len(out) == maxItemWarnings {
			out = append(out, &typev1.DataWarning{Code: WarningTooManyWarnings,
				Message: fmt.Sprintf("the item brought %d warnings, more than the ledger keeps (%d): the first %d kept", len(in), maxItemWarnings, maxItemWarnings)})
			break
		}
		if !warningNeedsWork(w) {
			out = append(out, w)
			continue
		}
		out = append(out, &typev1.DataWarning{
			Field:   boundText(w.GetField(), false),
			Code:    boundText(w.GetCode(), false),
			Message: boundText(w.GetMessage(), true),
		})
	}
	return out
}

func warningNeedsWork(w *typev1.DataWarning) bool {
	return w == nil || !textOK(w.GetField(), maxWarningText, false) || !textOK(w.GetCode(), maxWarningText, false) ||
		!textOK(w.GetMessage(), maxWarningText, true)
}

// boundText is a warning's text repaired and cut at maxWarningText.
func boundText(s string, multiline bool) string {
	s, _ = repairText(s, multiline)
	if n := utf8.RuneCountInString(s); n > maxWarningText {
		s, _ = truncate(s, n, maxWarningText)
	}
	return s
}

// textOK reports whether s is stored as it is: valid UTF-8, at most limit characters, and
// no control characters (but line breaks and tabs where multiline allows them). One pass,
// no allocation: it runs on every text field of every item.
func textOK(s string, limit int, multiline bool) bool {
	if len(s) > limit && utf8.RuneCountInString(s) > limit {
		return false
	}
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b < 0x20 || b == 0x7f {
				if !multiline || (b != '\n' && b != '\r' && b != '\t') {
					return false
				}
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r >= 0x80 && r <= 0x9f { // invalid, or a C1 control
			return false
		}
		i += n
	}
	return true
}

// repairText replaces each invalid byte and each control character textOK refuses by
// U+FFFD, and returns the count replaced.
func repairText(s string, multiline bool) (string, int) {
	var b strings.Builder
	replaced := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		bad := r == utf8.RuneError && n == 1 || r < 0x20 && (!multiline || r != '\n' && r != '\r' && r != '\t') || r >= 0x7f && r <= 0x9f
		if bad && replaced == 0 {
			b.Grow(len(s) + 2)
			b.WriteString(s[:i])
		}
		switch {
		case bad:
			b.WriteRune(utf8.RuneError)
			replaced++
		case replaced > 0:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	if replaced == 0 {
		return s, 0
	}
	return b.String(), replaced
}

// truncate cuts s, of n characters, to at most limit characters including the marker
// that ends it, and returns it with the number of characters kept. The marker is sized
// for the longest possible cut, so text and marker never exceed limit.
func truncate(s string, n, limit int) (string, int) {
	keep := max(0, limit-utf8.RuneCountInString(truncationMarker(n)))
	k := 0
	for i := range s {
		if k == keep {
			return s[:i] + truncationMarker(n-keep), keep
		}
		k++
	}
	return s, n // not reached: s has n > limit characters
}

// personalWarning reports whether w is about the patron's data, which anonymizing removes.
func personalWarning(w *typev1.DataWarning) bool {
	return w.GetField() == "note" || strings.HasPrefix(w.GetField(), "requester.") || w.GetField() == "requester"
}
