package netpunkt

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxElementBytes bounds one order (or any one skipped element) so that a broken or
// hostile answer cannot make us buffer it whole.
const maxElementBytes = 1 << 20

// order is one OpenFindOrder order, or the order part of an OrderReceipt, by the element
// names of DBC's openfindorder.xsd (docs/connectors/netpunkt.md, "Order fields"). Names
// are matched in any namespace; unknown elements are ignored.
type order struct {
	OrderID              string `xml:"orderId"`
	OrderSystem          string `xml:"orderSystem"`
	OrderType            string `xml:"orderType"`
	RequesterOrderState  string `xml:"requesterOrderState"`
	ProviderOrderState   string `xml:"providerOrderState"`
	ProviderAnswer       string `xml:"providerAnswer"`
	ProviderAnswerReason string `xml:"providerAnswerReason"`
	LastModification     string `xml:"lastModification"`
	CreationDate         string `xml:"creationDate"`
	NeedBeforeDate       string `xml:"needBeforeDate"`
	Copy                 string `xml:"copy"`

	Title             string `xml:"title"`
	Author            string `xml:"author"`
	ISBN              string `xml:"isbn"`
	ISSN              string `xml:"issn"`
	Publisher         string `xml:"publisher"`
	PublicationDate   string `xml:"publicationDate"`
	Pagination        string `xml:"pagination"`
	Volume            string `xml:"volume"`
	TitleOfComponent  string `xml:"titleOfComponent"`
	AuthorOfComponent string `xml:"authorOfComponent"`
	PID               string `xml:"pid"`

	PickUpAgencyID string `xml:"pickUpAgencyId"`
	RequesterID    string `xml:"requesterId"`
	ResponderID    string `xml:"responderId"`
	UserID         string `xml:"userId"`
	UserName       string `xml:"userName"`
	// There is no requesterNote: each side's latest note is its own element.
	LatestRequesterNote string `xml:"latestRequesterNote"`
	LatestProviderNote  string `xml:"latestProviderNote"`
	// copy says what was requested; shippedServiceType (loan | copy) what was sent.
	ShippedServiceType string `xml:"shippedServiceType"`
}

// result is what a findOrdersResponse held besides its orders.
type result struct {
	total  int // numberOfOrders: every order matching the query, over all pages
	orders int // orders in this answer
}

// decodeError is an answer we cannot use; kind says which of DBC's errorType values it
// carried, if any.
type decodeError struct {
	msg  string
	kind errKind
}

type errKind int

const (
	errGarbage     errKind = iota // not a usable answer
	errAuth                       // authentication_error
	errAgency                     // the group may not read the agency asked for
	errUnavailable                // the service is down for now: worth another attempt
)

// DBC's errorType values (openfindorder.xsd) and what each means to a pull.
const errNoOrders = "no orders found" // zero orders: an empty page, not a failure

var errorTypes = map[string]errKind{
	"authentication_error":                  errAuth,
	"cannot_find_agency":                    errAgency,
	"requester_not_in_agency":               errAgency,
	"responder_not_in_agency":               errAgency,
	"open find order service not available": errUnavailable,
	"Error decoding json string":            errGarbage,
}

func (e *decodeError) Error() string { return e.msg }

// visitError carries the caller's own error out of the walk untouched.
type visitError struct{ err error }

func (e *visitError) Error() string { return e.err.Error() }

// budgetReader remembers the first transport error (a broken connection is Unreachable,
// malformed XML is Garbage, though the XML decoder reports both as a syntax error) and
// refuses to read more than maxElementBytes since the last mark.
type budgetReader struct {
	r      io.Reader
	err    error
	budget int64
}

var errTooLarge = errors.New("a single element exceeds 1 MiB")

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.budget <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > b.budget {
		p = p[:b.budget]
	}
	n, err := b.r.Read(p)
	b.budget -= int64(n)
	if err != nil && !errors.Is(err, io.EOF) && b.err == nil {
		b.err = err
	}
	return n, err
}

type decoder struct {
	br     *budgetReader
	dec    *xml.Decoder
	netErr error
}

func newDecoder(r io.Reader) *decoder {
	br := &budgetReader{r: r, budget: maxElementBytes}
	dec := xml.NewDecoder(br)
	// DBC answers UTF-8; a declared legacy charset is refused rather than misread.
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "utf8") {
			return in, nil
		}
		return nil, fmt.Errorf("charset %q is not supported", label)
	}
	return &decoder{br: br, dec: dec}
}

func (d *decoder) mark() { d.br.budget = maxElementBytes }

// token reads the next token, turning failures into a decodeError and remembering a
// transport error.
func (d *decoder) token(where string) (xml.Token, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.syntax(err, where)
	}
	return tok, nil
}

func (d *decoder) syntax(err error, where string) error {
	if d.br.err != nil {
		d.netErr = d.br.err
		return &decodeError{msg: "the connection broke " + where}
	}
	if errors.Is(err, errTooLarge) {
		return &decodeError{msg: "a single element larger than 1 MiB " + where}
	}
	if errors.Is(err, io.EOF) {
		return &decodeError{msg: "the document ended early, " + where}
	}
	return &decodeError{msg: "malformed XML " + where + ": " + err.Error()}
}

// root finds the first element named local at any depth (so that a SOAP Envelope/Body
// around it, or none, are both accepted) and returns its start.
func (d *decoder) root(local string) (xml.StartElement, error) {
	for {
		d.mark()
		tok, err := d.dec.Token()
		if errors.Is(err, io.EOF) {
			return xml.StartElement{}, &decodeError{msg: "no " + local + " element"}
		}
		if err != nil {
			return xml.StartElement{}, d.syntax(err, "before "+local)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local == local {
				return se, nil
			}
			if se.Name.Local == "Fault" {
				return xml.StartElement{}, d.fault(&se)
			}
		}
	}
}

// fault reads a SOAP Fault just started and names its faultstring (the caller's error
// path scrubs the password from it).
func (d *decoder) fault(se *xml.StartElement) error {
	var f struct {
		Code   string `xml:"faultcode"`
		String string `xml:"faultstring"`
	}
	if err := d.dec.DecodeElement(&f, se); err != nil {
		return &decodeError{msg: "a SOAP fault"}
	}
	return &decodeError{msg: fmt.Sprintf("a SOAP fault %s: %q", strings.TrimSpace(f.Code), strings.TrimSpace(f.String))}
}

// rest reads the document to its end so a truncated or malformed tail is noticed.
func (d *decoder) rest() error {
	for {
		d.mark()
		_, err := d.dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return d.syntax(err, "after the answer")
		}
	}
}

// text reads the character data of the element just started, up to its end.
func (d *decoder) text(where string) (string, error) {
	var b strings.Builder
	for depth := 1; depth > 0; {
		tok, err := d.token(where)
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 1 {
				b.Write(t)
			}
		}
	}
	return strings.TrimSpace(b.String()), nil
}

// findOrders decodes a findOrdersResponse, handing each order to visit before the next
// is read. A DBC <error> is a decodeError (auth for authentication errors).
func (d *decoder) findOrders(visit func(*order) error) (result, error) {
	var res result
	if _, err := d.root("findOrdersResponse"); err != nil {
		return res, err
	}
	sawResult, totalSet := false, false
	for {
		d.mark()
		tok, err := d.token("reading findOrdersResponse")
		if err != nil {
			return res, err
		}
		if _, ok := tok.(xml.EndElement); ok {
			break
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "error":
			msg, err := d.text("reading error")
			if err != nil {
				return res, err
			}
			if msg == errNoOrders {
				// The most common answer of all: an empty window or the page after the last.
				if err := d.dec.Skip(); err != nil {
					return res, d.syntax(err, "after the error")
				}
				if err := d.rest(); err != nil {
					return res, err
				}
				return result{}, nil
			}
			kind, known := errorTypes[msg]
			text := "Netpunkt reported error " + strconv.Quote(msg)
			if !known {
				text = "Netpunkt reported an error not in its schema: " + strconv.Quote(msg)
			}
			return res, &decodeError{msg: text, kind: kind}
		case "result":
			sawResult = true
			if err := d.results(&res, &totalSet, visit); err != nil {
				var ve *visitError
				if errors.As(err, &ve) {
					return res, ve.err
				}
				return res, err
			}
		default:
			if err := d.dec.Skip(); err != nil {
				return res, d.syntax(err, "skipping "+se.Name.Local)
			}
		}
	}
	if err := d.rest(); err != nil {
		return res, err
	}
	if !sawResult {
		return res, &decodeError{msg: "findOrdersResponse holds neither result nor error"}
	}
	if !totalSet {
		res.total = res.orders
	}
	if res.total < res.orders {
		res.total = res.orders
	}
	return res, nil
}

func (d *decoder) results(res *result, totalSet *bool, visit func(*order) error) error {
	for {
		d.mark()
		tok, err := d.token("reading result")
		if err != nil {
			return err
		}
		if _, ok := tok.(xml.EndElement); ok {
			return nil
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "numberOfOrders":
			s, err := d.text("reading numberOfOrders")
			if err != nil {
				return err
			}
			n, perr := strconv.Atoi(s)
			if perr != nil || n < 0 {
				return &decodeError{msg: fmt.Sprintf("numberOfOrders %q is not a number of orders", s)}
			}
			res.total, *totalSet = n, true
		case "order":
			var o order
			if err := d.dec.DecodeElement(&o, &se); err != nil {
				return d.syntax(err, "reading an order")
			}
			res.orders++
			if err := visit(&o); err != nil {
				return &visitError{err}
			}
		default:
			if err := d.dec.Skip(); err != nil {
				return d.syntax(err, "skipping "+se.Name.Local)
			}
		}
	}
}
