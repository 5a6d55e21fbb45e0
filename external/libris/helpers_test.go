package libris

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/external/connectortest"
)

// testKey is distinctive so that any leak into an error is caught by noKey.
const testKey = "k3y-S3CRET-4f9a1c77e2b0d5"

const basePath = "/librisfjarrlan/api"

// recorder collects what the fake server saw.
type recorder struct {
	mu    sync.Mutex
	calls []*http.Request
}

func (r *recorder) add(req *http.Request) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, req.Clone(context.Background()))
	return len(r.calls)
}

func (r *recorder) n() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func (r *recorder) get(i int) *http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[i]
}

// harness is a client wired to an httptest server whose handler gets the 1-based call
// number; sleeps are recorded, not slept, and jitter is its maximum so backoff is exact.
type harness struct {
	t      *testing.T
	srv    *httptest.Server
	c      *Client
	rec    *recorder
	sleeps connectortest.Sleeps
}

func newHarness(t *testing.T, h func(w http.ResponseWriter, r *http.Request, call int), mod func(*Config)) *harness {
	t.Helper()
	hs := &harness{t: t, rec: &recorder{}}
	hs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, hs.rec.add(r))
	}))
	t.Cleanup(hs.srv.Close)
	cfg := Config{
		BaseURL: hs.srv.URL + basePath,
		Sigel:   "Abc",
		APIKey:  testKey,
		Sleep:   hs.sleeps.Sleep,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.loop.Jitter = func(n int64) int64 { return n - 1 }
	hs.c = c
	return hs
}

func (hs *harness) slept() []time.Duration {
	return hs.sleeps.All()
}

// fetch runs Fetch over w and returns the requests visited.
func (hs *harness) fetch(ctx context.Context, w connector.Window) ([]*connector.Request, error) {
	var got []*connector.Request
	err := hs.c.Fetch(ctx, w, func(r *connector.Request) error {
		got = append(got, r)
		return nil
	})
	return got, err
}

func day(s string) connector.Day {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return connector.DayOf(t)
}

func window(from, to string) connector.Window { return connector.Window{From: day(from), To: day(to)} }

// noKey fails when err's text holds the API key.
func noKey(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), testKey) {
		t.Fatalf("error leaks the API key: %v", err)
	}
	var ce *connector.Error
	if errors.As(err, &ce) && strings.Contains(ce.Message, testKey) {
		t.Fatalf("error message leaks the API key: %q", ce.Message)
	}
}

func wantKind(t *testing.T, err error, kind connector.Kind) *connector.Error {
	t.Helper()
	noKey(t, err)
	var ce *connector.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v (%T), want a connector *Error of kind %s", err, err, kind)
	}
	if ce.Kind != kind {
		t.Fatalf("kind = %s, want %s (error: %v)", ce.Kind, kind, err)
	}
	return ce
}

func exampleJSON(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/outgoing-example.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// item builds one ill_requests item: a valid borrowing request of library Abc with the
// given fields replaced (a nil value deletes the field).
func item(lf string, set map[string]any) map[string]any {
	m := map[string]any{
		"request_id":         "8123456",
		"lf_number":          lf,
		"status":             "Läst",
		"media_type":         "Lån",
		"last_modified":      "1740826800",
		"requesting_library": "Abc",
		"active_library":     "Xyz",
		"receiving_library":  map[string]any{"library_code": "Abc", "bibsam": false},
		"recipients": []any{
			map[string]any{"library_code": "Xyz", "is_active_library": true, "response": ""},
		},
		"end_user": map[string]any{"approved": false, "approval_date": nil},
		"title":    "En bok",
		"pages":    nil,
	}
	for k, v := range set {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

// envelopeJSON renders an envelope holding items; count is omitted when nil.
func envelopeJSON(count any, items ...map[string]any) []byte {
	env := map[string]any{"data_type": "ill_requests", "library_code": "Abc", "ill_requests": items}
	if items == nil {
		env["ill_requests"] = []any{}
	}
	if count != nil {
		env["count"] = count
	}
	b, err := json.Marshal(env)
	if err != nil {
		panic(err)
	}
	return b
}

func serveJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func emptyOK(w http.ResponseWriter, _ *http.Request, _ int) {
	serveJSON(w, 200, []byte(`{"count":0,"ill_requests":[]}`))
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }
