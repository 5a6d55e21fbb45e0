package fakelibris

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/interloan/interloan/fakes/fault"
)

// Fault changes how matching calls are answered. Faults form a queue: a call consumes the
// first queued fault whose Match it contains, so Inject(A); Inject(B) with the same Match
// affects the next A.Times calls with A, then B. Within one fault the effects run in this
// order: Delay, Late, Churn, then the answer (Status, else NonJSON, else Truncate, else
// Flood, else the normal answer, changed by Mangle and Bloat and sent at the pace of Drip).
// Faults act before routing and the api-key check.
type Fault struct {
	Match    string        // substring of the request path after BasePath; "" matches every call
	Times    int           // how many matching calls it affects; <= 0 = until ClearFaults
	Status   int           // answer this status: empty body for 401/403, short text otherwise; outside 200–599 means 500
	Delay    time.Duration // sleep before answering; a cancelled request ends the call with no answer
	NonJSON  bool          // 200 with an HTML body
	Truncate bool          // the normal answer cut off in the middle: Content-Length of the whole, half the bytes, connection closed
	Churn    int           // bump last_modified of this many stored requests of the path's sigel (evenly spread over its lf_numbers)
	Late     []Request     // Put into the store just before answering: requests that "appear late"
	Drip     time.Duration // send the answer in DripSize pieces with this pause between them: slow, but never silent
	DripSize int           // bytes per Drip piece; 0 is DripBytes, 1 drips byte by byte
	Mangle   *Mangle       // change one ill_requests item of a 200 envelope answer (not with Truncate)
	Bloat    int           // add an unknown field "padding" of this many bytes to every item of a 200 envelope answer: a giant answer, valid throughout
	Flood    *Flood        // a 200 envelope answer whose ill_requests never end
}

// DripBytes is the size of the pieces a Drip fault sends unless DripSize says otherwise.
const DripBytes = 256

// Flood makes a 200 envelope answer (outgoing, or one request) never end, as a broken or
// hostile server might: after its own items, ill_requests goes on with copies of them,
// each changed by Bloat, until the client goes away. An answer without items is sent as
// it is. The envelope's count stays that of the normal answer.
type Flood struct {
	// Distinct gives every copy an lf_number and request_id never sent before (the order
	// date kept): requests without end. Otherwise the same requests come over and over.
	Distinct bool
}

// Mangle breaks one item of an envelope answer the way a buggy Libris release might. The
// envelope's count always matches the items sent, so a client sees a consistent answer
// with a bad item in it, not a truncated one.
type Mangle struct {
	Item        int    // index of the item changed; outside the answer means the last one
	LFNumber    string // when set, the item with this lf_number instead (none in the answer: nothing changes)
	Drop        string // remove this field (e.g. "lf_number")
	WrongType   string // replace this field's value with one of another JSON type (object for a scalar, string for an object or array)
	InvalidUTF8 string // replace this field's value with a string whose bytes are not UTF-8
	Duplicate   bool   // send the item twice in a row (the same lf_number twice in one answer)
	Pad         int    // add an unknown field "padding" of this many bytes to the item
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	if f.Mangle != nil {
		m := *f.Mangle // the caller may reuse it
		f.Mangle = &m
	}
	late := make([]Request, len(f.Late))
	for i := range f.Late { // the caller may reuse its slice
		late[i] = f.Late[i].clone()
	}
	f.Late = late
	s.faults.Push(f, f.Match, f.Times)
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// applyFault runs the fault's effects and writes its answer; true means the call should go
// on to the normal (or, for Truncate, the truncated) answer.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault, segs []string) bool {
	if !fault.Delay(r, f.Delay) {
		return false
	}
	if len(f.Late) > 0 {
		s.Put(f.Late...)
	}
	if f.Churn > 0 && len(segs) >= 2 {
		s.churn(segs[1], f.Churn)
	}
	switch {
	case f.Status != 0:
		// An auth refusal has no body, as Libris's own (and a 204/304 cannot have one).
		fault.WriteStatus(w, f.Status, http.StatusUnauthorized, http.StatusForbidden, http.StatusNoContent, http.StatusNotModified)
		return false
	case f.NonJSON:
		fault.WriteHTML(w, maintenancePage)
		return false
	}
	return true
}

const maintenancePage = `<!DOCTYPE html>
<html lang="sv"><head><meta charset="utf-8"><title>Libris fjärrlån</title></head>
<body><h1>Tjänsten är tillfälligt otillgänglig</h1><p>Libris fjärrlån har underhåll. Försök igen senare.</p></body></html>
`

// churn bumps last_modified of n requests of sigel, chosen evenly over their sorted
// lf_numbers so the choice is deterministic for a given store.
func (s *Server) churn(sigel string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	es := s.sortedLocked(sigel) // stays as it is while the touches below replace entries
	if len(es) == 0 {
		return
	}
	n = min(n, len(es))
	enc := newItemEncoder()
	for i := 0; i < n; i++ {
		s.touchLocked(es[i*len(es)/n].req.LFNumber, nil, enc)
	}
}

// serveTruncated renders the normal answer into memory, then sends its first half while
// declaring the full Content-Length (fault.WriteTruncated): the client sees a valid JSON
// start and then an unexpected EOF.
func (s *Server) serveTruncated(w http.ResponseWriter, r *http.Request, segs []string) {
	rec := s.render(w, r, segs)
	fault.WriteTruncated(w, rec.status, rec.body.Bytes())
}

// render routes the call into memory for a fault that alters the normal answer, and
// copies that answer's headers to w; its status is 200 when the route set none.
func (s *Server) render(w http.ResponseWriter, r *http.Request, segs []string) *recorder {
	rec := &recorder{header: http.Header{}}
	s.route(rec, r, segs)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	return rec
}

// recorder is a minimal in-memory http.ResponseWriter for render.
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

// serveAltered renders the normal answer into memory, applies f.Mangle and f.Bloat to it
// and sends it, in f.DripSize pieces (DripBytes when 0) f.Drip apart when set. A client
// that goes away ends the drip.
func (s *Server) serveAltered(w http.ResponseWriter, r *http.Request, segs []string, f Fault) {
	rec := s.render(w, r, segs)
	body := rec.body.Bytes()
	if f.Mangle != nil && rec.status == http.StatusOK {
		if changed, ok := f.Mangle.apply(body); ok {
			body = changed
		}
	}
	if f.Bloat > 0 && rec.status == http.StatusOK {
		if env, items, ok := envelopeItems(body); ok {
			for i := range items {
				items[i] = pad(items[i], f.Bloat)
			}
			env["ill_requests"], _ = json.Marshal(items)
			if enc, err := json.Marshal(env); err == nil {
				body = append(enc, '\n')
			}
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.status)
	if f.Drip <= 0 {
		w.Write(body)
		return
	}
	fault.Drip(w, r, body, cmp.Or(f.DripSize, DripBytes), f.Drip)
}

// serveFlood sends the normal answer with f.Flood: its items, then copies of them without
// end (fault.Endless).
func (s *Server) serveFlood(w http.ResponseWriter, r *http.Request, segs []string, f Fault) {
	rec := s.render(w, r, segs)
	env, items, ok := envelopeItems(rec.body.Bytes())
	if rec.status != http.StatusOK || !ok || len(items) == 0 {
		w.WriteHeader(rec.status)
		w.Write(rec.body.Bytes())
		return
	}
	delete(env, "ill_requests")
	head, _ := json.Marshal(env)
	head = head[:len(head)-1] // open again after the last field
	if len(env) > 0 {
		head = append(head, ',')
	}
	head = append(head, `"ill_requests":[`...)
	w.WriteHeader(http.StatusOK)
	fault.Endless(w, r, head, func(i int) []byte {
		item := items[i%len(items)]
		if f.Flood.Distinct && i >= len(items) {
			item = renumber(item, i)
		}
		if f.Bloat > 0 {
			item = pad(item, f.Bloat)
		}
		if i > 0 {
			return append([]byte{','}, item...)
		}
		return item
	})
}

// envelopeItems splits an envelope answer into its fields and its ill_requests items;
// false when body is not one (an error answer, /libraries).
func envelopeItems(body []byte) (map[string]json.RawMessage, []json.RawMessage, bool) {
	var env map[string]json.RawMessage
	if json.Unmarshal(body, &env) != nil {
		return nil, nil, false
	}
	var items []json.RawMessage
	if json.Unmarshal(env["ill_requests"], &items) != nil {
		return nil, nil, false
	}
	return env, items, true
}

// pad adds an unknown field "padding" of n bytes to an item (an object); anything else
// is returned as it is.
func pad(item json.RawMessage, n int) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(item, &m) != nil {
		return item
	}
	m["padding"], _ = json.Marshal(strings.Repeat("x", n))
	out, err := json.Marshal(m)
	if err != nil {
		return item
	}
	return out
}

// renumber gives the i-th copy of an item an lf_number and request_id of its own: the
// lf_number keeps its sigel and order date, with a sequence number past any the
// generator gives.
func renumber(item json.RawMessage, i int) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(item, &m) != nil {
		return item
	}
	var lf string
	_ = json.Unmarshal(m["lf_number"], &lf)
	if k := strings.LastIndexByte(lf, '-'); k >= 0 {
		lf = lf[:k]
	}
	m["lf_number"], _ = json.Marshal(fmt.Sprintf("%s-F%07d", lf, i))
	m["request_id"], _ = json.Marshal(strconv.Itoa(900000000 + i))
	out, err := json.Marshal(m)
	if err != nil {
		return item
	}
	return out
}

// invalidUTF8 stands in for the broken string while the item goes through encoding/json,
// which would repair the bytes; it is replaced in the finished body.
const (
	invalidUTF8Mark  = "\x1e\x1einvalid-utf8\x1e\x1e"
	invalidUTF8Bytes = "Ogiltig \xff\xfe text \xc3"
)

// apply returns the envelope body with m applied to one item; false when body is not an
// envelope with items (an error answer, /libraries), which is then sent unchanged.
func (m Mangle) apply(body []byte) ([]byte, bool) {
	var env map[string]json.RawMessage
	if json.Unmarshal(body, &env) != nil {
		return nil, false
	}
	var items []json.RawMessage
	if json.Unmarshal(env["ill_requests"], &items) != nil || len(items) == 0 {
		return nil, false
	}
	k := m.Item
	if k < 0 || k >= len(items) {
		k = len(items) - 1
	}
	if m.LFNumber != "" {
		k = slices.IndexFunc(items, func(raw json.RawMessage) bool {
			var it struct {
				LF string `json:"lf_number"`
			}
			return json.Unmarshal(raw, &it) == nil && it.LF == m.LFNumber
		})
		if k < 0 {
			return nil, false
		}
	}
	var item map[string]json.RawMessage
	if json.Unmarshal(items[k], &item) != nil {
		return nil, false
	}
	if m.Drop != "" {
		delete(item, m.Drop)
	}
	if m.WrongType != "" {
		v := bytes.TrimSpace(item[m.WrongType])
		if len(v) > 0 && (v[0] == '{' || v[0] == '[') {
			item[m.WrongType] = json.RawMessage(`"not the expected type"`)
		} else {
			item[m.WrongType] = json.RawMessage(`{"unexpected":["object"]}`)
		}
	}
	if m.InvalidUTF8 != "" {
		item[m.InvalidUTF8], _ = json.Marshal(invalidUTF8Mark)
	}
	if m.Pad > 0 {
		item["padding"], _ = json.Marshal(strings.Repeat("x", m.Pad))
	}
	changed, err := json.Marshal(item)
	if err != nil {
		return nil, false
	}
	out := append(items[:k:k], json.RawMessage(changed))
	if m.Duplicate {
		out = append(out, json.RawMessage(changed))
	}
	out = append(out, items[k+1:]...)
	env["ill_requests"], _ = json.Marshal(out)
	env["count"] = json.RawMessage(strconv.Itoa(len(out)))
	enc, err := json.Marshal(env)
	if err != nil {
		return nil, false
	}
	mark, _ := json.Marshal(invalidUTF8Mark)
	enc = bytes.ReplaceAll(enc, mark, []byte(`"`+invalidUTF8Bytes+`"`))
	return append(enc, '\n'), true
}
