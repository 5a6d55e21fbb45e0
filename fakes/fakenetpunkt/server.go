// Package fakenetpunkt is an in-memory fake of DBC's Netpunkt services as the harvester's
// netpunkt connector reads them (docs/connectors/netpunkt.md), for tests and demos:
//
//	POST {BasePath}  action=findAllIllOrders | findSpecificOrder   (OpenFindOrder, REST flavour)
//
// Parameters are form-encoded: authentication.userIdAut/groupIdAut/passwordAut,
// requesterAgencyId, fromDate/toDate (YYYY-MM-DD, by creation date), start (1-based) and
// stepValue, or orderId. Unknown credentials, or credentials for another agency, answer
// DBC's <error>authentication_error</error> under HTTP 200. Other actions answer 501,
// other paths 404, other methods 405.
//
// Push (Push) plays Netpunkt sending an OpenReceipt message to a library's receipt URL.
//
// Faults (Inject) simulate an unreliable service as fakelibris does: error statuses,
// slowness, an HTML body, a truncated body, an answer that drips in, one that never ends
// (Flood), lastModification churn and orders that appear late.
package fakenetpunkt

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/interloan/interloan/fakes/fault"
)

// DefaultBasePath is the path the fake answers on.
const DefaultBasePath = "/openfindorder"

// Namespace is the XML namespace of OpenFindOrder answers.
const Namespace = "http://oss.dbc.dk/ns/openfindorder"

// Options configures New. The zero value is usable.
type Options struct {
	BasePath string           // default DefaultBasePath
	Now      func() time.Time // default time.Now; used when bumping lastModification
}

// Credential is DBC's three-part authentication.
type Credential struct{ User, Group, Password string }

// Server is the fake. It is an http.Handler and safe for concurrent use.
type Server struct {
	base string
	now  func() time.Time

	mu     sync.RWMutex
	creds  map[Credential]map[string]bool // → agencies (DK-nnnnnn) it may read
	orders map[string]Order               // by orderId

	faults fault.Queue[Fault]

	fmu     sync.Mutex // guards the counters
	calls   int
	actions map[string]int // action → calls
}

// New returns an empty server.
func New(o Options) *Server {
	base := strings.TrimRight(o.BasePath, "/")
	if o.BasePath == "" {
		base = DefaultBasePath
	}
	if !strings.HasPrefix(base, "/") {
		base = "/" + base
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Server{base: base, now: now, creds: map[Credential]map[string]bool{}, orders: map[string]Order{}, actions: map[string]int{}}
}

// BasePath returns the path the server answers on.
func (s *Server) BasePath() string { return s.base }

// AddCredential lets c read the orders of agency (DK-nnnnnn or six digits).
func (s *Server) AddCredential(c Credential, agency string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.creds[c] == nil {
		s.creds[c] = map[string]bool{}
	}
	s.creds[c][isil(agency)] = true
}

// Put adds or replaces orders by orderId; orders without one are ignored.
func (s *Server) Put(orders ...Order) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range orders {
		if o.OrderID != "" {
			s.orders[o.OrderID] = o
		}
	}
}

// Get returns a stored order.
func (s *Server) Get(id string) (Order, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.orders[id]
	return o, ok
}

// Calls returns how many calls reached the server.
func (s *Server) Calls() int {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.calls
}

// CallsOf returns how many well-formed calls asked for action.
func (s *Server) CallsOf(action string) int {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.actions[action]
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.fmu.Lock()
	s.calls++
	s.fmu.Unlock()
	if strings.TrimRight(r.URL.Path, "/") != s.base {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	action := r.PostForm.Get("action")
	s.fmu.Lock()
	s.actions[action]++
	s.fmu.Unlock()
	f, faulty := s.faults.Take(action)
	if faulty {
		if !s.applyFault(w, r, f) {
			return
		}
		if f.Truncate {
			rec := &bytes.Buffer{}
			code := s.answer(rec, r)
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			fault.WriteTruncated(w, code, rec.Bytes())
			return
		}
		if f.Flood != nil && s.flood(w, r, *f.Flood) {
			return
		}
	}
	var buf bytes.Buffer
	code := s.answer(&buf, r)
	if code == http.StatusOK {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	}
	w.WriteHeader(code)
	if faulty && f.Drip > 0 {
		fault.Drip(w, r, buf.Bytes(), cmp.Or(f.DripSize, DripBytes), f.Drip)
		return
	}
	w.Write(buf.Bytes())
}

// answer renders the answer to a parsed call into buf and returns its status.
func (s *Server) answer(buf *bytes.Buffer, r *http.Request) int {
	page, total, status := s.find(r.PostForm)
	switch status {
	case http.StatusNotImplemented:
		buf.WriteString("action not implemented by the fake\n")
		return status
	case http.StatusUnauthorized:
		buf.WriteString(xml.Header)
		buf.WriteString(`<findOrdersResponse xmlns="` + Namespace + `"><error>authentication_error</error></findOrdersResponse>`)
		return http.StatusOK
	}
	buf.WriteString(xml.Header)
	buf.WriteString(resultHead(total))
	enc := xml.NewEncoder(buf)
	for _, o := range page {
		_ = enc.Encode(o.wire()) // a buffer does not fail
	}
	buf.WriteString(resultTail)
	return http.StatusOK
}

// resultHead and resultTail enclose the orders of an answer that holds total in all.
func resultHead(total int) string {
	return `<findOrdersResponse xmlns="` + Namespace + `"><result><numberOfOrders>` + strconv.Itoa(total) + `</numberOfOrders>`
}

const resultTail = `</result></findOrdersResponse>`

// find returns the orders a call asks for (the page of the window, or the one order) and
// how many the window holds; status is 501 for another action and 401 for credentials
// that may not read the requester agency (which DBC answers under 200).
func (s *Server) find(f url.Values) (page []Order, total, status int) {
	action := f.Get("action")
	if action != "findAllIllOrders" && action != "findSpecificOrder" {
		return nil, 0, http.StatusNotImplemented
	}
	agency := isil(f.Get("requesterAgencyId"))
	cred := Credential{f.Get("authentication.userIdAut"), f.Get("authentication.groupIdAut"), f.Get("authentication.passwordAut")}
	s.mu.RLock()
	allowed := s.creds[cred][agency]
	var matched []Order
	if allowed {
		for _, o := range s.orders {
			if isil(o.RequesterID) != agency {
				continue
			}
			if action == "findSpecificOrder" {
				if o.OrderID == f.Get("orderId") {
					matched = append(matched, o)
				}
				continue
			}
			day := o.CreationDate.Format("2006-01-02")
			if day >= f.Get("fromDate") && day <= f.Get("toDate") {
				matched = append(matched, o)
			}
		}
	}
	s.mu.RUnlock()
	if !allowed {
		return nil, 0, http.StatusUnauthorized
	}
	slices.SortFunc(matched, func(a, b Order) int {
		if c := a.CreationDate.Compare(b.CreationDate); c != 0 {
			return c
		}
		return strings.Compare(a.OrderID, b.OrderID)
	})
	total = len(matched)
	start, _ := strconv.Atoi(f.Get("start"))
	step, _ := strconv.Atoi(f.Get("stepValue"))
	start = max(start, 1)
	if step <= 0 {
		step = 10
	}
	return matched[min(start-1, total):min(start-1+step, total)], total, http.StatusOK
}

// flood answers with the call's orders, then copies of them without end (fault.Endless);
// false, having written nothing, when the call has no orders to copy.
func (s *Server) flood(w http.ResponseWriter, r *http.Request, fl Flood) bool {
	page, total, status := s.find(r.PostForm)
	if status != http.StatusOK || len(page) == 0 {
		return false
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	fault.Endless(w, r, []byte(xml.Header+resultHead(total)), func(i int) []byte {
		o := page[i%len(page)]
		if fl.Distinct && i >= len(page) {
			o.OrderID = fmt.Sprintf("%s-F%07d", o.OrderID, i)
		}
		buf.Reset()
		_ = enc.Encode(o.wire())
		return buf.Bytes()
	})
	return true
}

// isil normalises an agency id the way DBC writes it: DK-nnnnnn.
func isil(s string) string {
	s = strings.TrimSpace(s)
	if len(s) == 9 && strings.EqualFold(s[:3], "DK-") {
		return "DK-" + s[3:]
	}
	if len(s) == 6 {
		return "DK-" + s
	}
	return s
}
