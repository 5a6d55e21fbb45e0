// Package fakenetpunkt is an in-memory fake of DBC's Netpunkt services, built from DBC's
// published contracts rather than from the connector (docs/connectors/netpunkt.md), for
// tests and demos:
//
//	POST {BasePath}  SOAP 1.1: findAllIllOrdersRequest | findSpecificOrderRequest (OpenFindOrder)
//
// Each request is checked against openfindorder.xsd's rules (soap.go): a SOAP 1.1
// envelope, the request element in DBC's namespace, its elements in the schema's order,
// authentication as groupIdAut, passwordAut, userIdAut, valid sortKey and outputType. A
// body that is not such a request answers HTTP 400 with a SOAP Fault, as DBC's server
// does. The answers are DBC's: orders, or an <error> of errorType under HTTP 200 (no
// orders found, authentication_error, cannot_find_agency, requester_not_in_agency,
// open find order service not available via Unavailable). Where DBC publishes nothing
// (paging base, the date the window compares, ids), the fake follows the assumptions of
// docs/connectors/netpunkt.md. Other operations answer 501, other paths 404, other
// methods 405.
//
// Push (Push) plays Netpunkt sending an OrderReceipt message to a library's receipt URL.
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
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/interloan/interloan/fakes/fault"
)

// DefaultBasePath is the path the fake answers on.
const DefaultBasePath = "/openfindorder"

// Namespace is OpenFindOrder's XML namespace; SOAPNamespace is SOAP 1.1's envelope.
const (
	Namespace     = "http://oss.dbc.dk/ns/openfindorder"
	SOAPNamespace = "http://schemas.xmlsoap.org/soap/envelope/"
)

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

	mu          sync.RWMutex
	creds       map[Credential]map[string]bool // → agencies (six digits) it may act for
	branches    map[string]map[string]bool     // library → its branches (six digits)
	orders      map[string]Order               // by orderId
	unavailable bool

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
	return &Server{base: base, now: now, creds: map[Credential]map[string]bool{}, branches: map[string]map[string]bool{}, orders: map[string]Order{}, actions: map[string]int{}}
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
	s.creds[c][digits(agency)] = true
}

// AddBranch makes branch (a library number) a branch of library: a request for the
// library's orders also returns the branch's, as DBC expands requesterAgencyId.
func (s *Server) AddBranch(library, branch string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := digits(library)
	if s.branches[l] == nil {
		s.branches[l] = map[string]bool{}
	}
	s.branches[l][digits(branch)] = true
}

// SetUnavailable makes every well-formed call answer DBC's transient
// "open find order service not available" until it is set back.
func (s *Server) SetUnavailable(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unavailable = down
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

// CallsOf returns how many well-formed calls asked for operation action
// (findAllIllOrders, findSpecificOrder).
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
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeFault(w, "the request body could not be read: "+err.Error())
		return
	}
	req, err := ParseRequest(raw)
	if err != nil {
		// DBC's server parses every POST body as SOAP: anything else is a client fault.
		writeFault(w, err.Error())
		return
	}
	s.fmu.Lock()
	s.actions[req.Operation]++
	s.fmu.Unlock()
	f, faulty := s.faults.Take(req.Operation)
	if faulty {
		if !s.applyFault(w, r, f) {
			return
		}
		if f.Truncate {
			rec := &bytes.Buffer{}
			code := s.answer(rec, req)
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			fault.WriteTruncated(w, code, rec.Bytes())
			return
		}
		if f.Flood != nil && s.flood(w, r, req, *f.Flood) {
			return
		}
	}
	var buf bytes.Buffer
	code := s.answer(&buf, req)
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

// answer renders the answer to a parsed call into buf and returns its status: DBC
// answers every outcome of a well-formed request, errors included, under HTTP 200.
func (s *Server) answer(buf *bytes.Buffer, req *Request) int {
	page, total, errorType := s.find(req)
	switch {
	case errorType == errNotImplemented:
		buf.WriteString("operation not implemented by the fake\n")
		return http.StatusNotImplemented
	case errorType != "":
		buf.WriteString(xml.Header + envelopeHead + `<findOrdersResponse xmlns="` + Namespace + `"><error>`)
		_ = xml.EscapeText(buf, []byte(errorType))
		buf.WriteString(`</error></findOrdersResponse>` + envelopeTail)
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

// The SOAP 1.1 envelope around every answer.
const (
	envelopeHead = `<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + SOAPNamespace + `"><SOAP-ENV:Body>`
	envelopeTail = `</SOAP-ENV:Body></SOAP-ENV:Envelope>`
)

// resultHead and resultTail enclose the orders of an answer that holds total in all.
func resultHead(total int) string {
	return envelopeHead + `<findOrdersResponse xmlns="` + Namespace + `"><result><numberOfOrders>` + strconv.Itoa(total) + `</numberOfOrders>`
}

const resultTail = `</result></findOrdersResponse>` + envelopeTail

// DBC's errorType values the fake answers (openfindorder.xsd).
const (
	errNoOrders       = "no orders found"
	errAuthentication = "authentication_error"
	errNoAgency       = "cannot_find_agency"
	errRequester      = "requester_not_in_agency"
	errUnavailable    = "open find order service not available"
	errNotImplemented = "-" // not DBC's: an operation the fake does not serve
)

// find returns the orders a call asks for (the page of the window, or the orders asked
// by id) and how many match in all, or the errorType DBC would answer instead.
func (s *Server) find(req *Request) (page []Order, total int, errorType string) {
	if req.Operation != "findAllIllOrders" && req.Operation != "findSpecificOrder" {
		return nil, 0, errNotImplemented
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.unavailable {
		return nil, 0, errUnavailable
	}
	cred := Credential{req.Get("userIdAut"), req.Get("groupIdAut"), req.Get("passwordAut")}
	agency := req.Get("agency")
	switch {
	case s.creds[cred] == nil:
		return nil, 0, errAuthentication
	case agency == "":
		// Required by the schema; DBC's authorisation finds no agency to check.
		return nil, 0, errAuthentication
	case !isDigits(agency):
		return nil, 0, errNoAgency
	case !s.creds[cred][agency]:
		return nil, 0, errAuthentication
	}
	// DBC checks the requester by its digits but filters its data by the value as sent:
	// an id written DK-nnnnnn passes the check and matches no order.
	ours := map[string]bool{}
	for _, id := range req.All("requesterAgencyId") {
		d := digitsOnly(id)
		if d != agency && !s.branches[agency][d] {
			return nil, 0, errRequester
		}
		ours[id] = true
		for b := range s.branches[id] {
			ours[b] = true
		}
	}
	ids := map[string]bool{}
	for _, id := range req.All("orderId") {
		ids[id] = true
	}
	var matched []Order
	for _, o := range s.orders {
		if !ours[digits(o.RequesterID)] {
			continue
		}
		if req.Operation == "findSpecificOrder" {
			if ids[o.OrderID] {
				matched = append(matched, o)
			}
			continue
		}
		// The window compares the creation day, inclusive (an assumption of the doc).
		day := o.wire().CreationDate
		if f := req.Get("fromDate"); f != "" && day < f {
			continue
		}
		if t := req.Get("toDate"); t != "" && day > t {
			continue
		}
		matched = append(matched, o)
	}
	desc := req.Get("sortKey") != "creationDateAscending" // DBC sorts any other value descending
	slices.SortFunc(matched, func(a, b Order) int {
		c := a.CreationDate.Compare(b.CreationDate)
		if c == 0 {
			c = strings.Compare(a.OrderID, b.OrderID)
		}
		if desc {
			return -c
		}
		return c
	})
	total = len(matched)
	start, _ := strconv.Atoi(req.Get("start"))
	step, _ := strconv.Atoi(req.Get("stepValue"))
	start = max(start, 1) // 1-based (an assumption of the doc)
	if step <= 0 {
		step = 10
	}
	page = matched[min(start-1, total):min(start-1+step, total)]
	if len(page) == 0 {
		return nil, 0, errNoOrders
	}
	return page, total, ""
}

// flood answers with the call's orders, then copies of them without end (fault.Endless);
// false, having written nothing, when the call has no orders to copy.
func (s *Server) flood(w http.ResponseWriter, r *http.Request, req *Request, fl Flood) bool {
	page, total, errorType := s.find(req)
	if errorType != "" || len(page) == 0 {
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

// writeFault answers a request DBC's server cannot parse: HTTP 400 with a SOAP Fault.
func writeFault(w http.ResponseWriter, msg string) {
	var b bytes.Buffer
	b.WriteString(xml.Header + envelopeHead + `<SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode><faultstring>`)
	_ = xml.EscapeText(&b, []byte(msg))
	b.WriteString(`</faultstring></SOAP-ENV:Fault>` + envelopeTail)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	w.Write(b.Bytes())
}

// digits is a library number as DBC's data holds it: the bare digits of DK-nnnnnn or
// nnnnnn; anything else is kept as given.
func digits(s string) string {
	s = strings.TrimSpace(s)
	if len(s) == 9 && strings.EqualFold(s[:3], "DK-") && isDigits(s[3:]) {
		return s[3:]
	}
	return s
}

// digitsOnly strips every non-digit, as DBC's consistency check of ids does.
func digitsOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
