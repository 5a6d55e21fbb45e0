// Package fakelibris is a faithful in-memory fake of the Libris fjärrlån (ILL) HTTP API,
// as far as its documentation and its clients make it known, for tests and demos of the
// harvester.
//
// It serves, below Options.BasePath (default "/librisfjarrlan/api"):
//
//	GET /illrequests/{sigel}/outgoing?start_date=YYYY-MM-DD&end_date=YYYY-MM-DD
//	GET /illrequests/{sigel}/{lf_number or request_id}
//	GET /libraries/{sigel}/{code}[,{code}...]
//
// Every call needs an "api-key" header registered with AddKey for exactly that (case-sensitive)
// sigel: a missing or unknown key answers 401, a key for another sigel 403, both with an empty
// body. Other real endpoints (incoming, incoming_archive, recent, may_reserve, notfullfilled,
// delivered, userrequests, doc) answer 501; other paths 404; methods other than GET 405.
//
// Tests run it with net/http/httptest:
//
//	s := fakelibris.New(fakelibris.Options{})
//	s.AddKey("k", "Abc")
//	s.Put(fakelibris.Generate(fakelibris.GenerateOptions{Sigel: "Abc", Count: 100, From: from, To: to})...)
//	srv := httptest.NewServer(s)
//	defer srv.Close()
//	base := srv.URL + "/librisfjarrlan/api"
//
// Faults (Inject) simulate an unreliable service: error statuses, slowness, HTML or truncated
// bodies, answers that drip in slowly, a broken item in an otherwise good answer (a field
// missing or of the wrong type, invalid UTF-8, an lf_number twice, an oversized item),
// last_modified churn, requests that appear late, and the faults of a hostile server: a
// giant answer (every item bloated) and an answer that never ends (Flood).
package fakelibris

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/interloan/interloan/fakes/fault"
)

// DefaultBasePath is the path of the real service below its host.
const DefaultBasePath = "/librisfjarrlan/api"

// Options configures New. The zero value is usable.
type Options struct {
	BasePath       string           // default DefaultBasePath
	NotFoundStatus int              // status for an unknown single id: 200, 400 or 404 (default, and for any other value: 404)
	MaxRangeDays   int              // 0 = unlimited; else outgoing with more days (inclusive count) answers 400
	Now            func() time.Time // default time.Now; used when bumping last_modified
}

// Server is the fake Libris ILL API. It is an http.Handler and safe for concurrent use.
type Server struct {
	base     string
	notFound int
	maxRange int
	now      func() time.Time

	mu   sync.RWMutex
	keys map[string]map[string]bool // api-key → sigels it may read
	libs map[string]Library
	reqs map[string]*entry // by lf_number; entries are immutable, replaced on change
	ids  map[idKey]string  // (requesting_library, request_id) → lf_number
	// bySigel holds each requesting library's entries by lf_number, sorted when an answer
	// first needs them and dropped when one of them changes; a sorted slice is never
	// changed, so an answer keeps using it after the lock is released.
	bySigel map[string][]*entry

	faults fault.Queue[Fault]

	fmu   sync.Mutex     // guards calls
	calls map[string]int // URL path → number of calls
}

// entry is a stored request with its order date and its JSON precomputed; never mutated
// once stored, so a response can stream a snapshot of entries without holding the lock,
// and every change (Put, Touch, Churn, Late) stores a new entry with its own bytes.
type entry struct {
	req    *Request
	json   []byte // the item as writeEnvelope sends it: itemEncoder.encode's output
	day    int64  // order date as days since 1970-01-01
	hasDay bool
}

// itemEncoder encodes requests as the ill_requests items of an answer. Each is encoded
// once, when stored, so an answer of 100 000 requests is a copy of stored bytes rather
// than 100 000 reflective encodings competing with the client for the CPU.
type itemEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

func newItemEncoder() *itemEncoder {
	e := &itemEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false) // Libris sends <, > and & as they are
	return e
}

// encode returns r's item bytes: encoding/json's, with the newline its Encoder ends each
// value with (the answers have always carried it).
func (e *itemEncoder) encode(r *Request) []byte {
	e.buf.Reset()
	if err := e.enc.Encode(r); err != nil {
		// A Request has only strings, bools, pointers to strings and slices of such
		// structs; encoding/json cannot fail on it.
		panic("fakelibris: encoding a request: " + err.Error())
	}
	return bytes.Clone(e.buf.Bytes())
}

type idKey struct{ sigel, id string }

// New returns an empty server.
func New(o Options) *Server {
	base := strings.TrimRight(o.BasePath, "/")
	if o.BasePath == "" {
		base = DefaultBasePath
	} else if base != "" && base[0] != '/' {
		base = "/" + base
	}
	nf := o.NotFoundStatus
	if nf != http.StatusOK && nf != http.StatusBadRequest {
		nf = http.StatusNotFound
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Server{
		base:     base,
		notFound: nf,
		maxRange: max(o.MaxRangeDays, 0),
		now:      now,
		keys:     map[string]map[string]bool{},
		libs:     map[string]Library{},
		reqs:     map[string]*entry{},
		ids:      map[idKey]string{},
		bySigel:  map[string][]*entry{},
		calls:    map[string]int{},
	}
}

// BasePath returns the normalised base path the server answers below.
func (s *Server) BasePath() string { return s.base }

// AddKey lets apiKey read sigel (case-sensitive). Adding the same key again for another
// sigel lets it read both; an empty key is ignored because a missing header reads as "".
func (s *Server) AddKey(apiKey, sigel string) {
	if apiKey == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[apiKey] == nil {
		s.keys[apiKey] = map[string]bool{}
	}
	s.keys[apiKey][sigel] = true
}

// AddLibraries adds or replaces directory entries (by library_code) for /libraries.
func (s *Server) AddLibraries(libs ...Library) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range libs {
		s.libs[l.LibraryCode] = l
	}
}

// Put adds or replaces requests by lf_number; requests without an lf_number are ignored.
// The order date comes from OrderDate when set, else from the lf_number's YYMMDD.
func (s *Server) Put(reqs ...Request) {
	// Encoded before taking the lock, so answers being served are not held up by a Put
	// of many requests.
	enc := newItemEncoder()
	entries := make([]*entry, 0, len(reqs))
	for i := range reqs {
		if reqs[i].LFNumber == "" {
			continue
		}
		c := reqs[i].clone()
		entries = append(entries, newEntry(&c, enc))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		s.storeLocked(e)
	}
}

// newEntry wraps r, which the caller hands over, for storeLocked.
func newEntry(r *Request, enc *itemEncoder) *entry {
	e := &entry{req: r, json: enc.encode(r)}
	if !r.OrderDate.IsZero() {
		e.day, e.hasDay = dayOf(r.OrderDate), true
	} else {
		e.day, e.hasDay = lfDay(r.LFNumber)
	}
	return e
}

func (s *Server) storeLocked(e *entry) {
	r := e.req
	if old, ok := s.reqs[r.LFNumber]; ok {
		k := idKey{old.req.RequestingLibrary, old.req.RequestID}
		if s.ids[k] == r.LFNumber {
			delete(s.ids, k)
		}
		delete(s.bySigel, old.req.RequestingLibrary)
	}
	delete(s.bySigel, r.RequestingLibrary)
	s.reqs[r.LFNumber] = e
	if r.RequestID != "" {
		s.ids[idKey{r.RequestingLibrary, r.RequestID}] = r.LFNumber
	}
}

// Delete removes a request (a request "missing from Libris"); false if unknown.
func (s *Server) Delete(lfNumber string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.reqs[lfNumber]
	if !ok {
		return false
	}
	k := idKey{e.req.RequestingLibrary, e.req.RequestID}
	if s.ids[k] == lfNumber {
		delete(s.ids, k)
	}
	delete(s.reqs, lfNumber)
	delete(s.bySigel, e.req.RequestingLibrary)
	return true
}

// sorted returns the entries requested by sigel, by lf_number.
func (s *Server) sorted(sigel string) []*entry {
	s.mu.RLock()
	es, ok := s.bySigel[sigel]
	s.mu.RUnlock()
	if ok {
		return es
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedLocked(sigel)
}

func (s *Server) sortedLocked(sigel string) []*entry {
	if es, ok := s.bySigel[sigel]; ok {
		return es
	}
	var es []*entry
	for _, e := range s.reqs {
		if e.req.RequestingLibrary == sigel {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b *entry) int { return strings.Compare(a.req.LFNumber, b.req.LFNumber) })
	s.bySigel[sigel] = es
	return es
}

// Get returns a copy of the stored request.
func (s *Server) Get(lfNumber string) (Request, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.reqs[lfNumber]
	if !ok {
		return Request{}, false
	}
	return e.req.clone(), true
}

// Touch applies change (may be nil) to the request and bumps last_modified strictly above
// its previous value: to now, or previous+1 when the clock has not moved on. A higher value
// set by change is kept. The lf_number cannot be changed. False if unknown.
func (s *Server) Touch(lfNumber string, change func(*Request)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.touchLocked(lfNumber, change, newItemEncoder())
}

func (s *Server) touchLocked(lfNumber string, change func(*Request), enc *itemEncoder) bool {
	e, ok := s.reqs[lfNumber]
	if !ok {
		return false
	}
	c := e.req.clone()
	prev, _ := strconv.ParseInt(e.req.LastModified, 10, 64)
	if change != nil {
		change(&c)
	}
	c.LFNumber = lfNumber
	next := max(s.now().Unix(), prev+1)
	if set, err := strconv.ParseInt(c.LastModified, 10, 64); err == nil && set > next {
		next = set
	}
	c.LastModified = strconv.FormatInt(next, 10)
	s.storeLocked(newEntry(&c, enc))
	return true
}

// Len returns the number of stored requests.
func (s *Server) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.reqs)
}

// Calls returns how many requests (any method, any outcome) hit URL paths containing
// pathSubstring; "" counts all.
func (s *Server) Calls(pathSubstring string) int {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	n := 0
	for p, c := range s.calls {
		if strings.Contains(p, pathSubstring) {
			n += c
		}
	}
	return n
}

// lfDay reads the order date from "{sigel}-{YYMMDD}-{NNNN}" (years 2000–2099).
func lfDay(lf string) (int64, bool) {
	parts := strings.Split(lf, "-")
	if len(parts) < 3 {
		return 0, false
	}
	d := parts[len(parts)-2]
	if len(d) != 6 || !allDigits(d) {
		return 0, false
	}
	y, _ := strconv.Atoi(d[0:2])
	m, _ := strconv.Atoi(d[2:4])
	dd, _ := strconv.Atoi(d[4:6])
	return civilDay(2000+y, m, dd)
}

// civilDay validates a calendar date and returns it as days since 1970-01-01.
func civilDay(y, m, d int) (int64, bool) {
	if m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d { // e.g. 30 February rolled over
		return 0, false
	}
	return t.Unix() / 86400, true
}

// parseDate accepts YYYY-MM-DD and the unpadded YYYY-M-D that some clients send.
func parseDate(s string) (int64, bool) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 || len(parts[0]) != 4 || len(parts[1]) < 1 || len(parts[1]) > 2 ||
		len(parts[2]) < 1 || len(parts[2]) > 2 {
		return 0, false
	}
	for _, p := range parts {
		if !allDigits(p) {
			return 0, false
		}
	}
	y, _ := strconv.Atoi(parts[0])
	m, _ := strconv.Atoi(parts[1])
	d, _ := strconv.Atoi(parts[2])
	return civilDay(y, m, d)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// unimplemented are real Libris endpoints the fake does not serve.
var unimplemented = map[string]bool{
	"incoming": true, "incoming_archive": true, "recent": true,
	"may_reserve": true, "notfullfilled": true, "delivered": true,
}

// ServeHTTP routes one call; see the package documentation.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.fmu.Lock()
	s.calls[r.URL.Path]++
	s.fmu.Unlock()

	rel, ok := s.relative(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	segs := strings.Split(strings.TrimPrefix(rel, "/"), "/")

	// Faults act before routing and auth, like a failing proxy or network in front of Libris.
	if f, ok := s.faults.Take(rel); ok {
		if !s.applyFault(w, r, f, segs) {
			return
		}
		if f.Truncate {
			s.serveTruncated(w, r, segs)
			return
		}
		if f.Flood != nil {
			s.serveFlood(w, r, segs, f)
			return
		}
		if f.Mangle != nil || f.Drip > 0 || f.Bloat > 0 {
			s.serveAltered(w, r, segs, f)
			return
		}
	}
	s.route(w, r, segs)
}

// relative strips the base path; false when the path is not below it.
func (s *Server) relative(p string) (string, bool) {
	if !strings.HasPrefix(p, s.base) {
		return "", false
	}
	rest := p[len(s.base):]
	if rest == "" || rest[0] != '/' {
		return "", false
	}
	return rest, true
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, segs []string) {
	for _, seg := range segs {
		if seg == "" {
			http.NotFound(w, r)
			return
		}
	}
	var serve func()
	switch {
	case len(segs) == 3 && segs[0] == "illrequests" && segs[2] == "outgoing":
		serve = func() { s.serveOutgoing(w, r, segs[1]) }
	case len(segs) == 3 && segs[0] == "illrequests" && unimplemented[segs[2]],
		len(segs) == 2 && segs[0] == "userrequests",
		len(segs) <= 2 && segs[0] == "doc":
		serve = func() { writeError(w, http.StatusNotImplemented, "not implemented by the fake Libris server") }
	case len(segs) == 3 && segs[0] == "illrequests":
		serve = func() { s.serveSingle(w, r, segs[1], segs[2]) }
	case len(segs) == 3 && segs[0] == "libraries":
		serve = func() { s.serveLibraries(w, segs[2]) }
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if segs[0] != "doc" && !s.authorize(w, r, segs[1]) {
		return
	}
	serve()
}

// authorize answers 401 for a missing or unknown key and 403 for a key of another sigel,
// both with an empty body (a real client must check the status before decoding).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, sigel string) bool {
	key := r.Header.Get("api-key")
	s.mu.RLock()
	sigels, known := s.keys[key]
	allowed := known && sigels[sigel]
	s.mu.RUnlock()
	switch {
	case key == "" || !known:
		w.WriteHeader(http.StatusUnauthorized)
		return false
	case !allowed:
		w.WriteHeader(http.StatusForbidden)
		return false
	}
	return true
}

func (s *Server) serveOutgoing(w http.ResponseWriter, r *http.Request, sigel string) {
	q := r.URL.Query()
	if f := q.Get("format"); f != "" && f != "json" {
		writeError(w, http.StatusNotImplemented, "format "+strconv.Quote(f)+" not implemented by the fake; use json")
		return
	}
	start, ok := parseDate(q.Get("start_date"))
	if !ok {
		writeError(w, http.StatusBadRequest, "start_date missing or not a date YYYY-MM-DD")
		return
	}
	end, ok := parseDate(q.Get("end_date"))
	if !ok {
		writeError(w, http.StatusBadRequest, "end_date missing or not a date YYYY-MM-DD")
		return
	}
	if start > end {
		writeError(w, http.StatusBadRequest, "start_date is after end_date")
		return
	}
	if s.maxRange > 0 && end-start+1 > int64(s.maxRange) {
		writeError(w, http.StatusBadRequest, "date interval longer than "+strconv.Itoa(s.maxRange)+" days")
		return
	}

	in := func(e *entry) bool { return e.hasDay && e.day >= start && e.day <= end }
	es := s.sorted(sigel)
	n := 0
	for _, e := range es {
		if in(e) {
			n++
		}
	}
	found := make([]*entry, 0, n)
	for _, e := range es {
		if in(e) {
			found = append(found, e)
		}
	}
	writeEnvelope(w, r, http.StatusOK, "outgoing", sigel, found)
}

func (s *Server) serveSingle(w http.ResponseWriter, r *http.Request, sigel, id string) {
	if f := r.URL.Query().Get("format"); f != "" && f != "json" {
		writeError(w, http.StatusNotImplemented, "format "+strconv.Quote(f)+" not implemented by the fake; use json")
		return
	}
	resultType := "lf_number"
	s.mu.RLock()
	lf := id
	if allDigits(id) {
		resultType = "request_id"
		lf = s.ids[idKey{sigel, id}]
	}
	e, ok := s.reqs[lf]
	s.mu.RUnlock()
	if !ok || e.req.RequestingLibrary != sigel {
		writeEnvelope(w, r, s.notFound, resultType, sigel, nil)
		return
	}
	writeEnvelope(w, r, http.StatusOK, resultType, sigel, []*entry{e})
}

// serveLibraries answers the known entries of a comma-separated list, in list order; the
// path's own sigel only matters for authorisation.
func (s *Server) serveLibraries(w http.ResponseWriter, list string) {
	out := []Library{}
	seen := map[string]bool{}
	s.mu.RLock()
	for _, code := range strings.Split(list, ",") {
		code = strings.TrimSpace(code)
		if l, ok := s.libs[code]; ok && !seen[code] {
			seen[code] = true
			out = append(out, l)
		}
	}
	s.mu.RUnlock()
	b, err := json.Marshal(struct {
		Libraries []Library `json:"libraries"`
	}{out})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding failed")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(append(b, '\n'))
}

// writeEnvelope streams the envelope item by item, each from its stored bytes, so a
// response of 100 000+ requests never exists as one buffer; count is known up front from
// the snapshot.
func writeEnvelope(w http.ResponseWriter, r *http.Request, status int, resultType, sigel string, items []*entry) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	bw := bufio.NewWriterSize(w, 32<<10)
	code, _ := json.Marshal(sigel)
	bw.WriteString(`{"data_source":"librisfjarrlan","data_type":"ill_requests","result_type":`)
	bw.WriteString(strconv.Quote(resultType))
	bw.WriteString(`,"library_code":`)
	bw.Write(code)
	bw.WriteString(`,"count":`)
	bw.WriteString(strconv.Itoa(len(items)))
	bw.WriteString(`,"ill_requests":[`)
	ctx := r.Context()
	for i, e := range items {
		if i%512 == 0 && ctx.Err() != nil {
			return // client gone
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		if _, err := bw.Write(e.json); err != nil {
			return // write failed: the client will see a cut-off body
		}
	}
	bw.WriteString("]}\n")
	bw.Flush()
}

// writeError answers a JSON error body; the real service's error shape is unknown.
func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
