package fakenetpunkt

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func hostileFixture(t *testing.T) (*Server, *httptest.Server, url.Values) {
	t.Helper()
	s := New(Options{})
	c := Credential{"u", "775100", "pw"}
	s.AddCredential(c, "DK-775100")
	from := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s.Put(Generate(GenerateOptions{Seed: 1, Agency: "DK-775100", Count: 3, From: from, To: from.AddDate(0, 0, 2)})...)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	form := url.Values{"action": {"findAllIllOrders"}, "requesterAgencyId": {"775100"}, "fromDate": {"2026-03-01"}, "toDate": {"2026-03-03"},
		"start": {"1"}, "stepValue": {"50"}, "authentication.userIdAut": {c.User}, "authentication.groupIdAut": {c.Group}, "authentication.passwordAut": {c.Password}}
	return s, srv, form
}

// TestFaultFlood: the orders never end — the same ones, or with Distinct new ones.
func TestFaultFlood(t *testing.T) {
	s, srv, form := hostileFixture(t)
	for _, distinct := range []bool{false, true} {
		s.Inject(Fault{Times: 1, Flood: &Flood{Distinct: distinct}})
		resp, err := http.PostForm(srv.URL+DefaultBasePath, form)
		if err != nil {
			t.Fatal(err)
		}
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
	form.Set("fromDate", "2020-01-01")
	form.Set("toDate", "2020-01-01")
	resp, err := http.PostForm(srv.URL+DefaultBasePath, form)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(resp); !strings.Contains(body, "<numberOfOrders>0</numberOfOrders></result>") {
		t.Errorf("empty window under a flood: %s", body)
	}
}

// TestFaultDrip: the normal answer, DripSize bytes at a time. The writes are observed at
// the server: what a client's reads return depends on how the network batches them.
func TestFaultDrip(t *testing.T) {
	s, srv, form := hostileFixture(t)
	normal, err := http.PostForm(srv.URL+DefaultBasePath, form)
	if err != nil {
		t.Fatal(err)
	}
	whole := readAll(normal)
	s.Inject(Fault{Times: 1, Drip: time.Millisecond, DripSize: 7})
	req := httptest.NewRequest(http.MethodPost, DefaultBasePath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
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

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}
