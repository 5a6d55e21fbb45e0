// Package fault is the fault injection the harvester's fake ILL servers (fakelibris,
// fakenetpunkt) share: a queue of faults consumed by matching calls, and the ways a
// fault answers instead of the normal answer (a bare status, a maintenance page, a delay,
// an answer cut off in the middle, one that drips in, one that never ends). What a fault
// is made of stays with each fake; only the mechanics live here.
package fault

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Queue holds a fake's injected faults in order. A call consumes the first queued fault
// whose match string it contains, so pushing A then B with the same match affects the
// next A's times calls with A, then B. The zero Queue is empty and ready; it is safe for
// concurrent use.
type Queue[F any] struct {
	mu    sync.Mutex
	slots []*slot[F]
}

type slot[F any] struct {
	f     F
	match string
	times int // <= 0: until Clear
	left  int // remaining calls when times > 0
}

// Push queues f for calls containing match ("" matches every call), for times calls, or
// until Clear when times <= 0.
func (q *Queue[F]) Push(f F, match string, times int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.slots = append(q.slots, &slot[F]{f: f, match: match, times: times, left: times})
}

// Clear drops every queued fault.
func (q *Queue[F]) Clear() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.slots = nil
}

// Take consumes one use of the first fault whose match call contains.
func (q *Queue[F]) Take(call string) (F, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, s := range q.slots {
		if !strings.Contains(call, s.match) {
			continue
		}
		if s.times > 0 {
			s.left--
			if s.left <= 0 {
				q.slots = slices.Delete(q.slots, i, i+1)
			}
		}
		return s.f, true
	}
	var zero F
	return zero, false
}

// Delay waits d before the call is answered; false when the client went away first, and
// the call then ends with no answer.
func Delay(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// WriteStatus answers code with a short text body ("503 Service Unavailable"), or with
// no body for the codes in bodiless. A code outside 200–599 is answered 500: net/http
// panics on codes outside 100–999, and a 1xx would not end the call.
func WriteStatus(w http.ResponseWriter, code int, bodiless ...int) {
	if code < 200 || code > 599 {
		code = http.StatusInternalServerError
	}
	if slices.Contains(bodiless, code) {
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(strconv.Itoa(code) + " " + http.StatusText(code) + "\n"))
}

// WriteHTML answers 200 with an HTML page, as a proxy or a maintenance mode in front of
// an API does.
func WriteHTML(w http.ResponseWriter, page string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(page))
}

// WriteTruncated sends the first half of body while declaring the whole as
// Content-Length; net/http closes the connection when the handler returns short, so the
// client sees a valid start and then an unexpected EOF. Other headers are set by the
// caller.
func WriteTruncated(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body[:len(body)/2])
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
}

// Drip sends body in pieces of size bytes (at least 1), flushing each and pausing between
// them: an answer that is slow but never silent. A client that goes away ends it.
func Drip(w http.ResponseWriter, r *http.Request, body []byte, size int, pause time.Duration) {
	size = max(size, 1)
	rc := http.NewResponseController(w)
	for len(body) > 0 {
		n := min(size, len(body))
		if _, err := w.Write(body[:n]); err != nil {
			return
		}
		_ = rc.Flush()
		body = body[n:]
		if len(body) == 0 {
			return
		}
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
}

// Endless sends head, then next(0), next(1), … without end: an answer that never
// finishes, as fast as the client reads it. It ends only when the client goes away (or
// stops reading and the connection breaks). The caller has written the status.
func Endless(w http.ResponseWriter, r *http.Request, head []byte, next func(i int) []byte) {
	rc := http.NewResponseController(w)
	if _, err := w.Write(head); err != nil {
		return
	}
	for i := 0; ; i++ {
		if i%64 == 0 {
			if r.Context().Err() != nil {
				return
			}
			_ = rc.Flush()
		}
		if _, err := w.Write(next(i)); err != nil {
			return
		}
	}
}
