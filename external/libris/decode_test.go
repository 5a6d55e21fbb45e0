package libris

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/interloan/interloan/external/connector"
)

// readAnswer runs readEnvelope over body, whole and one byte per read, and checks that
// both ways agree.
func readAnswer(t *testing.T, body string) ([]*connector.Request, error) {
	t.Helper()
	c := &Client{sigel: "Abc"}
	var first []*connector.Request
	var firstErr error
	for _, oneByte := range []bool{false, true} {
		var r io.Reader = strings.NewReader(body)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		var got []*connector.Request
		n, err := c.readEnvelope(&bodyReader{r: r}, "a window", "application/json", func(req *connector.Request) error {
			got = append(got, req)
			return nil
		})
		if n != len(got) {
			t.Fatalf("reported %d visits, saw %d", n, len(got))
		}
		if !oneByte {
			first, firstErr = got, err
			continue
		}
		if len(got) != len(first) || (err == nil) != (firstErr == nil) {
			t.Fatalf("one byte per read: %d requests, error %v; whole: %d, %v", len(got), err, len(first), firstErr)
		}
	}
	return first, firstErr
}

// TestEnvelopeSyntax: the answer is accepted exactly when it is valid JSON (as
// encoding/json judges it, invalid UTF-8 in strings included) with a usable envelope, and
// anything else is a Garbage error naming the problem.
func TestEnvelopeSyntax(t *testing.T) {
	one := `{"lf_number":"Abc-250301-0001","request_id":"1","last_modified":"1740826800","requesting_library":"Abc","title":"T"}`
	for _, tc := range []struct {
		name, body string
		items      int    // requests visited
		want       string // in the error; "" for success
	}{
		{"plain", `{"count":1,"ill_requests":[` + one + `]}`, 1, ""},
		{"white space everywhere", " \r\n\t{ \"count\" : 1 , \"ill_requests\" : [ " + one + " ] } \n", 1, ""},
		{"count as a string", `{"count":"1","ill_requests":[` + one + `]}`, 1, ""},
		{"count as a whole float", `{"count":1.0e0,"ill_requests":[` + one + `]}`, 1, ""},
		{"count null", `{"count":null,"ill_requests":[` + one + `]}`, 1, ""},
		{"duplicate count, the last wins", `{"count":5,"count":1,"ill_requests":[` + one + `]}`, 1, ""},
		{"items null", `{"count":0,"ill_requests":null}`, 0, ""},
		{"skipped fields of every shape", `{"a":{"b":[1,{"c":"]}\"{["}],"d":null},"e":[[],{}],"f":-1.5e-3,"g":true,"count":1,"ill_requests":[` + one + `],"h":"\u00e5\ud83d\ude00"}`, 1, ""},
		{"invalid UTF-8 in a string", "{\"x\":\"\xff\xfe\",\"count\":1,\"ill_requests\":[" + one + "]}", 1, ""},
		{"lone surrogate escape", `{"x":"\ud800","count":0,"ill_requests":[]}`, 0, ""},
		{"escaped quotes and brackets in an item", `{"count":1,"ill_requests":[{"lf_number":"Abc-250301-0001","request_id":"1","last_modified":"1740826800","requesting_library":"Abc","title":"a \"[{\" b\\"}]}`, 1, ""},

		{"trailing comma in an item", `{"ill_requests":[{"lf_number":"x",}]}`, 0, "malformed JSON"},
		{"trailing comma in the array", `{"count":1,"ill_requests":[` + one + `,]}`, 1, "malformed JSON"},
		{"trailing comma in the envelope", `{"count":0,"ill_requests":[],}`, 0, "malformed JSON"},
		{"missing comma between items", `{"ill_requests":[` + one + one + `]}`, 1, "malformed JSON"},
		{"single quotes", `{'count':0}`, 0, "malformed JSON"},
		{"leading zero", `{"count":0,"ill_requests":[],"x":01}`, 0, "malformed JSON"},
		{"plus sign", `{"count":0,"ill_requests":[],"x":+1}`, 0, "malformed JSON"},
		{"NaN", `{"count":0,"ill_requests":[{"x":NaN}]}`, 0, "malformed JSON"},
		{"bad literal", `{"count":0,"ill_requests":[],"x":nul}`, 0, "malformed JSON"},
		{"control character in a string", "{\"count\":0,\"ill_requests\":[{\"x\":\"a\x01b\"}]}", 0, "malformed JSON"},
		{"unknown escape", `{"count":0,"ill_requests":[{"x":"\x41"}]}`, 0, "malformed JSON"},
		{"short unicode escape", `{"count":0,"ill_requests":[{"x":"\u12G4"}]}`, 0, "malformed JSON"},
		{"comment", `{"count":0, // none
			"ill_requests":[]}`, 0, "malformed JSON"},
		{"mismatched bracket", `{"count":0,"ill_requests":[{"x":[1}]}`, 0, "malformed JSON"},
		{"key not a string", `{count:0}`, 0, "malformed JSON"},
		{"missing colon", `{"count" 0}`, 0, "malformed JSON"},
		{"garbage after the envelope", `{"count":0,"ill_requests":[]}x`, 0, "malformed JSON after the envelope"},
		{"a second value after the envelope", `{"count":0,"ill_requests":[]} []`, 0, "more data after the envelope (an array)"},
		{"not JSON", `<html>`, 0, "a body that is not JSON"},
		{"a string", `"ill_requests"`, 0, "JSON that is not an object (a string)"},
		{"a number", `42`, 0, "JSON that is not an object (a number)"},
		{"white space only", " \n", 0, "an empty body"},
		{"items a string", `{"ill_requests":"[]"}`, 0, "ill_requests is a string, not an array"},
		{"items a number", `{"ill_requests":1}`, 0, "ill_requests is a number, not an array"},
		{"count an array", `{"count":[1],"ill_requests":[]}`, 0, "count is not a number of requests"},
		{"count a fraction", `{"count":1.5,"ill_requests":[]}`, 0, `count "1.5"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == "" && !json.Valid([]byte(tc.body)) {
				t.Fatalf("the test's body is not valid JSON")
			}
			got, err := readAnswer(t, tc.body)
			if len(got) != tc.items {
				t.Errorf("%d requests, want %d", len(got), tc.items)
			}
			for _, r := range got {
				if r.Problem != "" {
					t.Errorf("problem: %s", r.Problem)
				}
			}
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if connector.KindOf(err) != connector.KindGarbage || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a garbage error mentioning %q", err, tc.want)
			}
		})
	}
}

// TestEnvelopeTruncated: every proper prefix of an answer is a Garbage error, after the
// requests that arrived whole.
func TestEnvelopeTruncated(t *testing.T) {
	body := string(envelopeJSON(2, item("Abc-250301-0001", map[string]any{"title": `a "b" \ c`}), item("Abc-250301-0002", nil)))
	ends := []int{strings.Index(body, `},{`) + 1, strings.LastIndex(body, `}]`) + 1} // of each request
	for n := range len(body) {
		got, err := readAnswer(t, body[:n])
		if connector.KindOf(err) != connector.KindGarbage {
			t.Fatalf("prefix %q: error %v, want a garbage error", body[:n], err)
		}
		whole := 0
		for _, end := range ends {
			if n >= end {
				whole++
			}
		}
		if len(got) != whole {
			t.Fatalf("prefix of %d bytes: %d requests, want %d", n, len(got), whole)
		}
	}
}

// TestEnvelopeNetworkErrorKept: a connection that breaks after part of the answer is
// Unreachable, not a malformed answer, and the requests read before it are visited.
func TestEnvelopeNetworkErrorKept(t *testing.T) {
	body := envelopeJSON(3, item("Abc-250301-0001", nil), item("Abc-250301-0002", nil), item("Abc-250301-0003", nil))
	cut := bytes.Index(body, []byte(`},{`)) + 2 // the first request and its comma
	broken := errors.New("connection reset")
	c := &Client{sigel: "Abc"}
	br := &bodyReader{r: io.MultiReader(bytes.NewReader(body[:cut]), iotest.ErrReader(broken))}
	n, err := c.readEnvelope(br, "a window", "application/json", func(*connector.Request) error { return nil })
	if connector.KindOf(err) != connector.KindUnreachable || !errors.Is(err, broken) || n != 1 {
		t.Fatalf("%d visits, error %v; want 1 and Unreachable", n, err)
	}
}

// TestItemsHandedOverBeforeWaiting: requests read are visited before the reader waits on
// the network for more, however few, and in order.
func TestItemsHandedOverBeforeWaiting(t *testing.T) {
	body := envelopeJSON(3, item("Abc-250301-0001", nil), item("Abc-250301-0002", nil), item("Abc-250301-0003", nil))
	cut := bytes.LastIndex(body, []byte(`},{`)) + 2 // two requests
	seen := make(chan string, 3)
	// The rest of the answer is sent only once both requests have been visited.
	rest := readerFunc(func(p []byte) (int, error) {
		for _, want := range []string{"Abc-250301-0001", "Abc-250301-0002"} {
			if got := <-seen; got != want {
				return 0, errors.New("visited " + got + ", want " + want)
			}
		}
		return 0, io.EOF
	})
	c := &Client{sigel: "Abc"}
	br := &bodyReader{r: io.MultiReader(bytes.NewReader(body[:cut]), rest, bytes.NewReader(body[cut:]))}
	n, err := c.readEnvelope(br, "a window", "application/json", func(r *connector.Request) error {
		seen <- r.ExternalID
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("%d visits, error %v", n, err)
	}
	if got := <-seen; got != "Abc-250301-0003" {
		t.Fatalf("third visit %s", got)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
