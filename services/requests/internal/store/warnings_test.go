package store

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
)

// warned lists warnings as "field:code", in order.
func warned(ws []*typev1.DataWarning) string {
	var out []string
	for _, w := range ws {
		out = append(out, w.GetField()+":"+w.GetCode())
	}
	return strings.Join(out, " ")
}

// markerRE splits a truncated text into what was kept and the count the marker names,
// written out here rather than taken from the code under test.
var markerRE = regexp.MustCompile(`(?s)^(.*)… \[truncated: (\d+) more characters\]$`)

// checkTruncated checks that got is orig cut at a character boundary with the marker:
// kept whole up to the cut, the marker counting exactly what was cut, and both together
// within the bound.
func checkTruncated(t *testing.T, got, orig string, bound int) {
	t.Helper()
	m := markerRE.FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("no truncation marker at the end of %d characters: ...%q", utf8.RuneCountInString(got), got[max(0, len(got)-60):])
	}
	cut, err := strconv.Atoi(m[2])
	noErr(t, err)
	kept := utf8.RuneCountInString(m[1])
	if !strings.HasPrefix(orig, m[1]) || kept+cut != utf8.RuneCountInString(orig) {
		t.Errorf("kept %d characters (a prefix: %v) and cut %d of %d", kept, strings.HasPrefix(orig, m[1]), cut, utf8.RuneCountInString(orig))
	}
	if n := utf8.RuneCountInString(got); n > bound || n < bound-60 {
		t.Errorf("stored %d characters, want at most %d and close to it", n, bound)
	}
}

// TestDataWarnings checks every field-level rule: the item is CREATED (or UPDATED) with
// the field normalised and a warning naming it, the caller's item is left as it was, the
// result and the stored request carry the same warnings, and a re-import of the same
// item is UNCHANGED, keeps them and writes nothing.
func TestDataWarnings(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) }
	rota := func(entries ...*requestsv1.RotaEntry) func(*requestsv1.IngestItem) {
		return func(it *requestsv1.IngestItem) { it.Rota = entries }
	}
	own := &typev1.DataWarning{Field: "bibliographic.year", Code: "UNPARSABLE_DATE", Message: `year "MCMXC?" is not a year`}
	for _, tc := range []struct {
		name  string
		mod   func(*requestsv1.IngestItem)
		want  string                                         // the warnings, field:code
		check func(*testing.T, *requestsv1.BorrowingRequest) // the stored request, created or updated
	}{
		{"unknown system", func(it *requestsv1.IngestItem) { it.ExternalReference.System = 42 }, "external_reference.system:UNKNOWN_CODE",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				if r.ExternalReference.System != typev1.ExternalSystem_EXTERNAL_SYSTEM_UNSPECIFIED || r.ExternalReference.ExternalId != "X" {
					t.Errorf("reference %v", r.ExternalReference)
				}
			}},
		// Created: CREATED with no external status on record; updated: both as they were
		// (TestUnknownStatusKeepsTheRequest).
		{"no status", func(it *requestsv1.IngestItem) { it.ExternalStatus = 0 }, "external_status:UNKNOWN_STATUS",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				if r.Status != stCreated || r.ExternalStatus != 0 && r.ExternalStatus != stCreated {
					t.Errorf("status %s, external %s", r.Status, r.ExternalStatus)
				}
			}},
		{"unknown status", func(it *requestsv1.IngestItem) { it.ExternalStatus = 99 }, "external_status:UNKNOWN_STATUS",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				if r.Status != stCreated || r.ExternalStatus != 0 && r.ExternalStatus != stCreated {
					t.Errorf("status %s, external %s", r.Status, r.ExternalStatus)
				}
			}},
		{"bare partner code", func(it *requestsv1.IngestItem) { it.Partner = "ABC" }, "partner:INVALID_REFERENCE",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				if r.Partner != "" || r.ExternalPartner != "" {
					t.Errorf("partner %q, external %q", r.Partner, r.ExternalPartner)
				}
			}},
		{"partner without code", func(it *requestsv1.IngestItem) { it.Partner = "partners/" }, "partner:INVALID_REFERENCE", nil},
		{"partner with NUL", func(it *requestsv1.IngestItem) { it.Partner = "partners/A\x00B" }, "partner:INVALID_REFERENCE", nil},
		{"unknown format", func(it *requestsv1.IngestItem) { it.Format = 9 }, "format:UNKNOWN_CODE",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				if r.Format != requestsv1.Format_FORMAT_UNSPECIFIED {
					t.Errorf("format %v", r.Format)
				}
			}},
		{"unknown media", func(it *requestsv1.IngestItem) { it.Media = 9 }, "media:UNKNOWN_CODE",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				if r.Media != requestsv1.Media_MEDIA_UNSPECIFIED {
					t.Errorf("media %v", r.Media)
				}
			}},
		{"rota too long", func(it *requestsv1.IngestItem) {
			it.Rota = nil
			for i := range 150 {
				it.Rota = append(it.Rota, &requestsv1.RotaEntry{PartnerCode: fmt.Sprint("L", i)})
			}
		}, "rota:TOO_MANY_ENTRIES",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				if len(r.Rota) != maxRota || r.Rota[maxRota-1].PartnerCode != fmt.Sprint("L", maxRota-1) {
					t.Errorf("%d rota entries", len(r.Rota))
				}
			}},
		{"rota partner", rota(&requestsv1.RotaEntry{PartnerCode: "A", Partner: "partners/A"}, &requestsv1.RotaEntry{PartnerCode: "x", Partner: "x"}),
			"rota[1].partner:INVALID_REFERENCE",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				if len(r.Rota) != 2 || r.Rota[1].PartnerCode != "x" || r.Rota[1].Partner != "" || r.Rota[0].Partner != "partners/A" {
					t.Errorf("rota %v", r.Rota)
				}
			}},
		{"rota entries naming no lender", rota(&requestsv1.RotaEntry{Active: true}, &requestsv1.RotaEntry{PartnerCode: "B"}, nil,
			&requestsv1.RotaEntry{Partner: "bad", Response: "no"}),
			"rota[3].partner:INVALID_REFERENCE rota:EMPTY_ENTRY",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				if len(r.Rota) != 1 || r.Rota[0].PartnerCode != "B" || !strings.Contains(r.DataWarnings[1].Message, "positions 0, 2, 3") {
					t.Errorf("rota %v, warnings %v", r.Rota, r.DataWarnings)
				}
			}},
		{"rota code on two lines", rota(&requestsv1.RotaEntry{PartnerCode: "A\nB", Response: "ja\nnej"}), "rota[0].partner_code:INVALID_CHARACTERS",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				if r.Rota[0].PartnerCode != "A\uFFFDB" || r.Rota[0].Response != "ja\nnej" {
					t.Errorf("rota %v", r.Rota)
				}
			}},
		{"rota response too long", rota(&requestsv1.RotaEntry{PartnerCode: "A", Response: long(MaxText + 1)}), "rota[0].response:TEXT_TRUNCATED",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				checkTruncated(t, r.Rota[0].Response, long(MaxText+1), MaxText)
			}},
		{"raw status too long", func(it *requestsv1.IngestItem) { it.ExternalReference.StatusRaw = long(MaxText + 1) }, "external_reference.status_raw:TEXT_TRUNCATED",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				checkTruncated(t, r.ExternalReference.StatusRaw, long(MaxText+1), MaxText)
			}},
		{"title with control character", func(it *requestsv1.IngestItem) { it.Bibliographic.Title = "a\x1fb\u0085c\x7f" }, "bibliographic.title:INVALID_CHARACTERS",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				if r.Bibliographic.Title != "a\uFFFDb\uFFFDc\uFFFD" || !strings.Contains(r.DataWarnings[0].Message, ": 3 replaced") {
					t.Errorf("title %q, warnings %v", r.Bibliographic.Title, r.DataWarnings)
				}
			}},
		{"note not UTF-8", func(it *requestsv1.IngestItem) { it.Note = "a\xffb\xc3" }, "note:INVALID_CHARACTERS",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				if r.Note != "a\uFFFDb\uFFFD" {
					t.Errorf("note %q", r.Note)
				}
			}},
		{"note with line breaks and tabs", func(it *requestsv1.IngestItem) { it.Note = "Hej,\r\n\ttack!\n" }, "",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				if r.Note != "Hej,\r\n\ttack!\n" {
					t.Errorf("note %q", r.Note)
				}
			}},
		{"patron name too long", func(it *requestsv1.IngestItem) { it.Requester.Name = long(50000) }, "requester.name:TEXT_TRUNCATED",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				checkTruncated(t, r.Requester.Name, long(50000), MaxText)
				if !strings.Contains(r.DataWarnings[0].Message, "50000 characters") || strings.Contains(r.DataWarnings[0].Message, "é") {
					t.Errorf("the warning must name the length and never the text: %q", r.DataWarnings[0].Message)
				}
			}},
		{"invalid and too long", func(it *requestsv1.IngestItem) { it.Bibliographic.Author = "\x00" + long(MaxText) }, "bibliographic.author:INVALID_CHARACTERS bibliographic.author:TEXT_TRUNCATED",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				checkTruncated(t, r.Bibliographic.Author, "\uFFFD"+long(MaxText), MaxText)
			}},
		{"no bibliographic data or requester", func(it *requestsv1.IngestItem) { it.Bibliographic, it.Requester = nil, nil }, "", nil},
		{"its own warnings, then the ledger's", func(it *requestsv1.IngestItem) {
			it.Warnings = []*typev1.DataWarning{own, {Code: "UNKNOWN_STATUS", Message: `unknown Libris status "Ny"`}}
			it.Media = 7
		}, "bibliographic.year:UNPARSABLE_DATE :UNKNOWN_STATUS media:UNKNOWN_CODE",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				if !proto.Equal(r.DataWarnings[0], own) {
					t.Errorf("own warning stored as %v", r.DataWarnings[0])
				}
			}},
		{"too many and odd own warnings", func(it *requestsv1.IngestItem) {
			it.Warnings = []*typev1.DataWarning{nil, {Field: "note\n", Code: "X", Message: strings.Repeat("m", 5000)}}
			for range 200 {
				it.Warnings = append(it.Warnings, own)
			}
		}, "note\uFFFD:X" + strings.Repeat(" bibliographic.year:UNPARSABLE_DATE", maxItemWarnings-1) + " :TOO_MANY_WARNINGS",
			func(t *testing.T, r *requestsv1.BorrowingRequest) {
				w := r.DataWarnings[0]
				if w.Field != "note\uFFFD" || utf8.RuneCountInString(w.Message) > maxWarningText {
					t.Errorf("odd warning stored as %q %q (%d characters)", w.Field, w.Code, utf8.RuneCountInString(w.Message))
				}
				checkTruncated(t, w.Message, strings.Repeat("m", 5000), maxWarningText)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, update := range []bool{false, true} {
				s := newStore(t)
				if update {
					apply(t, s, t0, item("X", t0.Add(-time.Hour)))
				}
				in := item("X", t0, tc.mod)
				sent := proto.CloneOf(in)
				res := apply(t, s, t0.Add(time.Minute), in)
				want := "CREATED"
				if update {
					want = "UPDATED"
				}
				if outcomes(res) != want || warned(res[0].Warnings) != tc.want {
					t.Fatalf("update %v: %s with warnings %q, want %s with %q (%v)", update, outcomes(res), warned(res[0].Warnings), want, tc.want, res[0].Warnings)
				}
				if !proto.Equal(in, sent) {
					t.Fatal("the caller's item was changed")
				}
				r := get(t, s, 1)
				if !equalWarnings(r.DataWarnings, res[0].Warnings) {
					t.Fatalf("stored warnings %v, result %v", r.DataWarnings, res[0].Warnings)
				}
				if tc.check != nil {
					tc.check(t, r)
				}
				checkIndexes(t, s)
				// The same item again: unchanged, the same warnings, nothing written.
				before := dump(t, s)
				res = apply(t, s, t0.Add(2*time.Minute), in)
				if outcomes(res) != "UNCHANGED" || !equalWarnings(res[0].Warnings, r.DataWarnings) {
					t.Fatalf("re-import: %v", res[0])
				}
				if after := dump(t, s); fmt.Sprint(after) != fmt.Sprint(before) {
					t.Error("a re-import wrote something")
				}
			}
		})
	}
}

func equalWarnings(a, b []*typev1.DataWarning) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestLongNotes: a 10 000-character patron message is kept whole, a 100 000-character one
// is kept cut with the marker and a warning naming the field and its length; both are
// created, and a second import of the same items changes and duplicates nothing.
func TestLongNotes(t *testing.T) {
	s := newStore(t)
	// Multi-byte characters with line breaks, as a real message has.
	text := func(n int) string {
		return string([]rune(strings.Repeat("Hälsningar från Göteborg!\n", n/26+1))[:n])
	}
	tenK, hundredK := text(10000), text(100000)
	items := []*requestsv1.IngestItem{
		item("10k", t0, func(it *requestsv1.IngestItem) { it.Note = tenK }),
		item("100k", t0, func(it *requestsv1.IngestItem) { it.Note = hundredK }),
	}
	res := apply(t, s, t0.Add(time.Minute), items...)
	if outcomes(res) != "CREATED CREATED" || len(res[0].Warnings) != 0 || warned(res[1].Warnings) != "note:TEXT_TRUNCATED" {
		t.Fatalf("import: %s, warnings %v / %v", outcomes(res), res[0].Warnings, res[1].Warnings)
	}
	if msg := res[1].Warnings[0].Message; !strings.Contains(msg, "100000 characters") || !strings.Contains(msg, fmt.Sprint(MaxText)) {
		t.Errorf("warning %q must name the original length and the bound", msg)
	}
	if r := get(t, s, 1); r.Note != tenK || len(r.DataWarnings) != 0 {
		t.Errorf("the 10 000-character note was changed (%d characters), warnings %v", utf8.RuneCountInString(r.Note), r.DataWarnings)
	}
	r := get(t, s, 2)
	checkTruncated(t, r.Note, hundredK, MaxText)
	if !equalWarnings(r.DataWarnings, res[1].Warnings) {
		t.Errorf("stored warnings %v", r.DataWarnings)
	}
	checkIndexes(t, s)

	before := dump(t, s)
	res = apply(t, s, t0.Add(2*time.Minute), items...)
	if outcomes(res) != "UNCHANGED UNCHANGED" || len(res[0].Warnings) != 0 || !equalWarnings(res[1].Warnings, r.DataWarnings) {
		t.Fatalf("second import: %v", res)
	}
	if fmt.Sprint(dump(t, s)) != fmt.Sprint(before) {
		t.Error("the second import wrote something")
	}
	for id := uint64(1); id <= 2; id++ {
		if evs, _, err := s.Events(id, nil, 10); err != nil || len(evs) != 1 {
			t.Errorf("request %d: %d events (%v), want the import only", id, len(evs), err)
		}
	}
}

// TestWarningsFollowImports: the warnings are those of the latest import that changed
// the request. An unchanged re-import keeps them, whatever it brings; a newer version
// replaces them, by none when it is clean.
func TestWarningsFollowImports(t *testing.T) {
	s := newStore(t)
	lm := t0.Add(-time.Hour)
	long := strings.Repeat("x", MaxText+1)
	apply(t, s, t0, item("1", lm, func(it *requestsv1.IngestItem) { it.Note = long }))
	if w := warned(get(t, s, 1).DataWarnings); w != "note:TEXT_TRUNCATED" {
		t.Fatalf("after the first import: %q", w)
	}
	// The same version with other faults: unchanged, the warnings stay.
	res := apply(t, s, t0.Add(time.Minute), item("1", lm, func(it *requestsv1.IngestItem) { it.Media = 9 }))
	if outcomes(res) != "UNCHANGED" || warned(res[0].Warnings) != "note:TEXT_TRUNCATED" || warned(get(t, s, 1).DataWarnings) != "note:TEXT_TRUNCATED" {
		t.Errorf("unchanged re-import: %v", res[0])
	}
	// A newer version with another fault: its warnings replace the old.
	res = apply(t, s, t0.Add(2*time.Minute), item("1", lm.Add(time.Second), func(it *requestsv1.IngestItem) { it.Media = 9 }))
	if outcomes(res) != "UPDATED" || warned(res[0].Warnings) != "media:UNKNOWN_CODE" || warned(get(t, s, 1).DataWarnings) != "media:UNKNOWN_CODE" {
		t.Errorf("newer version: %v", res[0])
	}
	// A clean newer version clears them.
	res = apply(t, s, t0.Add(3*time.Minute), item("1", lm.Add(2*time.Second)))
	if outcomes(res) != "UPDATED" || len(res[0].Warnings) != 0 || len(get(t, s, 1).DataWarnings) != 0 {
		t.Errorf("clean version: %v, stored %v", res[0], get(t, s, 1).DataWarnings)
	}
	checkIndexes(t, s)
}

// TestUnknownStatusKeepsTheRequest: an update without a usable status is not
// reconciled: the status stays, and the last known external status stays on record, so
// the next known one is compared with it.
func TestUnknownStatusKeepsTheRequest(t *testing.T) {
	s := newStore(t)
	lm := t0.Add(-time.Hour)
	apply(t, s, t0, item("1", lm, func(it *requestsv1.IngestItem) { it.ExternalStatus, it.ExternalReference.StatusRaw = stSent, "Läst" }))
	res := apply(t, s, t0.Add(time.Minute), item("1", lm.Add(time.Second), func(it *requestsv1.IngestItem) {
		it.ExternalStatus, it.ExternalReference.StatusRaw = 0, "Något nytt"
		it.Bibliographic.Title = "Hemsöborna"
	}))
	r := get(t, s, 1)
	if outcomes(res) != "UPDATED" || r.Status != stSent || r.ExternalStatus != stSent || r.NeedsAttention ||
		r.ExternalReference.StatusRaw != "Något nytt" || r.Bibliographic.Title != "Hemsöborna" || warned(r.DataWarnings) != "external_status:UNKNOWN_STATUS" {
		t.Fatalf("after an unknown status: %s, %v", outcomes(res), r)
	}
	// The same raw status, now mapped: news, so reconciled.
	apply(t, s, t0.Add(2*time.Minute), item("1", lm.Add(2*time.Second), func(it *requestsv1.IngestItem) {
		it.ExternalStatus, it.ExternalReference.StatusRaw = stShipped, "Något nytt"
	}))
	if r := get(t, s, 1); r.Status != stShipped || len(r.DataWarnings) != 0 {
		t.Errorf("after a known status: %s, %v", r.Status, r.DataWarnings)
	}
	checkIndexes(t, s)
}

// TestAnonymizeDropsPersonalWarnings: the warnings about the patron's data go with it,
// the others stay, and a later import does not bring them back.
func TestAnonymizeDropsPersonalWarnings(t *testing.T) {
	s := newStore(t)
	clk := &clock{t: t0}
	mods := func(it *requestsv1.IngestItem) {
		it.ExternalStatus = stCompleted
		it.Note, it.Requester.Name, it.Media = strings.Repeat("x", MaxText+1), "Ada\x00", 9
	}
	apply(t, s, clk.now(), item("1", t0.Add(-time.Hour), mods))
	if w := warned(get(t, s, 1).DataWarnings); w != "media:UNKNOWN_CODE requester.name:INVALID_CHARACTERS note:TEXT_TRUNCATED" {
		t.Fatalf("imported with %q", w)
	}
	r := do(t, s, 1, Command{Action: lifecycle.Anonymize}, clk.now())
	if w := warned(r.DataWarnings); w != "media:UNKNOWN_CODE" {
		t.Errorf("anonymized with %q", w)
	}
	res := apply(t, s, clk.now(), item("1", t0, mods))
	if w := warned(get(t, s, 1).DataWarnings); outcomes(res) != "UPDATED" || w != "media:UNKNOWN_CODE" || warned(res[0].Warnings) != w {
		t.Errorf("re-harvested after anonymizing: %s, stored %q, result %q", outcomes(res), w, warned(res[0].Warnings))
	}
	checkIndexes(t, s)
}

// TestText checks the text rules against cases written out by hand.
func TestText(t *testing.T) {
	for _, tc := range []struct {
		in        string
		multiline bool
		want      string
		replaced  int
	}{
		{"", false, "", 0},
		{"Röda rummet", false, "Röda rummet", 0},
		{"a\nb\tc\r", true, "a\nb\tc\r", 0},
		{"a\nb", false, "a\uFFFDb", 1},
		{"\x00\x7f\u0080\u009f\u00a0", true, "\uFFFD\uFFFD\uFFFD\uFFFD\u00a0", 4},
		{"\xe2\x80", true, "\uFFFD\uFFFD", 2},               // a cut multi-byte character
		{"\uFFFD", true, "\uFFFD", 0},                       // a replacement character sent as such is valid
		{"x\xed\xa0\x80y", true, "x\uFFFD\uFFFD\uFFFDy", 3}, // an encoded surrogate
	} {
		got, n := repairText(tc.in, tc.multiline)
		if got != tc.want || n != tc.replaced {
			t.Errorf("repairText(%q, %v) = %q, %d; want %q, %d", tc.in, tc.multiline, got, n, tc.want, tc.replaced)
		}
		if ok := textOK(tc.in, 100, tc.multiline); ok != (tc.replaced == 0) {
			t.Errorf("textOK(%q, %v) = %v", tc.in, tc.multiline, ok)
		}
	}
	got, kept := truncate(strings.Repeat("é", 100), 100, 50)
	if want := strings.Repeat("é", kept) + "… [truncated: " + fmt.Sprint(100-kept) + " more characters]"; got != want || utf8.RuneCountInString(got) > 50 {
		t.Errorf("truncate = %q (%d kept)", got, kept)
	}
}

// FuzzText: whatever the input, the repaired and bounded text passes textOK, and a text
// that passes it is stored as it is.
func FuzzText(f *testing.F) {
	for _, s := range []string{"", "abc", "a\nb", "\xff\xfe", "é\x00", "\u0085", strings.Repeat("ö", 70)} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, multiline bool) {
		const bound = 64 // above the marker's length, below the fuzzer's longer inputs
		c := cleaner{orig: &requestsv1.IngestItem{}, out: &requestsv1.IngestItem{}}
		got := s
		c.text("f", &got, bound, multiline)
		if textOK(s, bound, multiline) {
			if got != s || len(c.warnings) != 0 {
				t.Fatalf("clean %q stored as %q with %v", s, got, c.warnings)
			}
			return
		}
		if !textOK(got, bound, multiline) || len(c.warnings) == 0 {
			t.Fatalf("%q repaired to %q (%v), which is not clean", s, got, c.warnings)
		}
	})
}

// TestCleanItemCostsNoAllocation: checking a clean item, as nearly every import brings,
// allocates nothing (the ledger is on the import's hot path); only an item with
// something to warn about pays for its copy and its warnings.
func TestCleanItemCostsNoAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	it := item("1", t0, func(it *requestsv1.IngestItem) {
		it.Rota = append(it.Rota, &requestsv1.RotaEntry{PartnerCode: "B", Response: "Nej\ntack"})
		it.Warnings = []*typev1.DataWarning{{Field: "bibliographic.year", Code: "UNPARSABLE_DATE", Message: "not a year"}}
	})
	allocs := testing.AllocsPerRun(100, func() {
		if checkIdentity(it, t0) != "" {
			t.Fatal("rejected")
		}
		if out, ws := clean(it); out != it || len(ws) != 1 {
			t.Fatalf("cleaned to %v, %v", out, ws)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per clean item, want 0", allocs)
	}
}
