package fakelibris_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/fakes/fakelibris"
)

// TestFaultFlood: the answer's ill_requests never end — the same requests over and over,
// or, with Distinct, requests never sent before — until the client goes away.
func TestFaultFlood(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	s.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 1, Count: 3, From: day(2024, 8, 1), To: day(2024, 8, 1)})...)
	const outgoing = "/illrequests/Abc/outgoing?start_date=2024-08-01&end_date=2024-08-01"
	for _, distinct := range []bool{false, true} {
		s.Inject(fakelibris.Fault{Times: 1, Flood: &fakelibris.Flood{Distinct: distinct}})
		rq, _ := http.NewRequest(http.MethodGet, base+outgoing, nil)
		rq.Header.Set("api-key", key)
		resp, err := http.DefaultClient.Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(resp.Body)
		for _, want := range []json.Token{json.Delim('{')} {
			if tok, err := dec.Token(); err != nil || tok != want {
				t.Fatalf("%v %v", tok, err)
			}
		}
		for dec.More() {
			tok, _ := dec.Token()
			if tok == "ill_requests" {
				break
			}
			var skip json.RawMessage
			_ = dec.Decode(&skip)
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			t.Fatalf("%v %v", tok, err)
		}
		lfs := map[string]bool{}
		const n = 3000
		for i := 0; i < n; i++ {
			var it struct {
				LF string `json:"lf_number"`
				ID string `json:"request_id"`
			}
			if err := dec.Decode(&it); err != nil {
				t.Fatalf("item %d: %v", i, err)
			}
			if !strings.HasPrefix(it.LF, "Abc-240801-") || it.ID == "" {
				t.Fatalf("item %d: %+v", i, it)
			}
			lfs[it.LF] = true
		}
		resp.Body.Close()
		if want := map[bool]int{false: 3, true: n}[distinct]; len(lfs) != want {
			t.Errorf("distinct %v: %d lf_numbers in %d items, want %d", distinct, len(lfs), n, want)
		}
	}
	// The fault is used up: the next answer ends.
	if _, body := get(t, base+outgoing, key); !strings.HasSuffix(string(body), "]}\n") {
		t.Errorf("after the flood: %q", body)
	}
}

// TestFaultBloat: every item of the answer carries a padding field, the answer stays valid.
func TestFaultBloat(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	s.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 1, Count: 3, From: day(2024, 8, 1), To: day(2024, 8, 1)})...)
	const outgoing = "/illrequests/Abc/outgoing?start_date=2024-08-01&end_date=2024-08-01"
	s.Inject(fakelibris.Fault{Times: 1, Bloat: 100 << 10})
	_, body := get(t, base+outgoing, key)
	count, got := items(t, body)
	if count != 3 || len(got) != 3 || len(body) < 300<<10 {
		t.Fatalf("count %d, %d items, %d bytes", count, len(got), len(body))
	}
	for _, it := range got {
		if p, _ := it["padding"].(string); len(p) != 100<<10 || it["lf_number"] == nil {
			t.Fatalf("item without its padding: %d bytes", len(p))
		}
	}
}

// TestFaultDripSize: with DripSize 1 the answer comes byte by byte. The writes are
// observed at the server: what a client's reads return depends on how the network
// batches them.
func TestFaultDripSize(t *testing.T) {
	s, _ := fixture(t, fakelibris.Options{})
	s.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 1, Count: 1, From: day(2024, 8, 1), To: day(2024, 8, 1)})...)
	s.Inject(fakelibris.Fault{Times: 1, Drip: 5 * time.Millisecond, DripSize: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rq := httptest.NewRequestWithContext(ctx, http.MethodGet, "/librisfjarrlan/api/illrequests/Abc/outgoing?start_date=2024-08-01&end_date=2024-08-01", nil)
	rq.Header.Set("api-key", key)
	// The first 20 writes are enough; then the client goes away, which ends the drip.
	var sizes []int
	w := &writeSizes{ResponseRecorder: httptest.NewRecorder(), onWrite: func(n int) {
		if sizes = append(sizes, n); len(sizes) == 20 {
			cancel()
		}
	}}
	s.ServeHTTP(w, rq)
	if len(sizes) < 20 {
		t.Fatalf("%d writes before the answer ended, want at least 20", len(sizes))
	}
	for i, n := range sizes {
		if n != 1 {
			t.Fatalf("write %d: %d bytes, want 1", i, n)
		}
	}
}

// writeSizes reports the size of every write a handler makes.
type writeSizes struct {
	*httptest.ResponseRecorder
	onWrite func(int)
}

func (w *writeSizes) Write(p []byte) (int, error) {
	w.onWrite(len(p))
	return w.ResponseRecorder.Write(p)
}
