package fakelibris_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/interloan/interloan/fakes/fakelibris"
)

// trickyStrings are values encoding/json escapes (or, with HTML escaping off, does not):
// the stored answer bytes must be exactly what it writes for them.
var trickyStrings = []string{
	`a "quoted" word`, `back\slash\`, "ctl \x00\x01\x08\x0c\x1f\x7f", "tab\tnew\nline\rreturn",
	"<b>Tom & Jerry</b>", "Åsa Öberg — ✓ 😀", "line\u2028para\u2029sep", "bad \xff\xfe utf8 \xc3",
	"", " ", `{"not":"json"}`, "\\u00e4 literally",
}

// referenceAnswer is an outgoing or single answer for items as encoding/json's Encoder
// writes it, item by item with HTML escaping off: the wire format the fake must keep.
func referenceAnswer(t *testing.T, resultType, sigel string, items []fakelibris.Request) []byte {
	t.Helper()
	var b bytes.Buffer
	code, _ := json.Marshal(sigel)
	b.WriteString(`{"data_source":"librisfjarrlan","data_type":"ill_requests","result_type":`)
	b.WriteString(strconv.Quote(resultType))
	b.WriteString(`,"library_code":`)
	b.Write(code)
	b.WriteString(`,"count":` + strconv.Itoa(len(items)) + `,"ill_requests":[`)
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := enc.Encode(&items[i]); err != nil {
			t.Fatal(err)
		}
	}
	b.WriteString("]}\n")
	return b.Bytes()
}

// tricky puts trickyStrings into every kind of field of r: top-level strings, nullable
// strings, nested objects and the rota.
func tricky(r *fakelibris.Request, i int) {
	s := func(k int) string { return trickyStrings[(i+k)%len(trickyStrings)] }
	r.Title, r.Author, r.Message = s(0), s(1), s(2)
	r.Pages = &[]string{s(3)}[0]
	r.ReceivingLibrary.Name = s(4)
	r.EndUser.FirstName, r.EndUser.Institution = &[]string{s(5)}[0], s(6)
	r.Recipients = append(r.Recipients, fakelibris.Recipient{LibraryCode: "Xyz", Response: s(7), ResponseDate: &[]string{s(8)}[0]})
}

// TestAnswerBytesAreEncodingJSONs checks the answer on the wire byte for byte against
// encoding/json's encoding of the stored requests, after every change the fake supports.
func TestAnswerBytesAreEncodingJSONs(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	gen := fakelibris.Generate(fakelibris.GenerateOptions{Seed: 5, Count: 300, From: day(2024, 8, 1), To: day(2024, 8, 5)})
	for i := range gen {
		if i%3 == 0 {
			tricky(&gen[i], i)
		}
	}
	s.Put(gen...)
	outgoing := base + "/illrequests/Abc/outgoing?start_date=2024-07-01&end_date=2024-08-31"
	// The Abc requests in the window: the fixture's and the generated ones.
	inWindow := map[string]bool{"Abc-240731-0001": true, "Abc-240801-0001": true, "Abc-240801-0002": true,
		"Abc-240815-0001": true, "Abc-240816-0001": true}
	for _, r := range gen {
		inWindow[r.LFNumber] = true
	}

	// want is the reference answer for what the server stores now.
	want := func() []byte {
		var items []fakelibris.Request
		for _, lf := range slices.Sorted(maps.Keys(inWindow)) {
			r, ok := s.Get(lf)
			if !ok {
				t.Fatalf("%s not stored", lf)
			}
			items = append(items, r)
		}
		return referenceAnswer(t, "outgoing", "Abc", items)
	}
	check := func(step string) {
		t.Helper()
		resp, body := get(t, outgoing, key)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", step, resp.StatusCode)
		}
		if w := want(); !bytes.Equal(body, w) {
			t.Fatalf("%s: answer differs from encoding/json's at byte %d:\n got %q\nwant %q", step, firstDiff(body, w), around(body, w), around(w, body))
		}
	}
	check("stored")

	s.Touch(gen[3].LFNumber, func(r *fakelibris.Request) { tricky(r, 7); r.Status = fakelibris.StatusLevererad })
	s.Touch(gen[4].LFNumber, nil)
	check("touched")

	late := gen[10]
	late.LFNumber, late.RequestID, late.Title = "Abc-240802-0900", "9990001", "<late> & \"quoted\""
	s.Inject(fakelibris.Fault{Match: "outgoing", Times: 1, Churn: 7, Late: []fakelibris.Request{late}})
	get(t, outgoing, key) // consumes the fault: its changes are stored for the next answer
	inWindow[late.LFNumber] = true
	check("churned and late")

	replaced := gen[20]
	replaced.Title = "replaced \\ \x02"
	s.Put(replaced)
	s.Delete(gen[21].LFNumber)
	delete(inWindow, gen[21].LFNumber)
	check("replaced and deleted")

	moved := gen[22] // now requested by another library: gone from Abc's answers
	moved.RequestingLibrary = "Xyz"
	s.Put(moved)
	delete(inWindow, moved.LFNumber)
	check("moved to another library")

	// A single request by lf_number and by request_id.
	r, _ := s.Get(gen[3].LFNumber)
	for _, id := range []string{r.LFNumber, r.RequestID} {
		resultType := "lf_number"
		if id == r.RequestID {
			resultType = "request_id"
		}
		_, body := get(t, base+"/illrequests/Abc/"+id, key)
		if w := referenceAnswer(t, resultType, "Abc", []fakelibris.Request{r}); !bytes.Equal(body, w) {
			t.Fatalf("single %s: got %q, want %q", id, body, w)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// around is a of a's first difference from b, with some context.
func around(a, b []byte) string {
	i := firstDiff(a, b)
	return string(a[max(i-80, 0):min(i+80, len(a))])
}

// TestTrickyStringsEncoded pins how the tricky strings appear on the wire, so a change of
// escaping (HTML, control characters, invalid UTF-8) cannot pass unnoticed.
func TestTrickyStringsEncoded(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	r := req("Abc", "Abc-240801-0001", "101")
	r.Title = strings.Join(trickyStrings, "|")
	s.Put(r)
	_, body := get(t, base+"/illrequests/Abc/Abc-240801-0001", key)
	want := `"title":"a \"quoted\" word|back\\slash\\|ctl \u0000\u0001\b\f\u001f` + "\x7f" +
		`|tab\tnew\nline\rreturn|<b>Tom & Jerry</b>|Åsa Öberg — ✓ 😀|line\u2028para\u2029sep|bad \ufffd\ufffd utf8 \ufffd|| |{\"not\":\"json\"}|\\u00e4 literally"`
	if !strings.Contains(string(body), want) {
		t.Fatalf("title on the wire:\n%s\nwant it to contain\n%s", body, want)
	}
}
