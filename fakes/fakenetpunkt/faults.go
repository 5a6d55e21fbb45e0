package fakenetpunkt

import (
	"net/http"
	"slices"
	"time"

	"github.com/interloan/interloan/fakes/fault"
)

// Fault changes how matching calls are answered, as fakelibris.Fault does. Faults form a
// queue: a call consumes the first queued fault whose Match its action contains. Within
// one fault the effects run in this order: Delay, Late, Churn, then the answer (Status,
// else NonXML, else Truncate, else Flood, else the normal answer, sent at the pace of
// Drip). Faults act before the authentication check.
type Fault struct {
	Match    string        // substring of the call's action; "" matches every call
	Times    int           // how many matching calls it affects; <= 0 = until ClearFaults
	Status   int           // answer this status; outside 200–599 means 500
	Delay    time.Duration // sleep before answering; a cancelled request ends with no answer
	NonXML   bool          // 200 with an HTML maintenance page
	Truncate bool          // the normal answer cut off in the middle, connection closed
	Churn    int           // bump lastModification of this many stored orders (evenly spread)
	Late     []Order       // Put just before answering: orders that "appear late"
	Drip     time.Duration // send the answer in DripSize pieces with this pause between them: slow, but never silent
	DripSize int           // bytes per Drip piece; 0 is DripBytes, 1 drips byte by byte
	Flood    *Flood        // an answer whose orders never end
}

// DripBytes is the size of the pieces a Drip fault sends unless DripSize says otherwise.
const DripBytes = 256

// Flood makes an answer with orders never end, as a broken or hostile server might:
// after the page's own orders come copies of them, until the client goes away. An
// answer without orders (or an error) is sent as it is; numberOfOrders stays that of the
// normal answer.
type Flood struct {
	// Distinct gives every copy an orderId never sent before: orders without end.
	// Otherwise the same orders come over and over.
	Distinct bool
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	f.Late = slices.Clone(f.Late)
	s.faults.Push(f, f.Match, f.Times)
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// applyFault runs the fault's effects and writes its answer; true means the call goes on
// to the normal (or truncated) answer.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	if !fault.Delay(r, f.Delay) {
		return false
	}
	if len(f.Late) > 0 {
		s.Put(f.Late...)
	}
	if f.Churn > 0 {
		s.churn(f.Churn)
	}
	switch {
	case f.Status != 0:
		fault.WriteStatus(w, f.Status) // every status with a text body, 401/403 included
		return false
	case f.NonXML:
		fault.WriteHTML(w, maintenancePage)
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
