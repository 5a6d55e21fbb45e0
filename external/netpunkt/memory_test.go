package netpunkt

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/external/connectortest"
)

// TestLargeAnswerMemoryBounded serves one page of about 64 MB of orders (less under -race
// or -short) through a streaming handler and checks that the heap in use while decoding
// stays far below the body size: orders are decoded and visited one by one.
func TestLargeAnswerMemoryBounded(t *testing.T) {
	target := int64(64 << 20)
	if connectortest.RaceEnabled || testing.Short() {
		target = 12 << 20
	}
	note := strings.Repeat("En meget lang note om bestillingen. ", 25)
	order := func(i int) string {
		return fmt.Sprintf("<order><orderId>NP%09d</orderId><lastModification>2026-03-01T10:00:00</lastModification>"+
			"<creationDate>2026-03-01T09:00:00</creationDate><requesterOrderState>requested</requesterOrderState>"+
			"<providerOrderState>shipped</providerOrderState><requesterId>DK-775100</requesterId><responderId>DK-710100</responderId>"+
			"<title>Kongens Fald</title><author>Jensen, Johannes V.</author><latestRequesterNote>%s</latestRequesterNote></order>", i, note)
	}
	items := int(target / int64(len(order(0))))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		bw := bufio.NewWriterSize(w, 64<<10)
		fmt.Fprintf(bw, `<findOrdersResponse xmlns="http://oss.dbc.dk/ns/openfindorder"><result><numberOfOrders>%d</numberOfOrders>`, items)
		for i := range items {
			bw.WriteString(order(i))
		}
		bw.WriteString(`</result></findOrdersResponse>`)
		bw.Flush()
	}))
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, AgencyID: "775100", Password: "pw", StepValue: items})
	if err != nil {
		t.Fatal(err)
	}

	h, err := connectortest.MeasureHeap(func(visit func(*connector.Request) error) error {
		return c.Fetch(context.Background(), win, visit)
	})
	if err != nil {
		t.Fatal(err)
	}
	if h.Visited != items || h.Problems != 0 {
		t.Fatalf("visited %d of %d orders, %d with problems", h.Visited, items, h.Problems)
	}
	grow := h.Growth()
	t.Logf("body %.1f MB in %d orders; heap in use %.1f MB at start, peak %.1f MB (+%.1f MB)",
		float64(target)/1e6, items, float64(h.Start)/1e6, float64(h.Peak)/1e6, float64(grow)/1e6)
	if limit := int64(16 << 20); grow > limit {
		t.Fatalf("heap in use grew by %d MB while streaming a %d MB answer; limit %d MB", grow>>20, target>>20, limit>>20)
	}
}
