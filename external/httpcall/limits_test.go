package httpcall

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/external/connector"
)

// drip answers n bytes, one every pause, flushing each.
func drip(n int, pause time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		fl := w.(http.Flusher)
		for i := 0; i < n; i++ {
			if _, err := w.Write([]byte{'x'}); err != nil {
				return
			}
			fl.Flush()
			select {
			case <-time.After(pause):
			case <-r.Context().Done():
				return
			}
		}
	}
}

// read GETs url with hc and reads the whole answer, calling each after every read.
func read(t *testing.T, hc *http.Client, url string, each func()) (int, error) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	buf := make([]byte, 32<<10)
	total := 0
	for {
		n, err := resp.Body.Read(buf)
		total += n
		if each != nil {
			each()
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func bound(err error) connector.Bound {
	var le *connector.LimitError
	if errors.As(err, &le) {
		return le.Bound
	}
	return 0
}

func TestBounded(t *testing.T) {
	big := strings.Repeat("x", 3<<20)
	for _, tc := range []struct {
		name    string
		handler http.Handler
		lim     connector.Limits
		each    func()
		want    connector.Bound
	}{
		{"a large answer that keeps flowing fits",
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) }),
			connector.Limits{CallTimeout: time.Minute, MinRate: 1 << 20, SlowGrace: time.Second, MaxBytes: 4 << 20}, nil, 0},
		{"a trickle that never falls silent is cut by the rate",
			drip(1000, 20*time.Millisecond),
			connector.Limits{CallTimeout: time.Minute, MinRate: 1000, SlowGrace: 200 * time.Millisecond}, nil, connector.BoundMinRate},
		{"the same trickle meets the call's deadline when the rate allows it",
			drip(1000, 20*time.Millisecond),
			connector.Limits{CallTimeout: 300 * time.Millisecond, MinRate: 1, SlowGrace: time.Minute}, nil, connector.BoundCallTimeout},
		{"no header before the deadline",
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }),
			connector.Limits{CallTimeout: 200 * time.Millisecond}, nil, connector.BoundCallTimeout},
		{"a giant body meets the byte bound",
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) }),
			connector.Limits{MaxBytes: 1 << 20}, nil, connector.BoundMaxBytes},
		{"time the caller spends on what it read does not count against the rate",
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for i := 0; i < 5; i++ {
					io.WriteString(w, strings.Repeat("y", 64<<10))
					w.(http.Flusher).Flush()
				}
			}),
			connector.Limits{CallTimeout: time.Minute, MinRate: 1 << 20, SlowGrace: 100 * time.Millisecond},
			func() { time.Sleep(60 * time.Millisecond) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			hc := Bounded(srv.Client(), tc.lim)
			began := time.Now()
			n, err := read(t, hc, srv.URL, tc.each)
			t.Logf("read %d bytes in %s: %v", n, time.Since(began).Round(time.Millisecond), err)
			if got := bound(err); got != tc.want || tc.want == 0 && err != nil {
				t.Fatalf("bound %d, want %d (err %v)", got, tc.want, err)
			}
		})
	}
}

func TestBoundedBytesAcrossCalls(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("z", 400<<10))
	}))
	defer srv.Close()
	hc := Bounded(srv.Client(), connector.Limits{MaxBytes: 1 << 20})
	for i := 1; i <= 2; i++ {
		if _, err := read(t, hc, srv.URL, nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, err := read(t, hc, srv.URL, nil); bound(err) != connector.BoundMaxBytes {
		t.Fatalf("third call of 400 KiB within 1 MiB: %v", err)
	}
	// Once spent, the budget refuses further calls before they are sent.
	calls := 0
	srv.Config.Handler = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls++ })
	if _, err := hc.Get(srv.URL); bound(err) != connector.BoundMaxBytes || calls != 0 {
		t.Fatalf("after the budget: %v, %d calls", err, calls)
	}
	// Another client has a budget of its own.
	if _, err := read(t, Bounded(srv.Client(), connector.Limits{MaxBytes: 1 << 20}), srv.URL, nil); err != nil {
		t.Fatal(err)
	}
}

func TestLoopSendEndsOnABound(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	hc := Bounded(srv.Client(), connector.Limits{CallTimeout: 100 * time.Millisecond})
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := Loop{Peer: "Sys", Package: "sys"}
	resp, retry, _, err := l.Send(context.Background(), hc, req, "page 1")
	var le *connector.LimitError
	if resp != nil || retry != nil || !errors.As(err, &le) || le.Bound != connector.BoundCallTimeout {
		t.Fatalf("got %v %v %v", resp, retry, err)
	}
	if want := "Sys took longer than 100ms (the bound on one call) to answer for page 1"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}
