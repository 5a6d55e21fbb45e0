package fakelibris_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/interloan/interloan/fakes/fakelibris"
)

// discard is an http.ResponseWriter that keeps nothing but the byte count, so a benchmark
// measures the fake's own work and not a client's.
type discard struct {
	h http.Header
	n int64
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(b []byte) (int, error) { d.n += int64(len(b)); return len(b), nil }

// BenchmarkServeOutgoing is one outgoing answer of 10 000 generated requests, as the
// bench's imports ask for it; figures are per request of the answer. "changed" answers
// after one of the requests changed each time, as the first answer after a Put does.
func BenchmarkServeOutgoing(b *testing.B) {
	b.Run("unchanged", func(b *testing.B) { benchmarkServeOutgoing(b, false) })
	b.Run("changed", func(b *testing.B) { benchmarkServeOutgoing(b, true) })
}

func benchmarkServeOutgoing(b *testing.B, change bool) {
	const n = 10_000
	s := fakelibris.New(fakelibris.Options{})
	s.AddKey(key, "Abc")
	gen := fakelibris.Generate(fakelibris.GenerateOptions{Seed: 3, Count: n, From: day(2024, 8, 1), To: day(2024, 8, 3)})
	s.Put(gen...)
	rq := httptest.NewRequestWithContext(context.Background(), http.MethodGet,
		"/librisfjarrlan/api/illrequests/Abc/outgoing?start_date=2024-08-01&end_date=2024-08-03", nil)
	rq.Header.Set("api-key", key)
	w := &discard{h: http.Header{}}
	s.ServeHTTP(w, rq) // the first answer may prepare what later ones reuse
	bodyBytes := w.n

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if change {
			s.Touch(gen[i%n].LFNumber, nil)
		}
		w.n = 0
		s.ServeHTTP(w, rq)
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	if w.n != bodyBytes {
		b.Fatalf("answer of %d bytes, then %d", bodyBytes, w.n)
	}
	per := float64(b.N) * n
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/request")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/per, "B/request")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/per, "allocs/request")
	b.ReportMetric(float64(bodyBytes)/n, "wire-B/request")
}
