package fakelibris

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Fault changes how matching calls are answered. Faults form a queue: a call consumes the
// first queued fault whose Match it contains, so Inject(A); Inject(B) with the same Match
// affects the next A.Times calls with A, then B. Within one fault the effects run in this
// order: Delay, Late, Churn, then the answer (Status, else NonJSON, else Truncate, else the
// normal answer). Faults act before routing and the api-key check.
type Fault struct {
	Match    string        // substring of the request path after BasePath; "" matches every call
	Times    int           // how many matching calls it affects; <= 0 = until ClearFaults
	Status   int           // answer this status: empty body for 401/403, short text otherwise; outside 200–599 means 500
	Delay    time.Duration // sleep before answering; a cancelled request ends the call with no answer
	NonJSON  bool          // 200 with an HTML body
	Truncate bool          // the normal answer cut off in the middle: Content-Length of the whole, half the bytes, connection closed
	Churn    int           // bump last_modified of this many stored requests of the path's sigel (evenly spread over its lf_numbers)
	Late     []Request     // Put into the store just before answering: requests that "appear late"
}

type faultSlot struct {
	f    Fault
	left int // remaining calls; unused when f.Times <= 0
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	late := make([]Request, len(f.Late))
	for i := range f.Late { // the caller may reuse its slice
		late[i] = f.Late[i].clone()
	}
	f.Late = late
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.faults = append(s.faults, &faultSlot{f: f, left: f.Times})
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.faults = nil
}

// takeFault consumes one use of the first fault matching rel.
func (s *Server) takeFault(rel string) (Fault, bool) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	for i, slot := range s.faults {
		if !strings.Contains(rel, slot.f.Match) {
			continue
		}
		if slot.f.Times > 0 {
			slot.left--
			if slot.left <= 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		return slot.f, true
	}
	return Fault{}, false
}

// applyFault runs the fault's effects and writes its answer; true means the call should go
// on to the normal (or, for Truncate, the truncated) answer.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault, segs []string) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return false
		}
	}
	if len(f.Late) > 0 {
		s.Put(f.Late...)
	}
	if f.Churn > 0 && len(segs) >= 2 {
		s.churn(segs[1], f.Churn)
	}
	switch {
	case f.Status != 0:
		writeStatus(w, f.Status)
		return false
	case f.NonJSON:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(maintenancePage))
		return false
	}
	return true
}

const maintenancePage = `<!DOCTYPE html>
<html lang="sv"><head><meta charset="utf-8"><title>Libris fjärrlån</title></head>
<body><h1>Tjänsten är tillfälligt otillgänglig</h1><p>Libris fjärrlån har underhåll. Försök igen senare.</p></body></html>
`

func writeStatus(w http.ResponseWriter, code int) {
	if code < 200 || code > 599 { // net/http panics on codes outside 100–999; 1xx would not end the call
		code = http.StatusInternalServerError
	}
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNoContent, http.StatusNotModified:
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(strconv.Itoa(code) + " " + http.StatusText(code) + "\n"))
}

// churn bumps last_modified of n requests of sigel, chosen evenly over their sorted
// lf_numbers so the choice is deterministic for a given store.
func (s *Server) churn(sigel string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lfs []string
	for lf, e := range s.reqs {
		if e.req.RequestingLibrary == sigel {
			lfs = append(lfs, lf)
		}
	}
	if len(lfs) == 0 {
		return
	}
	slices.Sort(lfs)
	n = min(n, len(lfs))
	for i := 0; i < n; i++ {
		s.touchLocked(lfs[i*len(lfs)/n], nil)
	}
}

// serveTruncated renders the normal answer into memory, then sends its first half while
// declaring the full Content-Length; net/http closes the connection when the handler
// returns short, so the client sees a valid JSON start and then an unexpected EOF.
func (s *Server) serveTruncated(w http.ResponseWriter, r *http.Request, segs []string) {
	rec := &recorder{header: http.Header{}}
	s.route(rec, r, segs)
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	body := rec.body.Bytes()
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	w.WriteHeader(rec.status)
	w.Write(body[:len(body)/2])
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
}

// recorder is a minimal in-memory http.ResponseWriter for serveTruncated.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
