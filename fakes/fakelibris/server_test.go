package fakelibris_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interloan/interloan/fakes/fakelibris"
)

const key = "abc-key"

type envelope struct {
	DataSource  string               `json:"data_source"`
	DataType    string               `json:"data_type"`
	ResultType  string               `json:"result_type"`
	LibraryCode string               `json:"library_code"`
	Count       int                  `json:"count"`
	ILLRequests []fakelibris.Request `json:"ill_requests"`
}

// req builds a minimal stored request of sigel with the given lf_number and request_id.
func req(sigel, lf, id string) fakelibris.Request {
	return fakelibris.Request{RequestID: id, LFNumber: lf, RequestingLibrary: sigel, Status: "Läst",
		StatusCode: "3", LastModified: "1722500000"}
}

// fixture starts a server with a key for Abc (and one for Xyz) and a handful of requests.
func fixture(t *testing.T, o fakelibris.Options) (*fakelibris.Server, string) {
	t.Helper()
	s := fakelibris.New(o)
	s.AddKey(key, "Abc")
	s.AddKey("xyz-key", "Xyz")
	s.Put(
		req("Abc", "Abc-240731-0001", "100"),
		req("Abc", "Abc-240801-0001", "101"),
		req("Abc", "Abc-240801-0002", "102"),
		req("Abc", "Abc-240815-0001", "103"),
		req("Abc", "Abc-240816-0001", "104"),
		req("Xyz", "Xyz-240801-0001", "200"),
	)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL + "/librisfjarrlan/api"
}

func get(t *testing.T, url, apiKey string) (*http.Response, []byte) {
	t.Helper()
	return getCtx(t, context.Background(), url, apiKey)
}

func getCtx(t *testing.T, ctx context.Context, url, apiKey string) (*http.Response, []byte) {
	t.Helper()
	rq, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if apiKey != "" {
		rq.Header.Set("api-key", apiKey)
	}
	resp, err := http.DefaultClient.Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func decode(t *testing.T, body []byte) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return e
}

func lfs(e envelope) string {
	var out []string
	for _, r := range e.ILLRequests {
		out = append(out, r.LFNumber)
	}
	return strings.Join(out, " ")
}

func TestAuth(t *testing.T) {
	_, base := fixture(t, fakelibris.Options{})
	s2 := fakelibris.New(fakelibris.Options{})
	s2.AddLibraries(fakelibris.LibraryFor("Xyz"))
	out := "/illrequests/Abc/outgoing?start_date=2024-08-01&end_date=2024-08-01"
	for _, tc := range []struct {
		name, path, key string
		want            int
	}{
		{"no key", out, "", 401},
		{"unknown key", out, "nope", 401},
		{"key of another sigel", out, "xyz-key", 403},
		{"sigel case differs", "/illrequests/abc/outgoing?start_date=2024-08-01&end_date=2024-08-01", key, 403},
		{"sigel upper case", "/illrequests/ABC/Abc-240801-0001", key, 403},
		{"own sigel", out, key, 200},
		{"single, no key", "/illrequests/Abc/Abc-240801-0001", "", 401},
		{"single, own", "/illrequests/Abc/Abc-240801-0001", key, 200},
		{"libraries, no key", "/libraries/Abc/Xyz", "", 401},
		{"libraries, other sigel", "/libraries/Xyz/Xyz", key, 403},
		{"libraries, own", "/libraries/Abc/Xyz", key, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, base+tc.path, tc.key)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want >= 400 && len(body) != 0 {
				t.Fatalf("body %q, want empty", body)
			}
		})
	}
}

func TestOutgoingWindow(t *testing.T) {
	_, base := fixture(t, fakelibris.Options{})
	for _, tc := range []struct {
		name, start, end, want string
	}{
		{"inclusive both ends", "2024-08-01", "2024-08-15", "Abc-240801-0001 Abc-240801-0002 Abc-240815-0001"},
		{"unpadded", "2024-8-1", "2024-8-15", "Abc-240801-0001 Abc-240801-0002 Abc-240815-0001"},
		{"mixed padding", "2024-07-31", "2024-8-1", "Abc-240731-0001 Abc-240801-0001 Abc-240801-0002"},
		{"single day", "2024-08-16", "2024-08-16", "Abc-240816-0001"},
		{"empty window", "2024-08-02", "2024-08-14", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, base+"/illrequests/Abc/outgoing?start_date="+tc.start+"&end_date="+tc.end, key)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
			e := decode(t, body)
			if got := lfs(e); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if e.Count != len(e.ILLRequests) || e.DataSource != "librisfjarrlan" || e.DataType != "ill_requests" ||
				e.ResultType != "outgoing" || e.LibraryCode != "Abc" {
				t.Fatalf("envelope %+v", e)
			}
		})
	}
}

func TestOutgoingBadDates(t *testing.T) {
	_, base := fixture(t, fakelibris.Options{MaxRangeDays: 7})
	for _, tc := range []struct {
		name, query string
		want        int
	}{
		{"missing start", "end_date=2024-08-01", 400},
		{"missing end", "start_date=2024-08-01", 400},
		{"no params", "", 400},
		{"month 13", "start_date=2024-13-01&end_date=2024-13-02", 400},
		{"30 February", "start_date=2024-02-30&end_date=2024-03-01", 400},
		{"two-digit year", "start_date=24-08-01&end_date=24-08-02", 400},
		{"slashes", "start_date=2024/08/01&end_date=2024/08/02", 400},
		{"words", "start_date=today&end_date=tomorrow", 400},
		{"signed", "start_date=2024-+8-01&end_date=2024-08-02", 400},
		{"start after end", "start_date=2024-08-02&end_date=2024-08-01", 400},
		{"range too long", "start_date=2024-08-01&end_date=2024-08-08", 400},
		{"range at the limit", "start_date=2024-08-01&end_date=2024-08-07", 200},
		{"format xml", "start_date=2024-08-01&end_date=2024-08-01&format=xml", 501},
		{"format json", "start_date=2024-08-01&end_date=2024-08-01&format=json", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, base+"/illrequests/Abc/outgoing?"+tc.query, key)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
			if tc.want != 200 {
				var e struct {
					Error string `json:"error"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
					t.Fatalf("error body %q not a JSON error: %v", body, err)
				}
			}
		})
	}
}

func TestSingle(t *testing.T) {
	_, base := fixture(t, fakelibris.Options{})
	for _, tc := range []struct {
		name, path, wantType, wantLF string
		wantStatus                   int
	}{
		{"by lf_number", "/illrequests/Abc/Abc-240815-0001", "lf_number", "Abc-240815-0001", 200},
		{"by request_id", "/illrequests/Abc/103", "request_id", "Abc-240815-0001", 200},
		{"unknown lf_number", "/illrequests/Abc/Abc-240815-0099", "lf_number", "", 404},
		{"unknown request_id", "/illrequests/Abc/999", "request_id", "", 404},
		{"other sigel's lf_number", "/illrequests/Abc/Xyz-240801-0001", "lf_number", "", 404},
		{"other sigel's request_id", "/illrequests/Abc/200", "request_id", "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, base+tc.path, key)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			e := decode(t, body)
			if e.ResultType != tc.wantType || e.LibraryCode != "Abc" || lfs(e) != tc.wantLF {
				t.Fatalf("got %+v", e)
			}
			if want := min(1, len(tc.wantLF)); e.Count != want {
				t.Fatalf("count %d, want %d", e.Count, want)
			}
		})
	}
}

func TestNotFoundStatusOption(t *testing.T) {
	for _, tc := range []struct{ opt, want int }{{0, 404}, {200, 200}, {400, 400}, {404, 404}, {500, 404}} {
		t.Run(strconv.Itoa(tc.opt), func(t *testing.T) {
			_, base := fixture(t, fakelibris.Options{NotFoundStatus: tc.opt})
			resp, body := get(t, base+"/illrequests/Abc/Abc-990101-0001", key)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			if arr, ok := m["ill_requests"].([]any); !ok || len(arr) != 0 || m["count"] != float64(0) {
				t.Fatalf("body %s: want count 0 and an empty array", body)
			}
		})
	}
}

func TestLibraries(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	xyz, qrs := fakelibris.LibraryFor("Xyz"), fakelibris.LibraryFor("Qrs")
	s.AddLibraries(xyz, qrs)
	for _, tc := range []struct{ list, want string }{
		{"Xyz", "Xyz"},
		{"Qrs,Xyz", "Qrs Xyz"},
		{"Xyz,Nope,Qrs,Xyz", "Xyz Qrs"},
		{"xyz", ""},
		{"Nope", ""},
	} {
		t.Run(tc.list, func(t *testing.T) {
			resp, body := get(t, base+"/libraries/Abc/"+tc.list, key)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			var m struct {
				Libraries []map[string]any `json:"libraries"`
			}
			if err := json.Unmarshal(body, &m); err != nil || m.Libraries == nil {
				t.Fatalf("body %s: %v", body, err)
			}
			var got []string
			for _, l := range m.Libraries {
				got = append(got, l["library_code"].(string))
				for _, k := range []string{"library_id", "name", "address1", "address2", "address3", "zip_code", "city"} {
					if _, ok := l[k].(string); !ok {
						t.Fatalf("library field %q missing or not a string: %v", k, l)
					}
				}
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("got %v, want %q", got, tc.want)
			}
		})
	}
}

func TestRoutingAndMethods(t *testing.T) {
	_, base := fixture(t, fakelibris.Options{})
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"POST", "/illrequests/Abc/Abc-240801-0001", 405},
		{"PUT", "/illrequests/Abc/outgoing", 405},
		{"DELETE", "/libraries/Abc/Xyz", 405},
		{"GET", "/illrequests/Abc", 404},
		{"GET", "/illrequests/Abc/outgoing/extra", 404},
		{"GET", "/illrequests//outgoing", 404},
		{"GET", "/nothing/here", 404},
		{"GET", "/../illrequests/Abc/outgoing", 404},
		{"GET", "/illrequests/Abc/incoming", 501},
		{"GET", "/userrequests/Abc", 501},
	} {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			rq, _ := http.NewRequest(tc.method, base+tc.path, nil)
			rq.Header.Set("api-key", key)
			resp, err := http.DefaultClient.Do(rq)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	// Outside the base path entirely.
	resp, _ := get(t, strings.TrimSuffix(base, "/librisfjarrlan/api")+"/illrequests/Abc/outgoing", key)
	if resp.StatusCode != 404 {
		t.Fatalf("outside base path: %d", resp.StatusCode)
	}
}

func TestCustomBasePath(t *testing.T) {
	s := fakelibris.New(fakelibris.Options{BasePath: "api/"})
	s.AddKey(key, "Abc")
	srv := httptest.NewServer(s)
	defer srv.Close()
	if resp, _ := get(t, srv.URL+"/api/illrequests/Abc/outgoing?start_date=2024-01-01&end_date=2024-01-01", key); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if resp, _ := get(t, srv.URL+"/apix/illrequests/Abc/outgoing?start_date=2024-01-01&end_date=2024-01-01", key); resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestJSONTypes checks Libris's wire types: ids and codes strings, flags bools, unset
// dates null, count a number.
func TestJSONTypes(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	s.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 3, Count: 50, From: day(2024, 9, 1), To: day(2024, 9, 3)})...)
	_, body := get(t, base+"/illrequests/Abc/outgoing?start_date=2024-09-01&end_date=2024-09-03", key)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["count"].(float64); !ok {
		t.Fatalf("count is %T", m["count"])
	}
	items := m["ill_requests"].([]any)
	if len(items) != 50 {
		t.Fatalf("%d items", len(items))
	}
	sawNullArrival, sawStatus := false, map[string]bool{}
	for _, it := range items {
		r := it.(map[string]any)
		for _, k := range []string{"request_id", "lf_number", "status", "status_code", "xstatus_code", "local_status_code",
			"media_type", "media_type_code", "recipient_count", "bib_id", "last_modified", "user", "user_id",
			"active_library", "requesting_library", "libris_enduser_request_id", "enduser_id", "delivery_type_code"} {
			if _, ok := r[k].(string); !ok {
				t.Fatalf("%s is %T, want string", k, r[k])
			}
		}
		for _, k := range []string{"sign_date", "renewal_date", "renewal_count", "return_date", "sendback_date"} {
			if v, present := r[k]; !present || v != nil {
				t.Fatalf("%s = %v (present %v), want null", k, v, present)
			}
		}
		if r["arrival_date"] == nil {
			sawNullArrival = true
		}
		if _, err := strconv.ParseInt(r["last_modified"].(string), 10, 64); err != nil {
			t.Fatalf("last_modified %q not epoch seconds", r["last_modified"])
		}
		eu := r["end_user"].(map[string]any)
		for _, k := range []string{"approved", "home_delivery", "institution_delivery"} {
			if _, ok := eu[k].(bool); !ok {
				t.Fatalf("end_user.%s is %T", k, eu[k])
			}
		}
		rl := r["receiving_library"].(map[string]any)
		if _, ok := rl["bibsam"].(bool); !ok {
			t.Fatalf("receiving_library.bibsam is %T", rl["bibsam"])
		}
		for _, rc := range r["recipients"].([]any) {
			rc := rc.(map[string]any)
			if _, ok := rc["is_active_library"].(bool); !ok {
				t.Fatalf("is_active_library is %T", rc["is_active_library"])
			}
			if _, ok := rc["library_id"].(string); !ok {
				t.Fatalf("library_id is %T", rc["library_id"])
			}
		}
		sawStatus[r["status"].(string)] = true
	}
	if !sawNullArrival {
		t.Error("no request with arrival_date null")
	}
	// Byte-level check that Swedish letters go out as UTF-8, not \u escapes.
	if !strings.Contains(string(body), `"Läst"`) && !strings.Contains(string(body), `"Levererad"`) {
		t.Errorf("statuses %v", sawStatus)
	}
	if strings.Contains(string(body), `\u00e4`) {
		t.Error("Swedish letters escaped")
	}
	// A Put request with no recipients still encodes an array.
	if !strings.Contains(func() string {
		_, b := get(t, base+"/illrequests/Abc/Abc-240801-0001", key)
		return string(b)
	}(), `"recipients":[]`) {
		t.Error("empty recipients not []")
	}
}

func TestLargeStreamedResponse(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	// Minimal items keep the test fast under -race; the point is the response size.
	many := make([]fakelibris.Request, 50_000)
	for i := range many {
		d := day(2023, 1, 1).AddDate(0, 0, i%365)
		many[i] = req("Abc", "Abc-"+d.Format("060102")+"-"+strconv.Itoa(1000+i/365), strconv.Itoa(1_000_000+i))
	}
	s.Put(many...)
	rq, _ := http.NewRequest(http.MethodGet, base+"/illrequests/Abc/outgoing?start_date=2023-01-01&end_date=2023-12-31", nil)
	rq.Header.Set("api-key", key)
	resp, err := http.DefaultClient.Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ContentLength != -1 {
		t.Errorf("Content-Length %d: the body should be streamed, not buffered", resp.ContentLength)
	}
	// Walk the envelope token by token and decode items one at a time, as a streaming
	// client would; buffering a ~100 MB body in the test would dominate its run time.
	dec := json.NewDecoder(resp.Body)
	count, items, prev := -1, 0, ""
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("start: %v %v", tok, err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		switch tok {
		case "count":
			if err := dec.Decode(&count); err != nil {
				t.Fatal(err)
			}
		case "ill_requests":
			if _, err := dec.Token(); err != nil {
				t.Fatal(err)
			}
			for dec.More() {
				var item struct {
					LFNumber string `json:"lf_number"`
				}
				if err := dec.Decode(&item); err != nil {
					t.Fatalf("item %d: %v", items, err)
				}
				if item.LFNumber <= prev {
					t.Fatalf("not ordered by lf_number at %d", items)
				}
				prev = item.LFNumber
				items++
			}
			if _, err := dec.Token(); err != nil {
				t.Fatal(err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
	}
	if count != 50_000 || items != 50_000 {
		t.Fatalf("count %d, items %d", count, items)
	}
}

func TestTouch(t *testing.T) {
	now := time.Unix(1722500000, 0) // equal to the fixture's last_modified: the clock "has not moved"
	var mu sync.Mutex
	s, base := fixture(t, fakelibris.Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	lm := func() int64 {
		r, _ := s.Get("Abc-240801-0001")
		v, _ := strconv.ParseInt(r.LastModified, 10, 64)
		return v
	}
	before := lm()
	if !s.Touch("Abc-240801-0001", nil) || lm() != before+1 {
		t.Fatalf("nil change: %d → %d, want +1", before, lm())
	}
	if !s.Touch("Abc-240801-0001", func(r *fakelibris.Request) {
		r.Status, r.StatusCode = "Levererad", "10"
		r.LastModified = "5" // lower than before: ignored
		r.LFNumber = "Abc-999999-0001"
	}) || lm() != before+2 {
		t.Fatalf("second touch: %d, want %d", lm(), before+2)
	}
	if r, _ := s.Get("Abc-240801-0001"); r.Status != "Levererad" {
		t.Fatalf("change not applied: %+v", r)
	}
	if _, ok := s.Get("Abc-999999-0001"); ok || s.Len() != 6 {
		t.Fatal("Touch re-keyed the request")
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	s.Touch("Abc-240801-0001", nil)
	if lm() != now.Unix() {
		t.Fatalf("with a later clock: %d, want %d", lm(), now.Unix())
	}
	if s.Touch("Abc-000000-0000", nil) {
		t.Fatal("Touch of an unknown request returned true")
	}
	// A status change does not move the request out of its order-date window.
	_, body := get(t, base+"/illrequests/Abc/outgoing?start_date=2024-08-01&end_date=2024-08-01", key)
	if e := decode(t, body); lfs(e) != "Abc-240801-0001 Abc-240801-0002" || e.ILLRequests[0].Status != "Levererad" {
		t.Fatalf("window after Touch: %+v", e)
	}
	// A mutation of a Get copy does not reach the store.
	r, _ := s.Get("Abc-240801-0001")
	r.Status = "Makulerad"
	if r2, _ := s.Get("Abc-240801-0001"); r2.Status != "Levererad" {
		t.Fatal("Get returned shared state")
	}
}

func TestPutReplaceDeleteAndOrderDate(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	r := req("Abc", "Abc-240801-0001", "555") // new request_id for the same lf_number
	s.Put(r)
	if s.Len() != 6 {
		t.Fatalf("Len %d after replace", s.Len())
	}
	if resp, _ := get(t, base+"/illrequests/Abc/101", key); resp.StatusCode != 404 {
		t.Fatal("old request_id still resolves")
	}
	if resp, _ := get(t, base+"/illrequests/Abc/555", key); resp.StatusCode != 200 {
		t.Fatal("new request_id does not resolve")
	}
	odd := req("Abc", "ODD-1", "556")
	odd.OrderDate = day(2024, 8, 1)
	s.Put(odd, fakelibris.Request{}) // the second has no lf_number: ignored
	if s.Len() != 7 {
		t.Fatalf("Len %d", s.Len())
	}
	_, body := get(t, base+"/illrequests/Abc/outgoing?start_date=2024-08-01&end_date=2024-08-01", key)
	if got := lfs(decode(t, body)); got != "Abc-240801-0001 Abc-240801-0002 ODD-1" {
		t.Fatalf("got %q", got)
	}
	if !s.Delete("ODD-1") || s.Delete("ODD-1") || s.Len() != 6 {
		t.Fatal("Delete")
	}
}

func TestFaultStatus(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	s.Inject(fakelibris.Fault{Match: "/outgoing", Times: 2, Status: 503})
	url := base + "/illrequests/Abc/outgoing?start_date=2024-08-01&end_date=2024-08-01"
	for i, want := range []int{503, 503, 200} {
		resp, body := get(t, url, key)
		if resp.StatusCode != want {
			t.Fatalf("call %d: status %d, want %d", i, resp.StatusCode, want)
		}
		if want == 503 && (len(body) == 0 || json.Valid(body)) {
			t.Fatalf("503 body %q, want short text", body)
		}
	}
	// The fault did not touch other paths.
	s.Inject(fakelibris.Fault{Match: "/outgoing", Status: 500})
	if resp, _ := get(t, base+"/illrequests/Abc/Abc-240801-0001", key); resp.StatusCode != 200 {
		t.Fatalf("single affected by an outgoing fault: %d", resp.StatusCode)
	}
	if got := s.Calls("/outgoing"); got != 3 {
		t.Fatalf("Calls(/outgoing) = %d, want 3", got)
	}
	if got := s.Calls(""); got != 4 {
		t.Fatalf("Calls() = %d, want 4", got)
	}
	// Times 0 lasts until ClearFaults.
	for i := 0; i < 3; i++ {
		if resp, _ := get(t, url, key); resp.StatusCode != 500 {
			t.Fatalf("permanent fault call %d: %d", i, resp.StatusCode)
		}
	}
	s.ClearFaults()
	if resp, _ := get(t, url, key); resp.StatusCode != 200 {
		t.Fatalf("after ClearFaults: %d", resp.StatusCode)
	}
	// 401/403 faults answer an empty body even with a valid key; odd codes become 500.
	for _, tc := range []struct{ status, want int }{{401, 401}, {403, 403}, {429, 429}, {99, 500}, {1000, 500}} {
		s.Inject(fakelibris.Fault{Times: 1, Status: tc.status})
		resp, body := get(t, url, key)
		if resp.StatusCode != tc.want || (tc.want < 404 && len(body) != 0) {
			t.Fatalf("Status %d: got %d %q", tc.status, resp.StatusCode, body)
		}
	}
}

func TestFaultQueueOrder(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	s.Inject(fakelibris.Fault{Times: 1, Status: 502})
	s.Inject(fakelibris.Fault{Times: 1, Status: 504})
	url := base + "/illrequests/Abc/Abc-240801-0001"
	for i, want := range []int{502, 504, 200} {
		if resp, _ := get(t, url, key); resp.StatusCode != want {
			t.Fatalf("call %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
}

func TestFaultDelay(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	url := base + "/illrequests/Abc/Abc-240801-0001"

	s.Inject(fakelibris.Fault{Times: 1, Delay: 50 * time.Millisecond})
	start := time.Now()
	if resp, _ := get(t, url, key); resp.StatusCode != 200 || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("delayed call: %d after %v", resp.StatusCode, time.Since(start))
	}

	// A client deadline shorter than the delay ends the call; the server does not hang on.
	s.Inject(fakelibris.Fault{Times: 1, Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rq, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	rq.Header.Set("api-key", key)
	_, err := http.DefaultClient.Do(rq)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want deadline exceeded", err)
	}
	// The hour-long fault was used up by the cancelled call.
	if resp, _ := get(t, url, key); resp.StatusCode != 200 {
		t.Fatalf("after the cancelled call: %d", resp.StatusCode)
	}
}

func TestFaultNonJSON(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	s.Inject(fakelibris.Fault{Times: 1, NonJSON: true})
	resp, body := get(t, base+"/illrequests/Abc/outgoing?start_date=2024-08-01&end_date=2024-08-01", key)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var e envelope
	if err := json.Unmarshal(body, &e); err == nil {
		t.Fatal("HTML body decoded as JSON")
	}
}

func TestFaultTruncate(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	s.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 1, Count: 200, From: day(2024, 8, 1), To: day(2024, 8, 1)})...)
	for _, path := range []string{
		"/illrequests/Abc/outgoing?start_date=2024-08-01&end_date=2024-08-01",
		"/illrequests/Abc/Abc-240801-0001",
		"/libraries/Abc/Abc",
	} {
		t.Run(path, func(t *testing.T) {
			s.Inject(fakelibris.Fault{Times: 1, Truncate: true})
			rq, _ := http.NewRequest(http.MethodGet, base+path, nil)
			rq.Header.Set("api-key", key)
			resp, err := http.DefaultClient.Do(rq)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			var e map[string]any
			err = json.NewDecoder(resp.Body).Decode(&e)
			if err == nil {
				t.Fatal("truncated body decoded")
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Logf("decode error: %v", err)
			}
		})
	}
	// And the next call is whole again.
	resp, body := get(t, base+"/illrequests/Abc/outgoing?start_date=2024-08-01&end_date=2024-08-01", key)
	if e := decode(t, body); resp.StatusCode != 200 || e.Count != 200 { // Generate replaced the fixture's two 2024-08-01 requests
		t.Fatalf("after truncation: %d, count %d", resp.StatusCode, e.Count)
	}
}

func TestFaultChurn(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	s.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 5, Count: 100, From: day(2024, 9, 1), To: day(2024, 9, 10)})...)
	url := base + "/illrequests/Abc/outgoing?start_date=2024-07-01&end_date=2024-09-30"
	snapshot := func() map[string]int64 {
		_, body := get(t, url, key)
		out := map[string]int64{}
		for _, r := range decode(t, body).ILLRequests {
			out[r.LFNumber], _ = strconv.ParseInt(r.LastModified, 10, 64)
		}
		return out
	}
	before := snapshot()
	xyzBefore, _ := s.Get("Xyz-240801-0001")
	s.Inject(fakelibris.Fault{Times: 1, Churn: 10})
	after := snapshot() // churned before this answer
	changed := 0
	for lf, lm := range after {
		switch {
		case lm > before[lf]:
			changed++
		case lm < before[lf]:
			t.Fatalf("%s: last_modified went down", lf)
		}
	}
	if changed != 10 {
		t.Fatalf("%d requests changed, want 10", changed)
	}
	if x, _ := s.Get("Xyz-240801-0001"); x.LastModified != xyzBefore.LastModified {
		t.Fatal("churn touched another sigel's request")
	}
	if again := snapshot(); len(again) != len(after) {
		t.Fatal("churn changed the set")
	}
}

func TestFaultLate(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	late := req("Abc", "Abc-240801-0003", "105")
	s.Inject(fakelibris.Fault{Times: 1, Match: "outgoing", Late: []fakelibris.Request{late}})
	late.Status = "mutated after Inject" // must not reach the store
	url := base + "/illrequests/Abc/outgoing?start_date=2024-08-01&end_date=2024-08-01"
	if _, ok := s.Get("Abc-240801-0003"); ok {
		t.Fatal("late request present before the call")
	}
	_, body := get(t, url, key)
	e := decode(t, body)
	if got := lfs(e); got != "Abc-240801-0001 Abc-240801-0002 Abc-240801-0003" {
		t.Fatalf("got %q", got)
	}
	if e.ILLRequests[2].Status != "Läst" {
		t.Fatalf("late request status %q", e.ILLRequests[2].Status)
	}
}

// TestConcurrentUse exercises the locks under -race: readers stream while writers Put and Touch.
func TestConcurrentUse(t *testing.T) {
	s, base := fixture(t, fakelibris.Options{})
	s.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: 2, Count: 100, From: day(2024, 8, 1), To: day(2024, 8, 5)})...)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				rq, _ := http.NewRequest(http.MethodGet, base+"/illrequests/Abc/outgoing?start_date=2024-08-01&end_date=2024-08-05", nil)
				rq.Header.Set("api-key", key)
				resp, err := http.DefaultClient.Do(rq)
				if err != nil {
					t.Error(err)
					return
				}
				var e envelope
				if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Count != len(e.ILLRequests) {
					t.Errorf("decode: %v, count %d items %d", err, e.Count, len(e.ILLRequests))
				}
				resp.Body.Close()
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				s.Touch("Abc-240801-0001", func(r *fakelibris.Request) {
					if len(r.Recipients) > 0 {
						r.Recipients[0].Response = "Utlånad" // must not reach a response being encoded
					}
					r.Recipients = append(r.Recipients[:min(len(r.Recipients), 2)], fakelibris.Recipient{LibraryCode: "Xyz"})
					if r.ArrivalDate != nil {
						*r.ArrivalDate = "2024-08-09"
					}
				})
				s.Put(req("Abc", "Abc-240802-9"+strconv.Itoa(i), strconv.Itoa(9000+i)))
				s.Inject(fakelibris.Fault{Times: 1, Churn: 3})
				_ = s.Calls("outgoing")
			}
		}()
	}
	wg.Wait()
}
