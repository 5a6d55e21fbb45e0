package libris

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/fakes/fakelibris"
)

// BenchmarkReadAnswer decodes a generated answer of 1000 requests (as the fake Libris
// writes it, every field the real service sends) into connector requests: the envelope
// scan, the item decode and the mapping, as a fetch does after the network.
func BenchmarkReadAnswer(b *testing.B) {
	reqs := fakelibris.Generate(fakelibris.GenerateOptions{Seed: 8, Count: 1000,
		From: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)})
	var body bytes.Buffer
	body.WriteString(`{"data_source":"librisfjarrlan","data_type":"ill_requests","result_type":"outgoing","library_code":"Abc","count":1000,"ill_requests":[`)
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	for i := range reqs {
		if i > 0 {
			body.WriteByte(',')
		}
		if err := enc.Encode(&reqs[i]); err != nil {
			b.Fatal(err)
		}
	}
	body.WriteString("]}\n")
	c := &Client{sigel: "Abc"}
	b.SetBytes(int64(body.Len()))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if _, err := c.readEnvelope(&bodyReader{r: bytes.NewReader(body.Bytes())}, "a window", "application/json", func(r *connector.Request) error {
			if r.Problem != "" {
				b.Fatalf("request %s: %s", r.ExternalID, r.Problem)
			}
			n++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if n != len(reqs) {
			b.Fatalf("visited %d of %d", n, len(reqs))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(reqs)), "µs/request")
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
