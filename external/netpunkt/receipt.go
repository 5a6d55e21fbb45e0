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

// MaxReceiptBytes bounds a pushed OpenReceipt message; one order is a few kilobytes.
const MaxReceiptBytes = 256 << 10

// Receipt is one OpenReceipt message Netpunkt pushed: the password it authenticated with
// and the order it carries, re-encoded without the password so that what the harvester
// stores holds no secret.
type Receipt struct {
	Password string
	OrderID  string
	Order    []byte // the order as stored in the inbox: DecodeOrder reads it back
}

// receiptDoc is the message: the order's elements directly below the root, as Alma's
// OpenReceipt mapping names them (orderId, userId …), and authenticationPassword
// (assumption A7 in docs/connectors/netpunkt.md).
type receiptDoc struct {
	Password string `xml:"authenticationPassword"`
	order
}

// storedOrder is the inbox form of an order.
type storedOrder struct {
	XMLName xml.Name `xml:"order"`
	order
}

// ErrMalformedReceipt is returned for a body that is not an OpenReceipt message.
var ErrMalformedReceipt = errors.New("malformed OpenReceipt message")

// ParseReceipt decodes a pushed message. It checks the shape only (well-formed XML, an
// element named receipt, an orderId); whether the order is usable is decided by the run,
// which reports an unusable one as a run event.
func ParseReceipt(body []byte) (*Receipt, error) {
	if len(body) > MaxReceiptBytes {
		return nil, fmt.Errorf("%w: larger than %d KiB", ErrMalformedReceipt, MaxReceiptBytes>>10)
	}
	d := newDecoder(bytes.NewReader(body))
	se, err := d.root("receipt")
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformedReceipt, err)
	}
	var doc receiptDoc
	if err := d.dec.DecodeElement(&doc, &se); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformedReceipt, d.syntax(err, "reading receipt"))
	}
	if err := d.rest(); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformedReceipt, err)
	}
	id := strings.TrimSpace(doc.OrderID)
	if id == "" {
		return nil, fmt.Errorf("%w: orderId is missing", ErrMalformedReceipt)
	}
	enc, err := xml.Marshal(storedOrder{order: doc.order})
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformedReceipt, err)
	}
	return &Receipt{Password: doc.Password, OrderID: id, Order: enc}, nil
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
