package libris

import (
	"bytes"
	"encoding/json"
	"testing"
	"testing/iotest"

	"github.com/interloan/interloan/external/connector"
)

// FuzzDecodeEnvelope feeds arbitrary bytes to the streaming decoder: it must never panic,
// every error must be a connector *Error, and a success must describe valid JSON whose
// usable requests really are ours.
func FuzzDecodeEnvelope(f *testing.F) {
	example := exampleJSON(f)
	f.Add(example)
	f.Add([]byte(`{"data_source":"librisfjarrlan","count":0,"ill_requests":[]}`))
	f.Add([]byte(`{"count":"1","ill_requests":[{"lf_number":1,"request_id":2,"last_modified":3,"requesting_library":"Abc"}]}`))
	f.Add([]byte(`{"ill_requests":null,"x":[{"y":[1,2,{"z":null}]}]}`))
	f.Add(example[:len(example)/2])
	f.Add([]byte("<!DOCTYPE html><html><body>Fel</body></html>"))
	f.Add([]byte("\x00\xff garbage"))
	f.Add([]byte(""))

	c, err := New(Config{BaseURL: "https://example.org/api", Sigel: "Abc", APIKey: testKey})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r = bytes.NewReader(data)
		br := &bodyReader{r: r}
		if len(data)%2 == 1 {
			br.r = iotest.OneByteReader(r) // exercise the decoder's refills at every byte
		}
		var got []*connector.Request
		n, err := c.readEnvelope(br, "outgoing fuzz", "application/json", func(req *connector.Request) error {
			got = append(got, req)
			return nil
		})
		if n != len(got) {
			t.Fatalf("reported %d visits, saw %d", n, len(got))
		}
		if err != nil {
			if connector.KindOf(err) != connector.KindGarbage {
				t.Fatalf("error %v (%T) is not a garbage connector *Error", err, err)
			}
			noKey(t, err)
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		for _, req := range got {
			if req.Bibliographic == nil {
				t.Fatal("nil Bibliographic")
			}
			if req.Problem != "" {
				continue
			}
			if req.ExternalID == "" || req.ExternalRequestID == "" || req.RequestingLibrary != "Abc" || req.LastModified.IsZero() {
				t.Fatalf("usable request lacks identity: %+v", req)
			}
		}
	})
}
