package netpunkt

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/fakes/fakenetpunkt"
)

// TestParseReceiptAsDBCSendsIt reads testdata/receipt.xml, a receipt laid out by DBC's
// orderReceipt.xsd, and the fake's pushed message.
func TestParseReceiptAsDBCSendsIt(t *testing.T) {
	msg, err := os.ReadFile("testdata/receipt.xml")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := ParseReceipt(msg)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Password != "kvittering-42" || rc.UUID != "6f1c2a9e-3b7d-4e58-9a01-5c2d8e7f4b13" || rc.TrackingID != "or-2026-02-27-0001" || rc.OrderID != "1000123456" {
		t.Fatalf("receipt = %+v", rc)
	}
	if bytes.Contains(rc.Order, []byte("kvittering-42")) || bytes.Contains(rc.Order, []byte("authenticationPassword")) {
		t.Fatalf("the stored order keeps the password: %s", rc.Order)
	}
	r := DecodeOrder(rc.Order, "775100")
	if r.Problem != "" || r.ExternalID != "1000123456" || r.Bibliographic.GetTitle() != "Den afrikanske farm" || r.Lender == "" {
		t.Fatalf("decoded %+v from %s", r, rc.Order)
	}

	o := fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 1, Agency: "DK-775100", Count: 1, From: from, To: from})[0]
	rc, err = ParseReceipt(fakenetpunkt.ReceiptXML(o, "r<&>pw"))
	if err != nil {
		t.Fatal(err)
	}
	if rc.Password != "r<&>pw" || rc.OrderID != o.OrderID || rc.UUID != fakenetpunkt.ReceiptUUID(o) {
		t.Fatalf("the fake's receipt = %+v", rc)
	}
	if r := DecodeOrder(rc.Order, "DK-775100"); r.Problem != "" || r.ExternalID != o.OrderID || r.Lender == "" {
		t.Fatalf("decoded %+v from %s", r, rc.Order)
	}
}

func TestParseReceiptRefuses(t *testing.T) {
	good, err := os.ReadFile("testdata/receipt.xml")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("%q is not in the test receipt", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"truncated", good[:len(good)-30], "unexpected EOF"},
		{"not XML", []byte("orderId=1"), "no receipt element"},
		{"another namespace", edit(`xmlns:ns1="http://oss.dbc.dk/ns/orderReceipt"`, `xmlns:ns1="http://oss.dbc.dk/ns/openreceipt"`), "namespace"},
		{"the order directly below receipt", []byte(`<receipt xmlns="http://oss.dbc.dk/ns/orderReceipt"><authenticationPassword>x</authenticationPassword><orderId>1</orderId><orderReceiptUuid>u</orderReceiptUuid></receipt>`), "0 receiptRequest"},
		{"no orderReceipt", []byte(`<receipt xmlns="http://oss.dbc.dk/ns/orderReceipt"><receiptRequest><orderReceiptUuid>u</orderReceiptUuid></receiptRequest></receipt>`), "orderReceipt is missing"},
		{"no orderReceiptUuid", edit("<ns1:orderReceiptUuid>6f1c2a9e-3b7d-4e58-9a01-5c2d8e7f4b13</ns1:orderReceiptUuid>", ""), "orderReceiptUuid is missing"},
		{"an empty orderReceiptUuid", edit("6f1c2a9e-3b7d-4e58-9a01-5c2d8e7f4b13", " "), "orderReceiptUuid is missing"},
		{"a huge orderReceiptUuid", edit("6f1c2a9e-3b7d-4e58-9a01-5c2d8e7f4b13", strings.Repeat("u", 200)), "longer than"},
		{"no orderId", edit("<ns1:orderId>1000123456</ns1:orderId>", ""), "orderId is missing"},
		{"two receiptRequests", edit("</ns1:receiptRequest>", "</ns1:receiptRequest><ns1:receiptRequest/>"), "2 receiptRequest"},
		{"latin-1", edit(`encoding="UTF-8"`, `encoding="ISO-8859-1"`), "charset"},
		{"oversized", append(append([]byte{}, good...), bytes.Repeat([]byte(" "), MaxReceiptBytes)...), "larger than"},
		{"trailing garbage", append(append([]byte{}, good...), []byte("<x>")...), "after the answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseReceipt(tc.body)
			if !errors.Is(err, ErrMalformedReceipt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrMalformedReceipt mentioning %q", err, tc.want)
			}
		})
	}
}

// TestReceiptResponse: the answer is the contract's receiptResponse in a SOAP envelope.
func TestReceiptResponse(t *testing.T) {
	var env struct {
		Body struct {
			Response struct {
				Result struct {
					Status  string `xml:"http://oss.dbc.dk/ns/orderReceipt receiptStatus"`
					Message string `xml:"http://oss.dbc.dk/ns/orderReceipt receiptStatusMessage"`
				} `xml:"http://oss.dbc.dk/ns/orderReceipt receiptResult"`
			} `xml:"http://oss.dbc.dk/ns/orderReceipt receiptResponse"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
	}
	answer := ReceiptResponse(ReceiptIncompleteRequest, "a <b> & c")
	if err := xml.Unmarshal(answer, &env); err != nil {
		t.Fatal(err)
	}
	if r := env.Body.Response.Result; r.Status != "incomplete_request" || r.Message != "a <b> & c" {
		t.Fatalf("read back %+v from %s", r, answer)
	}
	if bytes.Contains(ReceiptResponse(ReceiptOK, ""), []byte("receiptStatusMessage")) {
		t.Fatal("an empty message is sent as an element")
	}
}

func TestDecodeOrderProblems(t *testing.T) {
	for _, tc := range []struct {
		name, stored, problem string
	}{
		{"not XML", "{", "could not be decoded"},
		{"another requester", `<order><orderId>1</orderId><lastModification>2026-03-01T10:00:00</lastModification><requesterId>DK-710100</requesterId></order>`, "not this profile's agency"},
		{"no lastModification", `<order><orderId>1</orderId><requesterId>775100</requesterId></order>`, "lastModification is missing"},
		{"bad lastModification", `<order><orderId>1</orderId><lastModification>yesterday</lastModification><requesterId>775100</requesterId></order>`, "not a date and time"},
	} {
		r := DecodeOrder([]byte(tc.stored), "775100")
		if !strings.Contains(r.Problem, tc.problem) || r.Bibliographic == nil {
			t.Errorf("%s: problem %q, want it to mention %q", tc.name, r.Problem, tc.problem)
		}
	}
	r := DecodeOrder([]byte(`<order><orderId> 7 </orderId><lastModification>2026-03-01T10:00:00+02:00</lastModification><requesterId>dk-775100</requesterId><userId>12 34</userId></order>`), "775100")
	if r.Problem != "" || r.ExternalID != "7" || r.LastModified.IsZero() || r.PatronID != "1234" || r.Lender != "" || len(r.Rota) != 0 {
		t.Fatalf("decoded %+v", r)
	}
	_ = connector.Request{}
}
