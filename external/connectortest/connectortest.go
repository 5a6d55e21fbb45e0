// Package connectortest holds what the connectors' tests (libris, netpunkt) measure and
// record the same way: the heap while a large answer streams through Fetch, and the waits
// a client asked for between attempts.
package connectortest

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/interloan/interloan/external/connector"
)

// Heap is what MeasureHeap saw.
type Heap struct {
	Visited  int    // requests visit saw
	Problems int    // of them, with a mapping problem
	Start    uint64 // heap in use before fetch, after a GC
	Peak     uint64 // the most heap in use seen while fetching
}

// Growth is how far the heap in use rose above Start while fetching.
func (h Heap) Growth() int64 { return int64(h.Peak) - int64(h.Start) }

// sampleEvery is how many visits pass between heap samples: ReadMemStats stops the world.
const sampleEvery = 2000

// MeasureHeap runs fetch with a visit that counts requests and samples the heap in use,
// so a test can check that an answer is decoded one request at a time, not held whole.
func MeasureHeap(fetch func(visit func(*connector.Request) error) error) (Heap, error) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h := Heap{Start: ms.HeapInuse, Peak: ms.HeapInuse}
	err := fetch(func(r *connector.Request) error {
		h.Visited++
		if r.Problem != "" {
			h.Problems++
		}
		if h.Visited%sampleEvery == 0 {
			runtime.ReadMemStats(&ms)
			h.Peak = max(h.Peak, ms.HeapInuse)
		}
		return nil
	})
	return h, err
}

// Sleeps records the waits a client asks for instead of waiting; its Sleep is a
// Config.Sleep. Safe for concurrent use.
type Sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

// Sleep records d and returns at once: ctx.Err(), as a real wait would on a done ctx.
func (s *Sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

// All returns the recorded waits in order.
func (s *Sleeps) All() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}
