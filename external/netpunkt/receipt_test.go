package netpunkt

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/fakes/fakenetpunkt"
)

func TestParseReceipt(t *testing.T) {
	o := fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 1, Agency: "775100", Count: 1, From: from, To: from})[0]
	good := fakenetpunkt.ReceiptXML(o, "r<&>pw")
	soap := []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` + string(bytes.TrimPrefix(good, []byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"))) + `</s:Body></s:Envelope>`)
	for _, tc := range []struct {
		name string
		body []byte
		ok   bool
	}{
		{"plain", good, true},
		{"in a SOAP envelope", soap, true},
		{"truncated", good[:len(good)-12], false},
		{"not XML", []byte("orderId=1"), false},
		{"wrong root", []byte(`<order><orderId>1</orderId></order>`), false},
		{"no orderId", []byte(`<receipt><authenticationPassword>x</authenticationPassword></receipt>`), false},
		{"latin-1", []byte(`<?xml version="1.0" encoding="ISO-8859-1"?><receipt><orderId>1</orderId></receipt>`), false},
		{"oversized", append(append([]byte(`<receipt><orderId>1</orderId><title>`), bytes.Repeat([]byte("x"), MaxReceiptBytes)...), []byte(`</title></receipt>`)...), false},
		{"trailing garbage", append(append([]byte{}, good...), []byte("<x>")...), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := ParseReceipt(tc.body)
			if !tc.ok {
				if !errors.Is(err, ErrMalformedReceipt) {
					t.Fatalf("err = %v, want ErrMalformedReceipt", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rc.Password != "r<&>pw" || rc.OrderID != o.OrderID {
				t.Fatalf("receipt = %q %q", rc.Password, rc.OrderID)
			}
			if bytes.Contains(rc.Order, []byte("r<&>pw")) || bytes.Contains(rc.Order, []byte("authenticationPassword")) {
				t.Fatalf("the stored order keeps the password: %s", rc.Order)
			}
			r := DecodeOrder(rc.Order, "DK-775100")
			if r.Problem != "" || r.ExternalID != o.OrderID || r.Lender != o.ResponderID || !r.LastModified.Equal(o.LastModification) {
				t.Fatalf("decoded %+v from %s", r, rc.Order)
			}
		})
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
	want := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	if r.Problem != "" || r.ExternalID != "7" || !r.LastModified.Equal(want) || r.PatronID != "1234" || r.Lender != "" || len(r.Rota) != 0 {
		t.Fatalf("decoded %+v", r)
	}
	_ = connector.Request{}
}
