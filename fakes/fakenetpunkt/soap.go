package fakenetpunkt

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Request is one OpenFindOrder SOAP request as the fake read it: the operation (the
// request element's name without "Request") and its elements, authentication's three
// included, in the order sent.
type Request struct {
	Operation string
	Elements  []Element
}

// Element is one simple element of a request.
type Element struct{ Name, Value string }

// Get returns the first value of the element name, "" when absent.
func (r *Request) Get(name string) string {
	for _, e := range r.Elements {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// All returns every value of the element name, in order.
func (r *Request) All(name string) []string {
	var out []string
	for _, e := range r.Elements {
		if e.Name == name {
			out = append(out, e.Value)
		}
	}
	return out
}

// slot is one place of an XSD sequence: max 0 is unbounded.
type slot struct {
	name     string
	min, max int
}

// The sequences of openfindorder.xsd for the operations the fake serves: authentication,
// the requester/responder choice, the operation's own elements, then the group
// requestGeneral. agency is required by the schema; a request without it is let through
// here because DBC answers it with authentication_error (server.go).
var (
	head = []slot{{"authentication", 0, 1}, {"requesterAgencyId", 0, 0}, {"responderAgencyId", 0, 0}}
	// requestGeneral
	general = []slot{{"agency", 0, 1}, {"fromDate", 0, 1}, {"toDate", 0, 1}, {"lastModification", 0, 1},
		{"outputType", 0, 1}, {"callback", 0, 1}, {"sortKey", 0, 1}, {"start", 0, 1}, {"stepValue", 0, 1}}
	sequences = map[string][]slot{
		"findAllIllOrders":  concat(head, general),
		"findSpecificOrder": concat(head, []slot{{"orderId", 1, 0}, {"orderType", 0, 1}}, general),
	}
	authSequence = []string{"groupIdAut", "passwordAut", "userIdAut"}
)

func concat(parts ...[]slot) []slot {
	var out []slot
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ParseRequest reads a SOAP 1.1 OpenFindOrder request and checks it against the schema's
// rules; the error says what DBC's server would fault on. An operation the fake does not
// serve is returned unchecked (it answers 501).
func ParseRequest(body []byte) (*Request, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	env, err := nextStart(dec)
	if err != nil {
		return nil, fmt.Errorf("not a SOAP request: %v", err)
	}
	if env.Name.Local != "Envelope" || !soapNamespace(env.Name.Space) {
		return nil, fmt.Errorf("not a SOAP 1.1 request: the document element is {%s}%s", env.Name.Space, env.Name.Local)
	}
	bodyEl, err := nextStart(dec)
	if err == nil && bodyEl.Name.Local == "Header" {
		if err = dec.Skip(); err == nil {
			bodyEl, err = nextStart(dec)
		}
	}
	if err != nil || bodyEl.Name.Local != "Body" || !soapNamespace(bodyEl.Name.Space) {
		return nil, errors.New("the SOAP envelope holds no Body")
	}
	op, err := nextStart(dec)
	if err != nil {
		return nil, errors.New("the SOAP Body holds no request")
	}
	if op.Name.Space != Namespace || !strings.HasSuffix(op.Name.Local, "Request") {
		return nil, fmt.Errorf("{%s}%s is not an OpenFindOrder request", op.Name.Space, op.Name.Local)
	}
	req := &Request{Operation: strings.TrimSuffix(op.Name.Local, "Request")}
	seq, known := sequences[req.Operation]
	if !known {
		return req, nil
	}
	var names []string
	for {
		el, err := childStart(dec)
		if err != nil {
			return nil, err
		}
		if el == nil {
			break
		}
		if el.Name.Space != Namespace {
			return nil, fmt.Errorf("element {%s}%s is not in the OpenFindOrder namespace", el.Name.Space, el.Name.Local)
		}
		names = append(names, el.Name.Local)
		if el.Name.Local == "authentication" {
			if err := readAuthentication(dec, req); err != nil {
				return nil, err
			}
			continue
		}
		var v string
		if err := dec.DecodeElement(&v, el); err != nil {
			return nil, fmt.Errorf("element %s: %v", el.Name.Local, err)
		}
		req.Elements = append(req.Elements, Element{el.Name.Local, strings.TrimSpace(v)})
	}
	if err := checkSequence(req.Operation+"Request", seq, names); err != nil {
		return nil, err
	}
	if len(req.All("requesterAgencyId")) > 0 == (len(req.All("responderAgencyId")) > 0) {
		return nil, errors.New("exactly one of requesterAgencyId or responderAgencyId must be given")
	}
	return req, checkValues(req)
}

// soapNamespace accepts SOAP 1.1's envelope namespace, also as DBC's own request
// templates spell it (without the final slash).
func soapNamespace(ns string) bool {
	return strings.TrimSuffix(ns, "/") == strings.TrimSuffix(SOAPNamespace, "/")
}

// readAuthentication reads groupIdAut, passwordAut, userIdAut, in that order, all three.
func readAuthentication(dec *xml.Decoder, req *Request) error {
	for i := 0; ; i++ {
		el, err := childStart(dec)
		if err != nil {
			return err
		}
		if el == nil {
			if i != len(authSequence) {
				return fmt.Errorf("authentication needs %s, in that order", strings.Join(authSequence, ", "))
			}
			return nil
		}
		if i >= len(authSequence) || el.Name.Local != authSequence[i] || el.Name.Space != Namespace {
			return fmt.Errorf("authentication: %s is not expected here; the schema's order is %s", el.Name.Local, strings.Join(authSequence, ", "))
		}
		var v string
		if err := dec.DecodeElement(&v, el); err != nil {
			return fmt.Errorf("element %s: %v", el.Name.Local, err)
		}
		req.Elements = append(req.Elements, Element{el.Name.Local, v})
	}
}

// checkSequence checks names against the schema's sequence: each in its place, in order,
// as often as allowed.
func checkSequence(what string, seq []slot, names []string) error {
	counts := make([]int, len(seq))
	i := 0
	for _, n := range names {
		for i < len(seq) && seq[i].name != n {
			i++
		}
		if i == len(seq) {
			return fmt.Errorf("%s: element %s is not expected here (unknown, or out of the schema's order)", what, n)
		}
		counts[i]++
		if seq[i].max > 0 && counts[i] > seq[i].max {
			return fmt.Errorf("%s: element %s repeated", what, n)
		}
	}
	for j, s := range seq {
		if counts[j] < s.min {
			return fmt.Errorf("%s: element %s is required", what, s.name)
		}
	}
	return nil
}

// checkValues checks the simple types of the schema.
func checkValues(req *Request) error {
	for _, e := range req.Elements {
		switch e.Name {
		case "fromDate", "toDate":
			if _, err := time.Parse("2006-01-02", e.Value); err != nil {
				return fmt.Errorf("%s %q is not an xs:date", e.Name, e.Value)
			}
		case "start", "stepValue":
			if _, err := strconv.Atoi(e.Value); err != nil {
				return fmt.Errorf("%s %q is not an xs:int", e.Name, e.Value)
			}
		case "sortKey":
			// DBC sorts any other value descending without a word; the fake refuses it
			// so that a client's mistake shows.
			if e.Value != "creationDateAscending" && e.Value != "creationDateDescending" {
				return fmt.Errorf("sortKey %q is not a sortKeyType", e.Value)
			}
		case "outputType":
			if e.Value != "xml" {
				return fmt.Errorf("outputType %q: the fake answers xml only", e.Value)
			}
		}
	}
	return nil
}

// nextStart returns the next start element at any depth.
func nextStart(dec *xml.Decoder) (*xml.StartElement, error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("no XML element")
			}
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return &se, nil
		}
	}
}

// childStart returns the next child element of the element being read, or nil at its
// end; text between elements must be blank.
func childStart(dec *xml.Decoder) (*xml.StartElement, error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("malformed request: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return &t, nil
		case xml.EndElement:
			return nil, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("unexpected text %q in the request", bytes.TrimSpace(t))
			}
		}
	}
}
