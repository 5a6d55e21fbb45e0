package libris

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/fakes/fakelibris"
)

// benchAnswer is an answer of n generated requests as the fake Libris writes it, every
// field the real service sends, and the items alone.
func benchAnswer(tb testing.TB, n int) (body []byte, items [][]byte) {
	reqs := fakelibris.Generate(fakelibris.GenerateOptions{Seed: 8, Count: n,
		From: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)})
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `{"data_source":"librisfjarrlan","data_type":"ill_requests","result_type":"outgoing","library_code":"Abc","count":%d,"ill_requests":[`, n)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i := range reqs {
		if i > 0 {
			buf.WriteByte(',')
		}
		from := buf.Len()
		if err := enc.Encode(&reqs[i]); err != nil {
			tb.Fatal(err)
		}
		items = append(items, bytes.TrimSpace(buf.Bytes()[from:]))
	}
	buf.WriteString("]}\n")
	return buf.Bytes(), items
}

// perItem runs loop (which handles items items) b.N times and reports the CPU of the
// whole process (every goroutine, GC included), the bytes and the allocations per item.
func perItem(b *testing.B, items int, loop func()) {
	b.ReportAllocs()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := processCPU()
	for b.Loop() {
		loop()
	}
	cpu := processCPU() - cpu0
	runtime.ReadMemStats(&m1)
	n := float64(b.N * items)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/item")
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/item")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/n, "B/item")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/n, "allocs/item")
}

// BenchmarkReadAnswer decodes a generated answer of 1000 requests into connector
// requests: the envelope scan, the item decode and the mapping, as a fetch does after the
// network.
func BenchmarkReadAnswer(b *testing.B) {
	body, items := benchAnswer(b, 1000)
	c := &Client{sigel: "Abc"}
	b.SetBytes(int64(len(body)))
	perItem(b, len(items), func() {
		n := 0
		if _, err := c.readEnvelope(&bodyReader{r: bytes.NewReader(body)}, "a window", "application/json", func(r *connector.Request) error {
			if r.Problem != "" {
				b.Fatalf("request %s: %s", r.ExternalID, r.Problem)
			}
			n++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if n != len(items) {
			b.Fatalf("visited %d of %d", n, len(items))
		}
	})
}

// BenchmarkDecodeEnvelope is the envelope scan alone: checking the answer and cutting out
// its items.
func BenchmarkDecodeEnvelope(b *testing.B) {
	body, items := benchAnswer(b, 1000)
	b.SetBytes(int64(len(body)))
	perItem(b, len(items), func() {
		if _, err := decodeEnvelope(&bodyReader{r: bytes.NewReader(body)}, func(json.RawMessage) error { return nil }); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkMapItem is the item decode and mapping alone, on items already cut out.
func BenchmarkMapItem(b *testing.B) {
	_, items := benchAnswer(b, 1000)
	size := 0
	for _, it := range items {
		size += len(it)
	}
	b.SetBytes(int64(size))
	perItem(b, len(items), func() {
		for _, it := range items {
			if r := mapItem(it, "Abc"); r.Problem != "" {
				b.Fatal(r.Problem)
			}
		}
	})
}

// TestDecodeItemKeys: keys match a field as encoding/json matches them, exactly or else
// under case folding (Unicode folding included), with escapes, the last occurrence
// winning; other keys are skipped.
func TestDecodeItemKeys(t *testing.T) {
	for _, tc := range []struct {
		name, item string
		want       string // the title decoded
	}{
		{"exact", `{"title":"A"}`, "A"},
		{"upper case", `{"TITLE":"A"}`, "A"},
		{"mixed case", `{"TiTlE":"A"}`, "A"},
		{"escaped key", `{"t\u0069tle":"A"}`, "A"},
		{"long s folds to s", `{"ſtatus":"x","title":"A"}`, "A"},
		{"last occurrence wins", `{"title":"A","Title":"B"}`, "B"},
		{"unknown keys skipped", `{"imprint":"x","TITLE_X":"y","title":"A","journal_article":{"a":[1]}}`, "A"},
		{"no match", `{"titles":"A"}`, ""},
		{"invalid UTF-8 key", "{\"titl\xff\":\"A\"}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decodeItem([]byte(tc.item)).Title.s; got != tc.want {
				t.Fatalf("title %q, want %q", got, tc.want)
			}
		})
	}
	if got := decodeItem([]byte(`{"ſtatus":"Läst"}`)).Status.s; got != "Läst" {
		t.Fatalf("status under a folded key: %q", got)
	}
	rs := decodeItem([]byte(`{"recipients":[{"LIBRARY_CODE":"Xyz","Is_Active_Library":true}]}`)).Recipients.list
	if len(rs) != 1 || rs[0].LibraryCode.s != "Xyz" || !bool(rs[0].IsActiveLibrary) {
		t.Fatalf("recipients %+v", rs)
	}
}

// TestItemsCutExactly: each item handed on is exactly the element's bytes, whatever white
// space and commas surround it and however the answer arrives (one byte per read too).
func TestItemsCutExactly(t *testing.T) {
	body := "{ \"count\" : 4 ,\n \"ill_requests\" :\n[\n\t{\"title\":\"a, [b]\\\" }\"} ,{\"x\":[1,{\"y\":null}]}\r\n,\n  \"str\" , 12.5e3 ] , \"after\": {\"z\": [ ]}\n}\n"
	var want struct {
		Items []json.RawMessage `json:"ill_requests"`
	}
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatal(err)
	}
	for _, oneByte := range []bool{false, true} {
		var r io.Reader = strings.NewReader(body)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		var got []string
		if _, err := decodeEnvelope(&bodyReader{r: r}, func(raw json.RawMessage) error {
			got = append(got, string(raw))
			return nil
		}); err != nil {
			t.Fatalf("one byte %v: %v", oneByte, err)
		}
		if len(got) != len(want.Items) {
			t.Fatalf("one byte %v: %d items, want %d", oneByte, len(got), len(want.Items))
		}
		for i := range got {
			if got[i] != string(want.Items[i]) {
				t.Errorf("one byte %v: item %d = %q, want %q", oneByte, i, got[i], want.Items[i])
			}
		}
	}
}

// TestDecodeItemValues: values are read as encoding/json would unquote them, whatever the
// escapes, and the fields skipped may hold anything.
func TestDecodeItemValues(t *testing.T) {
	for _, tc := range []struct {
		name, item string
		want       flexString // the title
	}{
		{"plain", `{"title":"A"}`, flexString{s: "A", set: true}},
		{"escaped quotes", `{"title":"a \"b\" c"}`, flexString{s: `a "b" c`, set: true}},
		{"backslash last", `{"title":"C:\\","author":"x"}`, flexString{s: `C:\`, set: true}},
		{"backslashes before a quote", `{"title":"\\\\\"","author":"x"}`, flexString{s: `\\"`, set: true}},
		{"unicode escapes", `{"title":"\u00c5ngstr\u00f6m"}`, flexString{s: "Ångström", set: true}},
		{"surrogate pair", `{"title":"\ud83d\ude00"}`, flexString{s: "😀", set: true}},
		{"lone surrogate", `{"title":"\ud800x"}`, flexString{s: "\ufffdx", set: true}},
		{"invalid UTF-8", "{\"title\":\"a\xffb\"}", flexString{s: "a\ufffdb", set: true}},
		{"all short escapes", `{"title":"\/\b\f\n\r\t"}`, flexString{s: "/\b\f\n\r\t", set: true}},
		{"long", `{"title":"` + strings.Repeat("abcdefg ", 40) + `"}`, flexString{s: strings.Repeat("abcdefg ", 40), set: true}},
		{"number", `{"title":-12.5e3}`, flexString{s: "-12.5e3", set: true}},
		{"boolean", `{"title":true}`, flexString{s: "true", set: true}},
		{"null", `{"title":null}`, flexString{}},
		{"null resets", `{"title":"A","title":null}`, flexString{}},
		{"object", `{"title":{"a":"}"}}`, flexString{odd: true}},
		{"array", `{"title":["A"]}`, flexString{odd: true}},
		{"white space", " {\n\t\"title\" :\r \"A\" ,\n \"x\" : 1 }", flexString{s: "A", set: true}},
		{"skipped fields of every shape", `{"a":{"b":[1,{"c":"]}\"{["}],"d":null},"e":[[],{}],"f":-1.5e-3,"g":"\\","title":"A","h":[{"title":"B"}]}`, flexString{s: "A", set: true}},
		{"empty", `{}`, flexString{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !json.Valid([]byte(tc.item)) {
				t.Fatal("the test's item is not valid JSON")
			}
			if got := decodeItem(bytes.TrimSpace([]byte(tc.item))).Title; got != tc.want {
				t.Fatalf("title %+v, want %+v", got, tc.want)
			}
		})
	}
	it := decodeItem([]byte(`{"lf_number":12345,"request_id":"678","last_modified":1.7e9,` +
		`"receiving_library":"Abc","end_user":{"APPROVED":"yes"},` +
		`"recipients":[1,"x",null,{"library_code":7,"is_active_library":"1","response":"Ja"},{"library_code":"B"}]}`))
	if it.LFNumber.s != "12345" || it.RequestID.s != "678" || it.LastModified.s != "1.7e9" {
		t.Errorf("numbers and strings: %+v %+v %+v", it.LFNumber, it.RequestID, it.LastModified)
	}
	if !it.ReceivingLibrary.odd || !bool(it.EndUser.Approved) {
		t.Errorf("receiving_library %+v, end_user %+v", it.ReceivingLibrary, it.EndUser)
	}
	rs := it.Recipients
	if rs.dropped != 3 || len(rs.list) != 2 || rs.list[0].LibraryCode.s != "7" || !bool(rs.list[0].IsActiveLibrary) ||
		rs.list[0].Response.s != "Ja" || rs.list[1].LibraryCode.s != "B" || bool(rs.list[1].IsActiveLibrary) {
		t.Errorf("recipients %+v", rs)
	}
}

// TestFoldKeyRunes: ſ and the Kelvin sign are the only runes outside ASCII that fold to an
// ASCII letter, which foldKey relies on.
func TestFoldKeyRunes(t *testing.T) {
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < utf8.RuneSelf && r != '\u017F' && r != '\u212A' {
				t.Errorf("%U folds to %q", r, f)
			}
		}
	}
	for _, tc := range []struct {
		key, want string
		ok        bool
	}{
		{"title", "", false},
		{"request_id2", "", false},
		{"TITLE", "title", true},
		{"Title_Of_Article", "title_of_article", true},
		{"ſtatus", "status", true},
		{"\u212Aey", "key", true},
		{"tïtle", "", false},
		{"titl\xff", "", false},
	} {
		var buf [4]byte // shorter than most keys: foldKey must grow it
		got, ok := foldKey(buf[:0], []byte(tc.key))
		if ok != tc.ok || string(got) != tc.want {
			t.Errorf("foldKey(%q) = %q, %v; want %q, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

// refItem reads an item with encoding/json, as decodeItem promises to: the same wire
// types, each read by the same tolerant rules from the value encoding/json hands over.
type refItem struct {
	RequestID          refFlex       `json:"request_id"`
	LFNumber           refFlex       `json:"lf_number"`
	Status             refFlex       `json:"status"`
	LastModified       refFlex       `json:"last_modified"`
	MediaType          refFlex       `json:"media_type"`
	RequestingLibrary  refFlex       `json:"requesting_library"`
	ActiveLibrary      refFlex       `json:"active_library"`
	ReceivingLibrary   refLibrary    `json:"receiving_library"`
	Recipients         refRecipients `json:"recipients"`
	EndUser            refEndUser    `json:"end_user"`
	BibID              refFlex       `json:"bib_id"`
	IsbnIssn           refFlex       `json:"isbn_issn"`
	Title              refFlex       `json:"title"`
	Author             refFlex       `json:"author"`
	Publisher          refFlex       `json:"publisher"`
	PlaceOfPublication refFlex       `json:"place_of_publication"`
	Year               refFlex       `json:"year"`
	VolumeDesignation  refFlex       `json:"volume_designation"`
	Pages              refFlex       `json:"pages"`
	TitleOfArticle     refFlex       `json:"title_of_article"`
	AuthorOfArticle    refFlex       `json:"author_of_article"`
	User               refFlex       `json:"user"`
	UserID             refFlex       `json:"user_id"`
	Message            refFlex       `json:"message"`
	EnduserRequestID   refFlex       `json:"libris_enduser_request_id"`
	EnduserID          refFlex       `json:"enduser_id"`
}

type refFlex struct{ flexString }

func (f *refFlex) UnmarshalJSON(b []byte) error {
	f.flexString = flexOf(b)
	return nil
}

type refBool struct{ flexBool }

func (f *refBool) UnmarshalJSON(b []byte) error {
	f.flexBool = boolOf(b)
	return nil
}

type refLibrary struct{ wireLibrary }

func (l *refLibrary) UnmarshalJSON(b []byte) error {
	l.wireLibrary = wireLibrary{}
	switch b[0] {
	case '{':
		var v struct {
			LibraryCode refFlex `json:"library_code"`
		}
		err := json.Unmarshal(b, &v)
		l.LibraryCode = v.LibraryCode.flexString
		return err
	case 'n':
		return nil
	}
	l.odd = true
	return nil
}

type refEndUser struct{ wireEndUser }

func (u *refEndUser) UnmarshalJSON(b []byte) error {
	u.wireEndUser = wireEndUser{}
	switch b[0] {
	case '{':
		var v struct {
			Approved refBool `json:"approved"`
		}
		err := json.Unmarshal(b, &v)
		u.Approved = v.Approved.flexBool
		return err
	case 'n':
		return nil
	}
	u.odd = true
	return nil
}

type refRecipients struct{ wireRecipients }

func (r *refRecipients) UnmarshalJSON(b []byte) error {
	r.wireRecipients = wireRecipients{}
	switch b[0] {
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(b, &elems); err != nil {
			return err
		}
		for _, e := range elems {
			if e[0] != '{' {
				r.dropped++
				continue
			}
			var v struct {
				LibraryCode     refFlex `json:"library_code"`
				IsActiveLibrary refBool `json:"is_active_library"`
				Response        refFlex `json:"response"`
			}
			if err := json.Unmarshal(e, &v); err != nil {
				return err
			}
			r.list = append(r.list, wireRecipient{v.LibraryCode.flexString, v.IsActiveLibrary.flexBool, v.Response.flexString})
		}
		return nil
	case 'n':
		return nil
	}
	r.odd = true
	return nil
}

func (r refItem) wire() wireItem {
	return wireItem{
		RequestID: r.RequestID.flexString, LFNumber: r.LFNumber.flexString, Status: r.Status.flexString,
		LastModified: r.LastModified.flexString, MediaType: r.MediaType.flexString,
		RequestingLibrary: r.RequestingLibrary.flexString, ActiveLibrary: r.ActiveLibrary.flexString,
		ReceivingLibrary: r.ReceivingLibrary.wireLibrary, Recipients: r.Recipients.wireRecipients, EndUser: r.EndUser.wireEndUser,
		BibID: r.BibID.flexString, IsbnIssn: r.IsbnIssn.flexString, Title: r.Title.flexString, Author: r.Author.flexString,
		Publisher: r.Publisher.flexString, PlaceOfPublication: r.PlaceOfPublication.flexString, Year: r.Year.flexString,
		VolumeDesignation: r.VolumeDesignation.flexString, Pages: r.Pages.flexString,
		TitleOfArticle: r.TitleOfArticle.flexString, AuthorOfArticle: r.AuthorOfArticle.flexString,
		User: r.User.flexString, UserID: r.UserID.flexString, Message: r.Message.flexString,
		EnduserRequestID: r.EnduserRequestID.flexString, EnduserID: r.EnduserID.flexString,
	}
}

// FuzzDecodeItem holds decodeItem to encoding/json's reading of the same item: key
// matching (exact, else under Unicode case folding), the last occurrence winning, nulls,
// nesting, escapes, invalid UTF-8.
func FuzzDecodeItem(f *testing.F) {
	_, items := benchAnswer(f, 3)
	for _, it := range items {
		f.Add(it)
	}
	f.Add([]byte(`{"TITLE":"a","title":"b","Title":null,"ſtatus":"\u00e5","st\u0061tus":1}`))
	f.Add([]byte(`{"recipients":[{"LIBRARY_CODE":"x","library_code":"y"},[],null,{"is_active_library":"t"}],"end_user":{"Approved":1,"approved":null}}`))
	f.Add([]byte(`{"receiving_library":{"library_code":{"x":"}"}},"recipients":{},"end_user":[],"x":"\\\"","title":"\ud800\udc00\ud800"}`))
	f.Add([]byte("{\"titl\xc5\xbfe\":\"\xff\",\"title\":\"a\\u0000b\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		data = bytes.TrimSpace(data)
		if !json.Valid(data) || len(data) == 0 || data[0] != '{' {
			return
		}
		var ref refItem
		if err := json.Unmarshal(data, &ref); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		if got, want := decodeItem(data), ref.wire(); !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeItem(%q)\n got %+v\nwant %+v", data, got, want)
		}
	})
}
