package fakenetpunkt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
)

// receiptNS is the namespace of DBC's OrderReceipt service (orderReceipt.xsd, published
// in DBCDK/dbcdk.github.io).
const receiptNS = "http://oss.dbc.dk/ns/orderReceipt"

// receiptSOAPAction is the operation's soapAction in orderReceipt.wsdl.
const receiptSOAPAction = receiptNS + "/Receipt"

// wireReceipt is the OrderReceipt struct of orderReceipt.xsd, the elements the fake's
// orders have, in the schema's sequence order. The receipt carries no requester or
// provider state: the schema has none.
type wireReceipt struct {
	NS                 string   `xml:"xmlns,attr"` // the schema's elements are qualified
	OrderID            string   `xml:"orderId"`
	RequesterID        string   `xml:"requesterId"`
	RequesterIDType    string   `xml:"requesterIdType"`
	Author             string   `xml:"author,omitempty"`
	Copy               string   `xml:"copy,omitempty"`
	CreationDate       string   `xml:"creationDate,omitempty"`
	ISBN               string   `xml:"isbn,omitempty"`
	ISSN               string   `xml:"issn,omitempty"`
	LastModification   string   `xml:"lastModification,omitempty"`
	OrderSystem        string   `xml:"orderSystem,omitempty"`
	OrderType          string   `xml:"orderType,omitempty"`
	Pagination         string   `xml:"pagination,omitempty"`
	PickUpAgencyID     string   `xml:"pickUpAgencyId"`
	PickUpAgencyIDType string   `xml:"pickUpAgencyIdType"`
	PID                []string `xml:"pid,omitempty"`
	PublicationDate    string   `xml:"publicationDate,omitempty"`
	Publisher          string   `xml:"publisher,omitempty"`
	ResponderID        string   `xml:"responderId"`
	ResponderIDType    string   `xml:"responderIdType"`
	Title              string   `xml:"title"`
	UserID             string   `xml:"userId,omitempty"`
	UserName           string   `xml:"userName,omitempty"`
}

// receiptEnvelope is the SOAP 1.1 message: Envelope/Body/receipt/receiptRequest with
// authenticationPassword?, orderReceipt, orderReceiptUuid, trackingId?.
type receiptEnvelope struct {
	XMLName xml.Name `xml:"SOAP-ENV:Envelope"`
	SOAP    string   `xml:"xmlns:SOAP-ENV,attr"`
	NS      string   `xml:"xmlns:or,attr"`
	Request struct {
		Password   *string     `xml:"or:authenticationPassword"`
		Order      wireReceipt `xml:"or:orderReceipt"`
		UUID       string      `xml:"or:orderReceiptUuid"`
		TrackingID string      `xml:"or:trackingId,omitempty"`
	} `xml:"SOAP-ENV:Body>or:receipt>or:receiptRequest"`
}

// ReceiptUUID is the orderReceiptUuid the fake gives the receipt of o in its current
// state: the same order and lastModification give the same uuid, as a resent receipt has.
func ReceiptUUID(o Order) string {
	h := sha256.Sum256([]byte(o.OrderID + "\x00" + o.RequesterID + "\x00" + o.LastModification.UTC().Format("2006-01-02T15:04:05.999999999")))
	h[6] = h[6]&0x0f | 0x50 // version 5 style, so it reads as a uuid
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// ReceiptXML renders o as the OrderReceipt SOAP message DBC pushes to a library,
// authenticated with password (no authenticationPassword element when it is empty: the
// schema makes it optional), with ReceiptUUID(o) as its orderReceiptUuid.
func ReceiptXML(o Order, password string) []byte {
	w := o.wire() // the dates as the fake's OpenFindOrder writes them
	var env receiptEnvelope
	env.SOAP, env.NS = SOAPNamespace, receiptNS
	if password != "" {
		env.Request.Password = &password
	}
	env.Request.UUID = ReceiptUUID(o)
	env.Request.TrackingID = "fake-" + env.Request.UUID[:8]
	env.Request.Order = wireReceipt{
		NS: receiptNS, OrderID: o.OrderID, RequesterID: o.RequesterID, RequesterIDType: "ISIL",
		Author: o.Author, Copy: w.Copy, CreationDate: w.CreationDate, ISBN: o.ISBN, ISSN: o.ISSN,
		LastModification: w.LastModification, OrderSystem: o.OrderSystem, OrderType: o.OrderType, Pagination: o.Pagination,
		PickUpAgencyID: o.PickUpAgencyID, PickUpAgencyIDType: "ISIL", PublicationDate: o.PublicationDate, Publisher: o.Publisher,
		ResponderID: o.ResponderID, ResponderIDType: "ISIL", Title: o.Title, UserID: o.UserID, UserName: o.UserName,
	}
	if o.PID != "" {
		env.Request.Order.PID = []string{o.PID}
	}
	body, _ := xml.Marshal(env) // of plain strings: cannot fail
	return append([]byte(xml.Header), body...)
}

// receiptReply is the SOAP answer orderReceipt.wsdl gives the Receipt operation.
type receiptReply struct {
	Status  string `xml:"Body>receiptResponse>receiptResult>receiptStatus"`
	Message string `xml:"Body>receiptResponse>receiptResult>receiptStatusMessage"`
}

// Push POSTs o as an OrderReceipt SOAP message to url, as DBC does for a library that
// registered a receipt URL. It returns the HTTP status and the receiptStatus of the
// answer (ok, temporary_error_please_resend, fatal_internal_error, incomplete_request);
// an answer without one is an error.
func Push(ctx context.Context, hc *http.Client, url string, o Order, password string) (int, string, error) {
	return PushMessage(ctx, hc, url, ReceiptXML(o, password))
}

// PushMessage POSTs a prepared message (ReceiptXML's, or a broken one) as Push does.
func PushMessage(ctx context.Context, hc *http.Client, url string, msg []byte) (int, string, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(msg))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"`+receiptSOAPAction+`"`)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var r receiptReply
	if err := xml.Unmarshal(body, &r); err != nil || r.Status == "" {
		return resp.StatusCode, "", fmt.Errorf("HTTP %d: the answer holds no receiptStatus: %.200q", resp.StatusCode, body)
	}
	return resp.StatusCode, r.Status, nil
}
