package libris

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/external/connectortest"
)

// TestLargeAnswerMemoryBounded serves a generated outgoing answer of about 200 MB (less
// under -race or -short) through a streaming handler and checks that the heap in use
// while decoding stays far below the body size: items are decoded and visited one by one.
func TestLargeAnswerMemoryBounded(t *testing.T) {
	target := int64(200 << 20)
	if connectortest.RaceEnabled || testing.Short() {
		target = 24 << 20
	}
	// One realistic item with a long note, as a template around its lf_number.
	tmpl, err := json.Marshal(item("LFNUMBER", map[string]any{
		"message": strings.Repeat("Mycket lång anteckning om beställningen. ", 25),
		"author":  "Exempelsson, Eva", "publisher": "Exempelförlaget", "isbn_issn": "9789100000001",
	}))
	if err != nil {
		t.Fatal(err)
	}
	pre, post, _ := strings.Cut(string(tmpl), "LFNUMBER")
	items := int(target / int64(len(tmpl)+1))

	hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriterSize(w, 64<<10)
		_, _ = bw.WriteString(`{"data_source":"librisfjarrlan","ill_requests":[`)
		for i := range items {
			if i > 0 {
				_ = bw.WriteByte(',')
			}
			_, _ = bw.WriteString(pre)
			_, _ = fmt.Fprintf(bw, "Abc-%02d%02d%02d-%04d", 25, 1+i/10000%12, 1+i/120000%28, i%10000)
			_, _ = bw.WriteString(post)
		}
		_, _ = fmt.Fprintf(bw, `],"count":%d}`, items)
		_ = bw.Flush()
	}, nil)

	h, err := connectortest.MeasureHeap(func(visit func(*connector.Request) error) error {
		return hs.c.Fetch(context.Background(), window("2025-01-01", "2025-01-01"), visit)
	})
	if err != nil {
		t.Fatal(err)
	}
	if h.Visited != items || h.Problems != 0 {
		t.Fatalf("visited %d of %d items, %d with problems", h.Visited, items, h.Problems)
	}
	body := int64(items) * int64(len(tmpl)+1)
	grow := h.Growth()
	t.Logf("body %.1f MB in %d items; heap in use %.1f MB at start, peak %.1f MB (+%.1f MB)",
		float64(body)/1e6, items, float64(h.Start)/1e6, float64(h.Peak)/1e6, float64(grow)/1e6)
	if limit := int64(32 << 20); grow > limit {
		t.Fatalf("heap in use grew by %d MB while streaming a %d MB answer; limit %d MB", grow>>20, body>>20, limit>>20)
	}
}
