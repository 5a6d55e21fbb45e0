package fakenetpunkt

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Fault changes how matching calls are answered, as fakelibris.Fault does. Faults form a
// queue: a call consumes the first queued fault whose Match its action contains. Within
// one fault the effects run in this order: Delay, Late, Churn, then the answer (Status,
// else NonXML, else Truncate, else the normal answer). Faults act before the
// authentication check.
type Fault struct {
	Match    string        // substring of the call's action; "" matches every call
	Times    int           // how many matching calls it affects; <= 0 = until ClearFaults
	Status   int           // answer this status; outside 200–599 means 500
	Delay    time.Duration // sleep before answering; a cancelled request ends with no answer
	NonXML   bool          // 200 with an HTML maintenance page
	Truncate bool          // the normal answer cut off in the middle, connection closed
	Churn    int           // bump lastModification of this many stored orders (evenly spread)
	Late     []Order       // Put just before answering: orders that "appear late"
}

type faultSlot struct {
	f    Fault
	left int
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	f.Late = slices.Clone(f.Late)
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

func (s *Server) takeFault(action string) (Fault, bool) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	for i, slot := range s.faults {
		if !strings.Contains(action, slot.f.Match) {
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

// applyFault runs the fault's effects and writes its answer; true means the call goes on
// to the normal (or truncated) answer.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
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
	if f.Churn > 0 {
		s.churn(f.Churn)
	}
	switch {
	case f.Status != 0:
		code := f.Status
		if code < 200 || code > 599 {
			code = http.StatusInternalServerError
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		w.Write([]byte(strconv.Itoa(code) + " " + http.StatusText(code) + "\n"))
		return false
	case f.NonXML:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(maintenancePage))
		return false
	}
	return true
}

const maintenancePage = `<!DOCTYPE html>
<html lang="da"><head><meta charset="utf-8"><title>DBC</title></head>
<body><h1>Tjenesten er midlertidigt utilgængelig</h1><p>Prøv igen senere.</p></body></html>
`

// churn bumps lastModification of n orders chosen evenly over the sorted orderIds, so
// the choice is deterministic for a given store.
func (s *Server) churn(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.orders))
	for id := range s.orders {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	n = min(n, len(ids))
	now := s.now().Truncate(time.Second)
	for i := 0; i < n; i++ {
		o := s.orders[ids[i*len(ids)/n]]
		if !now.After(o.LastModification) {
			now = o.LastModification.Add(time.Second)
		}
		o.LastModification = now
		s.orders[o.OrderID] = o
	}
}
