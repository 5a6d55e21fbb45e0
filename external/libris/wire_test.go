package libris

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/fakes/fakelibris"
)

// benchAnswer is an answer of n generated requests as the fake Libris writes it, every
// field the real service sends, and the items alone.
func benchAnswer(b *testing.B, n int) (body []byte, items [][]byte) {
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
			b.Fatal(err)
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
