package fakenetpunkt

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func hostileFixture(t *testing.T) (*Server, *httptest.Server, []byte) {
	t.Helper()
	s := New(Options{})
	s.AddCredential(testCred, "DK-775100")
	from := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s.Put(Generate(GenerateOptions{Seed: 1, Agency: "DK-775100", Count: 3, From: from, To: from.AddDate(0, 0, 2)})...)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv, window(Element{"fromDate", "2026-03-01"}, Element{"toDate", "2026-03-03"}, Element{"sortKey", "creationDateAscending"},
		Element{"start", "1"}, Element{"stepValue", "50"})
}

func postSOAP(t *testing.T, url string, body []byte) *http.Response {
	t.Helper()
	resp, err := http.Post(url, "text/xml; charset=utf-8", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestFaultFlood: the orders never end — the same ones, or with Distinct new ones.
func TestFaultFlood(t *testing.T) {
	s, srv, req := hostileFixture(t)
	for _, distinct := range []bool{false, true} {
		s.Inject(Fault{Times: 1, Flood: &Flood{Distinct: distinct}})
		resp := postSOAP(t, srv.URL+DefaultBasePath, req)
		dec := xml.NewDecoder(resp.Body)
		ids := map[string]bool{}
		const n = 2000
		for seen := 0; seen < n; {
			tok, err := dec.Token()
			if err != nil {
				t.Fatalf("after %d orders: %v", seen, err)
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "order" {
				var o wireOrder
				if err := dec.DecodeElement(&o, &se); err != nil {
					t.Fatal(err)
				}
				ids[o.OrderID] = true
				seen++
			}
		}
		resp.Body.Close()
		if want := map[bool]int{false: 3, true: n}[distinct]; len(ids) != want {
			t.Errorf("distinct %v: %d order ids in %d orders, want %d", distinct, len(ids), n, want)
		}
	}
	// Without orders to copy, the answer is the normal one.
	s.Inject(Fault{Times: 1, Flood: &Flood{}})
	resp := postSOAP(t, srv.URL+DefaultBasePath, window(Element{"fromDate", "2020-01-01"}, Element{"toDate", "2020-01-01"}))
	if body := readAll(resp); !strings.Contains(body, "<error>no orders found</error>") {
		t.Errorf("empty window under a flood: %s", body)
	}
}

// TestFaultDrip: the normal answer, DripSize bytes at a time. The writes are observed at
// the server: what a client's reads return depends on how the network batches them.
func TestFaultDrip(t *testing.T) {
	s, srv, body := hostileFixture(t)
	whole := readAll(postSOAP(t, srv.URL+DefaultBasePath, body))
	s.Inject(Fault{Times: 1, Drip: time.Millisecond, DripSize: 7})
	req := httptest.NewRequest(http.MethodPost, DefaultBasePath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	w := &writeSizes{ResponseRecorder: httptest.NewRecorder()}
	s.ServeHTTP(w, req)
	for _, n := range w.sizes {
		if n > 7 {
			t.Fatalf("a write of %d bytes in a drip of 7", n)
		}
	}
	if got := w.Body.String(); got != whole || len(w.sizes) < len(whole)/7 {
		t.Fatalf("dripped answer in %d writes differs:\n%s\n%s", len(w.sizes), got, whole)
	}
}

// writeSizes records the size of every write a handler makes.
type writeSizes struct {
	*httptest.ResponseRecorder
	sizes []int
}

func (w *writeSizes) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.ResponseRecorder.Write(p)
}

// readAll returns the body, as much of it as arrived when reading it failed.
func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
