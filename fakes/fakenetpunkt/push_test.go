package fakenetpunkt

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestReceiptXML: the message is OrderReceipt's SOAP request as orderReceipt.xsd lays it
// out, read here with the schema's names and namespace, not with the connector's parser.
func TestReceiptXML(t *testing.T) {
	o := Order{OrderID: "1", Title: "A & <B>", RequesterID: "DK-775100", ResponderID: "DK-710100", PickUpAgencyID: "DK-775100",
		LastModification: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	msg := ReceiptXML(o, `p<w>&"`)
	var env struct {
		Body struct {
			Receipt struct {
				XMLName xml.Name
				Request struct {
					Password string `xml:"http://oss.dbc.dk/ns/orderReceipt authenticationPassword"`
					Order    struct {
						OrderID     string `xml:"http://oss.dbc.dk/ns/orderReceipt orderId"`
						RequesterID string `xml:"http://oss.dbc.dk/ns/orderReceipt requesterId"`
						Title       string `xml:"http://oss.dbc.dk/ns/orderReceipt title"`
					} `xml:"http://oss.dbc.dk/ns/orderReceipt orderReceipt"`
					UUID string `xml:"http://oss.dbc.dk/ns/orderReceipt orderReceiptUuid"`
				} `xml:"http://oss.dbc.dk/ns/orderReceipt receiptRequest"`
			} `xml:"http://oss.dbc.dk/ns/orderReceipt receipt"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
	}
	if err := xml.Unmarshal(msg, &env); err != nil {
		t.Fatalf("%v in %s", err, msg)
	}
	rq := env.Body.Receipt.Request
	if rq.Password != `p<w>&"` || rq.Order.Title != "A & <B>" || rq.Order.OrderID != "1" || rq.Order.RequesterID != "DK-775100" || rq.UUID != ReceiptUUID(o) || len(rq.UUID) != 36 {
		t.Fatalf("read back %+v from %s", rq, msg)
	}
	// The schema's sequence: orderId, requesterId, requesterIdType first; no state elements.
	s := string(msg)
	if !strings.Contains(s, `<or:orderReceipt xmlns="http://oss.dbc.dk/ns/orderReceipt"><orderId>1</orderId><requesterId>DK-775100</requesterId><requesterIdType>ISIL</requesterIdType>`) ||
		strings.Contains(s, "OrderState") {
		t.Fatalf("ReceiptXML = %s", s)
	}
	if strings.Contains(string(ReceiptXML(o, "")), "authenticationPassword") {
		t.Fatal("an empty password is sent as an element")
	}
	later := o
	later.LastModification = later.LastModification.Add(time.Second)
	if ReceiptUUID(later) == ReceiptUUID(o) {
		t.Fatal("a receipt of a later state has the same uuid")
	}
}

func TestPush(t *testing.T) {
	var got, action string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, action = string(b), r.Header.Get("SOAPAction")
		w.Write([]byte(`<?xml version="1.0"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>` +
			`<receiptResponse xmlns="http://oss.dbc.dk/ns/orderReceipt"><receiptResult><receiptStatus>incomplete_request</receiptStatus>` +
			`</receiptResult></receiptResponse></S:Body></S:Envelope>`))
	}))
	defer srv.Close()
	code, status, err := Push(t.Context(), nil, srv.URL, Order{OrderID: "9"}, "pw")
	if err != nil || code != 200 || status != "incomplete_request" || !strings.Contains(got, "<orderId>9</orderId>") || action != `"http://oss.dbc.dk/ns/orderReceipt/Receipt"` {
		t.Fatalf("Push = %d %q %v; server saw %s %s", code, status, err, action, got)
	}
	if _, _, err := PushMessage(t.Context(), nil, srv.URL+"/x", nil); err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<ok/>")) })
	if _, _, err := Push(t.Context(), nil, srv.URL, Order{OrderID: "9"}, "pw"); err == nil {
		t.Fatal("an answer without receiptStatus is not an error")
	}
}
