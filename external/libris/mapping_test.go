package libris

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"

	"github.com/interloan/interloan/external/connector"
)

func mapOf(t *testing.T, m map[string]any) *connector.Request {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return mapItem(b, "Abc")
}

func TestMapStatusTable(t *testing.T) {
	loan, copy := requestsv1.Media_MEDIA_LOAN, requestsv1.Media_MEDIA_COPY
	for _, tc := range []struct {
		raw          string
		media        requestsv1.Media
		want         requestsv1.Status
		wantKnown    bool
		alsoForMedia bool // the same answer for the other media
	}{
		{"Uteliggande", loan, requestsv1.Status_STATUS_REQUEST_SENT, true, true},
		{"Remitterad", loan, requestsv1.Status_STATUS_REQUEST_SENT, true, true},
		{"Läst", loan, requestsv1.Status_STATUS_REQUEST_SENT, true, true},
		{"Kan reserveras", loan, requestsv1.Status_STATUS_REQUEST_SENT, true, true},
		{"Reservation", loan, requestsv1.Status_STATUS_REQUEST_SENT, true, true},
		{"Ej avbeställd!", loan, requestsv1.Status_STATUS_REQUEST_SENT, true, true},
		{"Reserverad", loan, requestsv1.Status_STATUS_WILL_SUPPLY, true, true},
		{"Levererad", loan, requestsv1.Status_STATUS_SHIPPED_PHYSICALLY, true, false},
		{"Levererad", copy, requestsv1.Status_STATUS_SHIPPED_DIGITALLY, true, false},
		{"Levererad", requestsv1.Media_MEDIA_UNSPECIFIED, requestsv1.Status_STATUS_SHIPPED_PHYSICALLY, true, false},
		{"Negativt svar", loan, requestsv1.Status_STATUS_REJECTED_BY_PARTNER, true, true},
		{"Avbeställd", loan, requestsv1.Status_STATUS_CANCELLED_BY_STAFF, true, true},
		{"Makulerad", loan, requestsv1.Status_STATUS_CANCELLED_BY_PARTNER, true, true},
		// Exact comparison: near misses are unknown.
		{"Ej avbeställd", loan, requestsv1.Status_STATUS_REQUEST_SENT, false, true},
		{"läst", loan, requestsv1.Status_STATUS_REQUEST_SENT, false, true},
		{"La\u0308st", loan, requestsv1.Status_STATUS_REQUEST_SENT, false, true}, // decomposed ä
		{"Levererad ", loan, requestsv1.Status_STATUS_REQUEST_SENT, false, true},
		{"Ankommen", loan, requestsv1.Status_STATUS_REQUEST_SENT, false, true},
		{"", loan, requestsv1.Status_STATUS_REQUEST_SENT, false, true},
	} {
		got, known := MapStatus(tc.raw, tc.media)
		if got != tc.want || known != tc.wantKnown {
			t.Errorf("MapStatus(%q, %s) = %s, %v; want %s, %v", tc.raw, tc.media, got, known, tc.want, tc.wantKnown)
		}
		if tc.alsoForMedia {
			if got2, _ := MapStatus(tc.raw, copy); got2 != got {
				t.Errorf("MapStatus(%q) differs for copies: %s vs %s", tc.raw, got2, got)
			}
		}
	}
	if len(statusTable) != 11 {
		t.Errorf("status table has %d entries; update this test with the new ones", len(statusTable))
	}
}

func TestMapStatusInRequest(t *testing.T) {
	for raw := range statusTable {
		for _, media := range []string{"Lån", "Kopia"} {
			r := mapOf(t, item("Abc-250301-0001", map[string]any{"status": raw, "media_type": media}))
			want, _ := MapStatus(raw, r.Media)
			if r.Status != want || r.StatusRaw != raw || len(r.Warnings) != 0 || r.Problem != "" {
				t.Errorf("%s/%s: status %s raw %q warnings %v problem %q", raw, media, r.Status, r.StatusRaw, r.Warnings, r.Problem)
			}
		}
	}
	r := mapOf(t, item("Abc-250301-0001", map[string]any{"status": "Ankommen"}))
	if r.Status != requestsv1.Status_STATUS_REQUEST_SENT || r.Problem != "" || len(r.Warnings) != 1 || r.Warnings[0].GetMessage() != `unknown Libris status "Ankommen"` ||
		r.Warnings[0].GetCode() != connector.WarnUnknownStatus || r.Warnings[0].GetField() != "status" {
		t.Errorf("unknown status: %s, problem %q, warnings %v", r.Status, r.Problem, r.Warnings)
	}
	r = mapOf(t, item("Abc-250301-0001", map[string]any{"status": nil}))
	if r.Problem != "" || len(r.Warnings) != 1 || r.Warnings[0].GetMessage() != "status is missing" || r.Warnings[0].GetCode() != connector.WarnMissing {
		t.Errorf("missing status: problem %q, warnings %v", r.Problem, r.Warnings)
	}
}

func TestMediaMapping(t *testing.T) {
	for _, tc := range []struct {
		media   any
		m       requestsv1.Media
		f       requestsv1.Format
		warning string
	}{
		{"Lån", requestsv1.Media_MEDIA_LOAN, requestsv1.Format_FORMAT_PHYSICAL, ""},
		{"Kopia", requestsv1.Media_MEDIA_COPY, requestsv1.Format_FORMAT_DIGITAL, ""},
		{"Lan", requestsv1.Media_MEDIA_UNSPECIFIED, requestsv1.Format_FORMAT_UNSPECIFIED, `unknown Libris media type "Lan"`},
		{"Mikrofilm", requestsv1.Media_MEDIA_UNSPECIFIED, requestsv1.Format_FORMAT_UNSPECIFIED, `unknown Libris media type "Mikrofilm"`},
		{nil, requestsv1.Media_MEDIA_UNSPECIFIED, requestsv1.Format_FORMAT_UNSPECIFIED, "media_type is missing"},
	} {
		r := mapOf(t, item("Abc-250301-0001", map[string]any{"media_type": tc.media}))
		if r.Media != tc.m || r.Format != tc.f || r.Problem != "" {
			t.Errorf("%v: media %s format %s problem %q", tc.media, r.Media, r.Format, r.Problem)
		}
		if got := connector.WarningText(r.Warnings); got != tc.warning {
			t.Errorf("%v: warnings %q, want %q", tc.media, got, tc.warning)
		}
	}
}

func TestProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]any
		want string
	}{
		{"no lf_number", map[string]any{"lf_number": nil}, "lf_number is missing"},
		{"blank lf_number", map[string]any{"lf_number": "  "}, "lf_number is missing"},
		{"lf_number object", map[string]any{"lf_number": map[string]any{}}, "lf_number is not a string"},
		{"no request_id", map[string]any{"request_id": nil}, "request_id is missing"},
		{"null request_id", map[string]any{"request_id": json.RawMessage("null")}, "request_id is missing"},
		{"no last_modified", map[string]any{"last_modified": nil}, "last_modified is missing"},
		{"bad last_modified", map[string]any{"last_modified": "2025-03-01"}, `last_modified "2025-03-01" is not a Unix time in seconds`},
		{"zero last_modified", map[string]any{"last_modified": "0"}, `last_modified "0" is not a Unix time in seconds`},
		{"huge last_modified", map[string]any{"last_modified": "99999999999999"}, "is not a Unix time"},
		{"no requesting_library", map[string]any{"requesting_library": nil}, "requesting_library is missing"},
		{"other library", map[string]any{"requesting_library": "Xyz"}, `requesting_library "Xyz" is not this profile's library "Abc"`},
		{"case differs", map[string]any{"requesting_library": "abc"}, `requesting_library "abc" is not this profile's library "Abc"`},
		{"status array", map[string]any{"status": []any{"Läst"}}, "status is not a string"},
		{"several", map[string]any{"lf_number": nil, "request_id": nil}, "lf_number is missing; request_id is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mapOf(t, item("Abc-250301-0001", tc.set))
			if !strings.Contains(r.Problem, tc.want) {
				t.Errorf("problem %q, want it to contain %q", r.Problem, tc.want)
			}
		})
	}
	for _, raw := range []string{`"x"`, `[]`, `42`, `null`, `true`} {
		r := mapItem(json.RawMessage(raw), "Abc")
		if !strings.Contains(r.Problem, "not an object") || r.Bibliographic == nil {
			t.Errorf("%s: problem %q", raw, r.Problem)
		}
	}
}

func TestTolerantFields(t *testing.T) {
	r := mapOf(t, item("Abc-250301-0001", map[string]any{
		"request_id":        json.RawMessage("8123456"),
		"last_modified":     json.RawMessage("1740826800"),
		"year":              json.RawMessage("2019"),
		"user_id":           " 1234 5678 90 ",
		"user":              " Person, Test ",
		"message":           "Tack!",
		"pages":             "12-34",
		"end_user":          map[string]any{"approved": true},
		"receiving_library": map[string]any{"library_code": "Abc2"},
		"title":             map[string]any{"nested": true},
		"recipients": []any{
			map[string]any{"library_code": "Xyz", "is_active_library": "1", "response": " Utlånad "},
			"junk",
			map[string]any{"library_code": ""},
			map[string]any{"library_code": "Qrs", "is_active_library": false},
		},
		"some_new_field": map[string]any{"a": []any{1, 2}},
	}))
	if r.Problem != "" {
		t.Fatalf("problem %q", r.Problem)
	}
	if r.ExternalRequestID != "8123456" || r.LastModified != time.Unix(1740826800, 0).UTC() || r.Bibliographic.Year != "2019" {
		t.Errorf("numbers: id %q, lm %s, year %q", r.ExternalRequestID, r.LastModified, r.Bibliographic.Year)
	}
	if r.PatronID != "1234567890" || r.PatronName != "Person, Test" || !r.PatronApproved || r.Note != "Tack!" {
		t.Errorf("patron %q %q %v note %q", r.PatronID, r.PatronName, r.PatronApproved, r.Note)
	}
	if r.PickupLibrary != "Abc2" || r.Bibliographic.Pages != "12-34" {
		t.Errorf("pickup %q pages %q", r.PickupLibrary, r.Bibliographic.Pages)
	}
	want := []connector.RotaEntry{{Code: "Xyz", Active: true, Response: "Utlånad"}, {Code: "Qrs"}}
	if len(r.Rota) != 2 || r.Rota[0] != want[0] || r.Rota[1] != want[1] {
		t.Errorf("rota %+v", r.Rota)
	}
	w := connector.WarningText(r.Warnings)
	if !strings.Contains(w, "ignored title: not a string") || !strings.Contains(w, "ignored 2 recipients") {
		t.Errorf("warnings %v", r.Warnings)
	}

	// Wrongly shaped nested objects are ignored with a warning, never fatal.
	r = mapOf(t, item("Abc-250301-0001", map[string]any{"receiving_library": "Abc", "end_user": []any{}, "recipients": map[string]any{}}))
	if r.Problem != "" || len(r.Warnings) != 3 || r.PickupLibrary != "" || r.PatronApproved || len(r.Rota) != 0 {
		t.Errorf("problem %q warnings %v", r.Problem, r.Warnings)
	}
}

func TestSplitIsbnIssn(t *testing.T) {
	for _, tc := range []struct{ in, isbn, issn string }{
		{"9789100000001", "9789100000001", ""},
		{"978-91-0-000000-1", "978-91-0-000000-1", ""},
		{"91-7054-869-X", "91-7054-869-X", ""},
		{"917054869x", "917054869x", ""},
		{"ISBN 91-7054-869-2 (inb.)", "91-7054-869-2", ""},
		{"0346-2250", "", "0346-2250"},
		{"1234-567X", "", "1234-567X"},
		{"ISSN: 03462250", "", "03462250"},
		{"034-62250", "", ""},
		{"12345", "", ""},
		{"abcdefghij", "", ""},
		{"", "", ""},
		{"ISBN", "", ""},
	} {
		isbn, issn := splitIsbnIssn(tc.in)
		if isbn != tc.isbn || issn != tc.issn {
			t.Errorf("splitIsbnIssn(%q) = %q, %q; want %q, %q", tc.in, isbn, issn, tc.isbn, tc.issn)
		}
	}
	r := mapOf(t, item("Abc-250301-0001", map[string]any{"isbn_issn": "okänt"}))
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0].GetMessage(), "neither an ISBN nor an ISSN") {
		t.Errorf("warnings %v", r.Warnings)
	}
	r = mapOf(t, item("Abc-250301-0001", map[string]any{"isbn_issn": "0346-2250", "media_type": "Kopia",
		"title_of_article": "Artikel", "author_of_article": "Skribent, S", "volume_designation": "2024:3", "bib_id": "BIB123"}))
	b := r.Bibliographic
	if b.Issn != "0346-2250" || b.ArticleTitle != "Artikel" || b.ArticleAuthor != "Skribent, S" || b.Volume != "2024:3" || b.ExternalRecordId != "BIB123" {
		t.Errorf("bibliographic %v", b)
	}
}

func TestOrderDay(t *testing.T) {
	for _, tc := range []struct {
		lf   string
		want connector.Day
		ok   bool
	}{
		{"Abc-250301-0007", connector.Day{Year: 2025, Month: 3, Day: 1}, true},
		{"G-141121-0001", connector.Day{Year: 2014, Month: 11, Day: 21}, true},
		{"Sk-fb-240229-0001", connector.Day{Year: 2024, Month: 2, Day: 29}, true},
		{"Abc-250229-0001", connector.Day{}, false},
		{"Abc-251301-0001", connector.Day{}, false},
		{"Abc-250001-0001", connector.Day{}, false},
		{"Abc-2503-0001", connector.Day{}, false},
		{"8123456", connector.Day{}, false},
		{"Abc-25a301-0001", connector.Day{}, false},
	} {
		got, ok := orderDay(tc.lf)
		if got != tc.want || ok != tc.ok {
			t.Errorf("orderDay(%q) = %v, %v; want %v, %v", tc.lf, got, ok, tc.want, tc.ok)
		}
	}
	r := mapOf(t, item("8123456", nil))
	if r.Problem != "" || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0].GetMessage(), "no order date") ||
		r.Warnings[0].GetCode() != connector.WarnUnparsableDate {
		t.Errorf("problem %q warnings %v", r.Problem, r.Warnings)
	}
}

func TestParseEpoch(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"1740826800", true}, {"1.7408268e9", true}, {"1740826800.0", true},
		{"1740826800.5", false}, {"-5", false}, {"", false}, {"abc", false}, {"1e300", false},
	} {
		if _, ok := parseEpoch(tc.in); ok != tc.ok {
			t.Errorf("parseEpoch(%q) ok = %v", tc.in, ok)
		}
	}
}

// A request staff entered carries "0" (or nothing) as its end-user ids; only a patron's
// web request names them. Approval is read apart from who placed it.
func TestPatronInitiated(t *testing.T) {
	for _, tc := range []struct {
		name                string
		set                 map[string]any
		initiated, approved bool
	}{
		{"staff-entered", map[string]any{"libris_enduser_request_id": "0", "enduser_id": "0"}, false, false},
		{"ids absent", nil, false, false},
		{"ids empty", map[string]any{"libris_enduser_request_id": "", "enduser_id": " "}, false, false},
		{"ids numbers 0", map[string]any{"libris_enduser_request_id": 0, "enduser_id": 0}, false, false},
		{"web request", map[string]any{"libris_enduser_request_id": "512345", "enduser_id": "77001"}, true, false},
		{"web request approved", map[string]any{"libris_enduser_request_id": "512345", "enduser_id": "77001",
			"end_user": map[string]any{"approved": true}}, true, true},
		{"end user id only", map[string]any{"libris_enduser_request_id": "0", "enduser_id": 77001}, true, false},
		{"ids not strings", map[string]any{"libris_enduser_request_id": []any{}, "enduser_id": map[string]any{}}, false, false},
	} {
		r := mapOf(t, item("Abc-250301-0001", tc.set))
		if r.PatronInitiated != tc.initiated || r.PatronApproved != tc.approved || r.Problem != "" {
			t.Errorf("%s: initiated %v approved %v problem %q; want %v %v", tc.name, r.PatronInitiated, r.PatronApproved, r.Problem, tc.initiated, tc.approved)
		}
	}
}
