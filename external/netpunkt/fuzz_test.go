package netpunkt

import (
	"bytes"
	"errors"
	"testing"
	"testing/iotest"

	"github.com/interloan/interloan/fakes/fakenetpunkt"
)

// FuzzDecodeFindOrders feeds arbitrary bytes to the streaming decoder: it must never panic,
// every failure must be a decodeError, and a usable order must really be ours.
func FuzzDecodeFindOrders(f *testing.F) {
	f.Add([]byte(`<findOrdersResponse xmlns="http://oss.dbc.dk/ns/openfindorder"><result><numberOfOrders>1</numberOfOrders><order><orderId>1</orderId><lastModification>2026-03-01T10:00:00</lastModification><requesterId>DK-775100</requesterId></order></result></findOrdersResponse>`))
	f.Add([]byte(`<findOrdersResponse><error>authentication_error</error></findOrdersResponse>`))
	f.Add([]byte(`<s:Envelope xmlns:s="x"><s:Body><findOrdersResponse><result><numberOfOrders>x</numberOfOrders></result></findOrdersResponse></s:Body></s:Envelope>`))
	f.Add([]byte("<!DOCTYPE html><html><body>Fejl</body></html>"))
	f.Add([]byte(""))
	o := fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 1, Agency: "775100", Count: 1, From: from, To: from})[0]
	f.Add(fakenetpunkt.ReceiptXML(o, "pw"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r = bytes.NewReader(data)
		d := newDecoder(r)
		if len(data)%2 == 1 {
			d = newDecoder(iotest.OneByteReader(r))
		}
		n := 0
		res, err := d.findOrders(func(o *order) error {
			n++
			req := mapOrder(o, "DK-775100")
			if req.Bibliographic == nil {
				t.Fatal("nil Bibliographic")
			}
			if req.Problem == "" && (req.ExternalID == "" || req.RequestingLibrary != "DK-775100" || req.LastModified.IsZero()) {
				t.Fatalf("usable order lacks identity: %+v", req)
			}
			return nil
		})
		if n != res.orders {
			t.Fatalf("visited %d, counted %d", n, res.orders)
		}
		var de *decodeError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("error %v (%T) is not a decodeError", err, err)
		}
		if err == nil && res.total < res.orders {
			t.Fatalf("total %d < orders %d", res.total, res.orders)
		}
		// The push path parses the same bytes as a receipt: only ErrMalformedReceipt may fail.
		if _, err := ParseReceipt(data); err != nil && !errors.Is(err, ErrMalformedReceipt) {
			t.Fatalf("ParseReceipt: %v", err)
		}
	})
}
