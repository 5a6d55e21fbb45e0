package netpunkt

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"

	"github.com/interloan/interloan/external/connector"
)

// MaxReceiptBytes bounds a pushed OrderReceipt message; one order is a few kilobytes.
const MaxReceiptBytes = 256 << 10

// ReceiptNamespace is the namespace of DBC's OrderReceipt service (orderReceipt.xsd).
const ReceiptNamespace = "http://oss.dbc.dk/ns/orderReceipt"

// maxReceiptUUIDBytes bounds orderReceiptUuid, which becomes a key of the inbox.
const maxReceiptUUIDBytes = 128

// The receiptStatus values of DBC's OrderReceipt contract (receiptStatusEnum).
const (
	ReceiptOK                = "ok"
	ReceiptTemporaryError    = "temporary_error_please_resend"
	ReceiptFatalError        = "fatal_internal_error"
	ReceiptIncompleteRequest = "incomplete_request"
)

// Receipt is one OrderReceipt message DBC pushed: the password it authenticated with,
// the receipt's own ids and the order it carries, re-encoded without the password so
// that what the harvester stores holds no secret.
type Receipt struct {
	Password   string
	UUID       string // orderReceiptUuid: the same receipt sent again has the same one
	TrackingID string
	OrderID    string
	Order      []byte // the order as stored in the inbox: DecodeOrder reads it back
}

// receiptRequest is the receiptRequest element of a receipt, by orderReceipt.xsd:
// authenticationPassword?, orderReceipt, orderReceiptUuid, trackingId?.
type receiptRequest struct {
	Password     *string `xml:"authenticationPassword"`
	OrderReceipt *order  `xml:"orderReceipt"`
	UUID         string  `xml:"orderReceiptUuid"`
	TrackingID   string  `xml:"trackingId"`
}

// storedOrder is the inbox form of an order.
type storedOrder struct {
	XMLName xml.Name `xml:"order"`
	order
}

// ErrMalformedReceipt is returned for a body that is not an OrderReceipt message, or one
// that lacks what the contract requires (the answer is incomplete_request).
var ErrMalformedReceipt = errors.New("malformed OrderReceipt message")

// ParseReceipt decodes a pushed message: a receipt element in ReceiptNamespace (inside a
// SOAP envelope or not) holding one receiptRequest. It checks the shape only (well-formed
// XML, the namespace, an orderReceipt with an orderId, an orderReceiptUuid); whether the
// order is usable is decided by the run, which reports an unusable one as a run event.
func ParseReceipt(body []byte) (*Receipt, error) {
	if len(body) > MaxReceiptBytes {
		return nil, fmt.Errorf("%w: larger than %d KiB", ErrMalformedReceipt, MaxReceiptBytes>>10)
	}
	d := newDecoder(bytes.NewReader(body))
	se, err := d.root("receipt")
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformedReceipt, err)
	}
	if se.Name.Space != ReceiptNamespace {
		return nil, fmt.Errorf("%w: receipt is not in namespace %s", ErrMalformedReceipt, ReceiptNamespace)
	}
	var doc struct {
		Requests []receiptRequest `xml:"receiptRequest"`
	}
	if err := d.dec.DecodeElement(&doc, &se); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformedReceipt, d.syntax(err, "reading receipt"))
	}
	if err := d.rest(); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformedReceipt, err)
	}
	if len(doc.Requests) != 1 {
		return nil, fmt.Errorf("%w: receipt holds %d receiptRequest elements, want one", ErrMalformedReceipt, len(doc.Requests))
	}
	rq := doc.Requests[0]
	if rq.OrderReceipt == nil {
		return nil, fmt.Errorf("%w: orderReceipt is missing", ErrMalformedReceipt)
	}
	uuid := strings.TrimSpace(rq.UUID)
	switch {
	case uuid == "":
		return nil, fmt.Errorf("%w: orderReceiptUuid is missing", ErrMalformedReceipt)
	case len(uuid) > maxReceiptUUIDBytes:
		return nil, fmt.Errorf("%w: orderReceiptUuid is longer than %d bytes", ErrMalformedReceipt, maxReceiptUUIDBytes)
	}
	id := strings.TrimSpace(rq.OrderReceipt.OrderID)
	if id == "" {
		return nil, fmt.Errorf("%w: orderId is missing", ErrMalformedReceipt)
	}
	enc, err := xml.Marshal(storedOrder{order: *rq.OrderReceipt})
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformedReceipt, err)
	}
	rc := &Receipt{UUID: uuid, TrackingID: strings.TrimSpace(rq.TrackingID), OrderID: id, Order: enc}
	if rq.Password != nil {
		rc.Password = *rq.Password
	}
	return rc, nil
}

// ReceiptResponse renders the SOAP answer to a receipt: status (one of the Receipt*
// values) and, unless empty, a message.
func ReceiptResponse(status, message string) []byte {
	type result struct {
		Status  string `xml:"receiptStatus"`
		Message string `xml:"receiptStatusMessage,omitempty"`
	}
	type response struct {
		XMLName xml.Name `xml:"receiptResponse"`
		NS      string   `xml:"xmlns,attr"`
		Result  result   `xml:"receiptResult"`
	}
	body, _ := xml.Marshal(response{NS: ReceiptNamespace, Result: result{status, message}}) // plain strings: cannot fail
	var b bytes.Buffer
	b.WriteString(xml.Header + `<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + SOAPNamespace + `"><SOAP-ENV:Body>`)
	b.Write(body)
	b.WriteString(`</SOAP-ENV:Body></SOAP-ENV:Envelope>`)
	return b.Bytes()
}

// DecodeOrder reads an order stored by ParseReceipt back as a request of the profile
// whose agency is agency (normalised or not). A stored order that no longer decodes is
// returned as a request with a Problem, so the run reports it instead of dropping it.
func DecodeOrder(data []byte, agency string) *connector.Request {
	ag := normalizeCode(agency)
	var so storedOrder
	if err := xml.Unmarshal(data, &so); err != nil {
		return &connector.Request{Bibliographic: &requestsv1.Bibliographic{}, Problem: "a stored Netpunkt receipt could not be decoded: " + err.Error()}
	}
	return mapOrder(&so.order, ag)
}

// DecodeInbox reads back an order ParseReceipt stored, as a request of the client's
// agency: the run drains a profile's inbox through it.
func (c *Client) DecodeInbox(message []byte) *connector.Request {
	return DecodeOrder(message, c.agency)
}
