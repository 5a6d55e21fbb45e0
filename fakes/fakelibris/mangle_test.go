package fakelibris_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/interloan/interloan/fakes/fakelibris"
)

// items decodes an envelope's ill_requests as generic objects, so a mangled item (a
// field missing or of another type) can be inspected.
func items(t *testing.T, body []byte) (count int, out []map[string]any) {
	t.Helper()
	var env struct {
		Count       int              `json:"count"`
		ILLRequests []map[string]any `json:"ill_requests"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return env.Count, env.ILLRequests
}

func TestFaultMangle(t *testing.T) {
	const outgoing = "/illrequests/Abc/outgoing?start_date=2024-08-01&end_date=2024-08-01" // Abc-240801-0001, -0002
	for _, tc := range []struct {
		name  string
		m     fakelibris.Mangle
		check func(t *testing.T, count int, got []map[string]any)
	}{
		{"drop lf_number", fakelibris.Mangle{Drop: "lf_number"}, func(t *testing.T, count int, got []map[string]any) {
			if _, ok := got[0]["lf_number"]; ok || got[1]["lf_number"] != "Abc-240801-0002" || count != 2 {
				t.Fatalf("count %d, items %v", count, got)
			}
		}},
		{"wrong type of a string", fakelibris.Mangle{Item: 1, WrongType: "last_modified"}, func(t *testing.T, count int, got []map[string]any) {
			if _, ok := got[1]["last_modified"].(map[string]any); !ok || got[0]["last_modified"] != "1722500000" {
				t.Fatalf("items %v", got)
			}
		}},
		{"wrong type of an array", fakelibris.Mangle{WrongType: "recipients"}, func(t *testing.T, count int, got []map[string]any) {
			if _, ok := got[0]["recipients"].(string); !ok {
				t.Fatalf("recipients %#v", got[0]["recipients"])
			}
		}},
		{"duplicate, index past the end means the last", fakelibris.Mangle{Item: 9, Duplicate: true}, func(t *testing.T, count int, got []map[string]any) {
			if count != 3 || len(got) != 3 || got[1]["lf_number"] != "Abc-240801-0002" || got[2]["lf_number"] != "Abc-240801-0002" {
				t.Fatalf("count %d, items %v", count, got)
			}
		}},
		{"by lf_number", fakelibris.Mangle{LFNumber: "Abc-240801-0002", Drop: "status"}, func(t *testing.T, count int, got []map[string]any) {
			if _, ok := got[1]["status"]; ok || got[0]["status"] != "Läst" {
				t.Fatalf("items %v", got)
			}
		}},
		{"an lf_number not in the answer changes nothing", fakelibris.Mangle{LFNumber: "Abc-240815-0001", Duplicate: true}, func(t *testing.T, count int, got []map[string]any) {
			if count != 2 || len(got) != 2 {
				t.Fatalf("count %d, items %v", count, got)
			}
		}},
		{"pad", fakelibris.Mangle{Pad: 1000}, func(t *testing.T, count int, got []map[string]any) {
			if p, _ := got[0]["padding"].(string); len(p) != 1000 {
				t.Fatalf("padding of %d bytes", len(p))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, base := fixture(t, fakelibris.Options{})
			m := tc.m
			s.Inject(fakelibris.Fault{Times: 1, Mangle: &m})
			m = fakelibris.Mangle{} // the fault keeps its own copy
			resp, body := get(t, base+outgoing, key)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			count, got := items(t, body)
			tc.check(t, count, got)
			// Used up: the next answer is the stored data again.
			if _, body := get(t, base+outgoing, key); lfs(decode(t, body)) != "Abc-240801-0001 Abc-240801-0002" {
				t.Fatalf("after the fault: %s", body)
			}
		})
	}
}

func TestFaultMangleInvalidUTF8(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	s.Inject(fakelibris.Fault{Times: 1, Mangle: &fakelibris.Mangle{InvalidUTF8: "title"}})
	_, body := get(t, base+"/illrequests/Abc/outgoing?start_date=2024-08-01&end_date=2024-08-01", key)
	if utf8.Valid(body) || !strings.Contains(string(body), "\"Ogiltig \xff\xfe") {
		t.Fatalf("body is valid UTF-8 or lacks the broken title: %q", body)
	}
	// Still JSON (encoding/json replaces the bad bytes), with both items.
	if _, got := items(t, body); len(got) != 2 || !strings.HasPrefix(got[0]["title"].(string), "Ogiltig \uFFFD") {
		t.Fatalf("items %v", got)
	}
}

// A mangle leaves answers that are not envelopes alone: errors, the directory.
func TestFaultMangleOnlyTouchesEnvelopes(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	s.AddLibraries(fakelibris.Library{LibraryCode: "Abc", Name: "Abc library"})
	s.Inject(fakelibris.Fault{Times: 2, Mangle: &fakelibris.Mangle{Drop: "name"}})
	if resp, body := get(t, base+"/libraries/Abc/Abc", key); resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"Abc library"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, base+"/illrequests/Abc/outgoing?start_date=2024-08-01", key); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad dates under a mangle: %d", resp.StatusCode)
	}
}

func TestFaultDrip(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	s.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 1, Count: 3, From: day(2024, 8, 1), To: day(2024, 8, 1)})...)
	const outgoing = "/illrequests/Abc/outgoing?start_date=2024-08-01&end_date=2024-08-01"
	_, whole := get(t, base+outgoing, key)

	s.Inject(fakelibris.Fault{Times: 1, Drip: 20 * time.Millisecond})
	rq, _ := http.NewRequest(http.MethodGet, base+outgoing, nil)
	rq.Header.Set("api-key", key)
	resp, err := http.DefaultClient.Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Read as it comes: together the pieces are the normal answer, and it did not come
	// in one read (several KiB in 256-byte pieces 20ms apart).
	var got []byte
	buf := make([]byte, 64<<10)
	reads := 0
	for {
		n, err := resp.Body.Read(buf)
		got = append(got, buf[:n]...)
		if n > 0 {
			reads++
		}
		if err != nil {
			break
		}
	}
	if string(got) != string(whole) {
		t.Fatalf("dripped answer differs from the normal one:\n%s\n%s", got, whole)
	}
	if len(whole) < 4*fakelibris.DripBytes || reads < 2 {
		t.Fatalf("%d reads for %d bytes", reads, len(whole))
	}
}
