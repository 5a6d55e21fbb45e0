package libris

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/external/httpcall"
)

func TestNewValidates(t *testing.T) {
	ok := Config{BaseURL: "https://iller.libris.kb.se/librisfjarrlan/api/", Sigel: "Abc", APIKey: testKey}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string // substring of the error; "" for success
	}{
		{"valid", func(*Config) {}, ""},
		{"valid http", func(c *Config) { c.BaseURL = "http://localhost:8080/api" }, ""},
		{"empty base", func(c *Config) { c.BaseURL = "" }, "base URL"},
		{"relative base", func(c *Config) { c.BaseURL = "/librisfjarrlan/api" }, "absolute http or https"},
		{"ftp base", func(c *Config) { c.BaseURL = "ftp://example.org/api" }, "absolute http or https"},
		{"credentials in base", func(c *Config) { c.BaseURL = "https://u:" + testKey + "@example.org/api" }, "credentials"},
		{"query in base", func(c *Config) { c.BaseURL = "https://example.org/api?x=1" }, "query"},
		{"bad base", func(c *Config) { c.BaseURL = "https://exa mple.org/%zz" }, "base URL"},
		{"empty sigel", func(c *Config) { c.Sigel = "" }, "sigel"},
		{"spaced sigel", func(c *Config) { c.Sigel = " Abc" }, "sigel"},
		{"dot sigel", func(c *Config) { c.Sigel = ".." }, "sigel"},
		{"key with newline", func(c *Config) { c.APIKey = testKey + "\n" }, "control characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mod(&cfg)
			c, err := New(cfg)
			noKey(t, err)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if strings.HasSuffix(c.base, "/") {
					t.Errorf("base %q keeps a trailing slash", c.base)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	c, err := New(Config{BaseURL: "https://example.org/api", Sigel: "Abc"})
	if err != nil {
		t.Fatal(err)
	}
	if c.chunkDays != 7 || c.loop.MaxAttempts != 4 || c.loop.BaseBackoff != 500*time.Millisecond || c.loop.MaxBackoff != 10*time.Second || c.idle != time.Minute {
		t.Errorf("defaults = %d days, %d attempts, %s..%s, idle %s", c.chunkDays, c.loop.MaxAttempts, c.loop.BaseBackoff, c.loop.MaxBackoff, c.idle)
	}
	if c.hc.Timeout != 0 {
		t.Errorf("default client has an overall Timeout %s, which would cut long answers", c.hc.Timeout)
	}
	tr, ok := c.hc.Transport.(interface{ Unwrap() http.RoundTripper })
	if !ok {
		t.Fatalf("the client's calls are not bounded (httpcall.Bounded): %T", c.hc.Transport)
	}
	if _, ok := tr.Unwrap().(*otelhttp.Transport); !ok {
		t.Errorf("default transport is not traced: %T", tr.Unwrap())
	}
	if tr := httpcall.Transport(nil); tr.ResponseHeaderTimeout == 0 || tr.TLSHandshakeTimeout == 0 {
		t.Errorf("default transport lacks phase timeouts: %#v", tr)
	}
}

func TestFetchChunksWindowAndSendsKey(t *testing.T) {
	hs := newHarness(t, emptyOK, func(c *Config) { c.ChunkDays = 7 })
	if _, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-20")); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"start_date=2025-03-01&end_date=2025-03-07",
		"start_date=2025-03-08&end_date=2025-03-14",
		"start_date=2025-03-15&end_date=2025-03-20",
	}
	if hs.rec.n() != len(want) {
		t.Fatalf("%d calls, want %d", hs.rec.n(), len(want))
	}
	for i, q := range want {
		r := hs.rec.get(i)
		if r.Method != http.MethodGet || r.URL.Path != basePath+"/illrequests/Abc/outgoing" || r.URL.RawQuery != q {
			t.Errorf("call %d = %s %s?%s, want GET %s/illrequests/Abc/outgoing?%s", i, r.Method, r.URL.Path, r.URL.RawQuery, basePath, q)
		}
		if got := r.Header.Get("api-key"); got != testKey {
			t.Errorf("call %d api-key = %q", i, got)
		}
		if got := r.Header.Get("Accept"); got != "application/json" {
			t.Errorf("call %d Accept = %q", i, got)
		}
	}
}

func TestFetchZeroPadsAndSingleDay(t *testing.T) {
	hs := newHarness(t, emptyOK, nil)
	if _, err := hs.fetch(context.Background(), window("2025-01-05", "2025-01-05")); err != nil {
		t.Fatal(err)
	}
	if hs.rec.n() != 1 || hs.rec.get(0).URL.RawQuery != "start_date=2025-01-05&end_date=2025-01-05" {
		t.Fatalf("calls = %d, query %q", hs.rec.n(), hs.rec.get(0).URL.RawQuery)
	}
}

func TestFetchRejectsInvalidWindow(t *testing.T) {
	hs := newHarness(t, emptyOK, nil)
	for _, w := range []connector.Window{
		window("2025-03-02", "2025-03-01"),
		{},
		{From: connector.Day{Year: 2025, Month: 2, Day: 30}, To: day("2025-03-01")},
	} {
		if _, err := hs.fetch(context.Background(), w); err == nil {
			t.Errorf("Fetch(%s) succeeded", w)
		}
	}
	if hs.rec.n() != 0 {
		t.Errorf("%d calls for invalid windows", hs.rec.n())
	}
}

func TestSigelCaseKeptAndPathEscaped(t *testing.T) {
	for _, tc := range []struct{ sigel, wantPath string }{
		{"Abc", basePath + "/illrequests/Abc/outgoing"},
		{"aBC", basePath + "/illrequests/aBC/outgoing"},
		{"Gö", basePath + "/illrequests/G%C3%B6/outgoing"},
		{"A/b c", basePath + "/illrequests/A%2Fb%20c/outgoing"},
	} {
		t.Run(tc.sigel, func(t *testing.T) {
			hs := newHarness(t, emptyOK, func(c *Config) { c.Sigel = tc.sigel })
			if _, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-01")); err != nil {
				t.Fatal(err)
			}
			if got := hs.rec.get(0).URL.EscapedPath(); got != tc.wantPath {
				t.Errorf("path = %s, want %s", got, tc.wantPath)
			}
		})
	}
}

func TestFetchReferenceExample(t *testing.T) {
	body := exampleJSON(t)
	hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ int) { serveJSON(w, 200, body) }, nil)
	got, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-02"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	r := got[0]
	if r.Problem != "" || len(r.Warnings) != 0 {
		t.Fatalf("problem %q, warnings %q", r.Problem, r.Warnings)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"ExternalID", r.ExternalID, "Abc-250301-0007"},
		{"ExternalRequestID", r.ExternalRequestID, "8123456"},
		{"StatusRaw", r.StatusRaw, "Läst"},
		{"Status", r.Status, requestsv1.Status_STATUS_REQUEST_SENT},
		{"LastModified", r.LastModified, time.Unix(1740826800, 0).UTC()},
		{"OrderDay", r.OrderDay, connector.Day{Year: 2025, Month: 3, Day: 1}},
		{"RequestingLibrary", r.RequestingLibrary, "Abc"},
		{"PickupLibrary", r.PickupLibrary, "Abc"},
		{"Lender", r.Lender, "Xyz"},
		{"Rota", fmt.Sprint(r.Rota), fmt.Sprint([]connector.RotaEntry{{Code: "Xyz", Active: true}, {Code: "Qrs"}})},
		{"Media", r.Media, requestsv1.Media_MEDIA_LOAN},
		{"Format", r.Format, requestsv1.Format_FORMAT_PHYSICAL},
		{"Title", r.Bibliographic.GetTitle(), "En exempelbok : om fjärrlån"},
		{"Author", r.Bibliographic.GetAuthor(), "Exempelsson, Eva"},
		{"Isbn", r.Bibliographic.GetIsbn(), "9789100000001"},
		{"Issn", r.Bibliographic.GetIssn(), ""},
		{"Publisher", r.Bibliographic.GetPublisher(), "Exempelförlaget"},
		{"Place", r.Bibliographic.GetPlaceOfPublication(), "Stockholm"},
		{"Year", r.Bibliographic.GetYear(), "2019"},
		{"Pages", r.Bibliographic.GetPages(), ""},
		{"ExternalRecordId", r.Bibliographic.GetExternalRecordId(), "12345678"},
		{"PatronID", r.PatronID, "1234567890"},
		{"PatronName", r.PatronName, "Person, Test"},
		{"PatronApproved", r.PatronApproved, false},
		{"Note", r.Note, ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestFetchEnvelopeVariants(t *testing.T) {
	one := string(envelopeJSON(nil, item("Abc-250301-0001", nil)))
	itemJSON := one[strings.Index(one, `[`)+1 : strings.LastIndex(one, `]`)]
	for _, tc := range []struct {
		name  string
		body  string
		items int
	}{
		{"count number", `{"count":1,"ill_requests":[` + itemJSON + `]}`, 1},
		{"count string", `{"count":"1","ill_requests":[` + itemJSON + `]}`, 1},
		{"count float", `{"count":2.0,"ill_requests":[` + itemJSON + `,` + itemJSON + `]}`, 2},
		{"count after items", `{"ill_requests":[` + itemJSON + `],"count":"1"}`, 1},
		{"count absent", `{"ill_requests":[` + itemJSON + `]}`, 1},
		{"count null", `{"count":null,"ill_requests":[` + itemJSON + `]}`, 1},
		{"unknown fields everywhere", `{"x":{"a":[1,{"b":null}],"c":"d"},"data_source":"librisfjarrlan","ill_requests":[` + itemJSON + `],"y":[[]],"z":true,"count":1}`, 1},
		{"empty", `{"data_source":"librisfjarrlan","count":0,"ill_requests":[]}`, 0},
		{"null items", `{"count":0,"ill_requests":null}`, 0},
		{"count only zero", `{"count":"0"}`, 0},
		{"trailing whitespace", "{\"count\":0,\"ill_requests\":[]}\n\r\n  ", 0},
		{"BOM-less unicode keys", `{"ill_requests":[],"läst":"å"}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ int) { serveJSON(w, 200, []byte(tc.body)) }, nil)
			got, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-01"))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.items {
				t.Fatalf("%d requests, want %d", len(got), tc.items)
			}
			for _, r := range got {
				if r.Problem != "" {
					t.Errorf("problem: %s", r.Problem)
				}
			}
		})
	}
}

func TestFetchGarbage(t *testing.T) {
	two := envelopeJSON(2, item("Abc-250301-0001", nil), item("Abc-250301-0002", nil))
	for _, tc := range []struct {
		name    string
		ctype   string
		body    string
		visited int
		want    string
	}{
		{"count mismatch", "application/json", string(envelopeJSON(3, item("Abc-250301-0001", nil), item("Abc-250301-0002", nil))), 2, "announced 3 requests for outgoing 2025-03-01..2025-03-07 but sent 2"},
		{"count string mismatch", "application/json", `{"count":"1","ill_requests":[]}`, 0, "announced 1"},
		{"count not a number", "application/json", `{"count":"many","ill_requests":[]}`, 0, `count "many"`},
		{"count negative", "application/json", `{"count":-1,"ill_requests":[]}`, 0, `count "-1"`},
		{"count object", "application/json", `{"count":{},"ill_requests":[]}`, 0, "count"},
		{"truncated mid item", "application/json", string(two[:len(two)-40]), 1, "ended early"},
		{"truncated after items", "application/json", `{"count":2,"ill_requests":[]`, 0, "ended early"},
		{"html", "text/html; charset=utf-8", "<!DOCTYPE html><html><body>Service down</body></html>", 0, "Libris answered a body that is not JSON (text/html) for outgoing 2025-03-01..2025-03-07"},
		{"empty body", "application/json", "", 0, "an empty body"},
		{"array", "application/json", `[]`, 0, "not an object"},
		{"no items", "application/json", `{"error":"nope"}`, 0, "without ill_requests or count"},
		{"items object", "application/json", `{"ill_requests":{}}`, 0, "ill_requests is"},
		{"trailing data", "application/json", `{"count":0,"ill_requests":[]}{"count":0}`, 0, "more data after the envelope"},
		{"bad syntax in item", "application/json", `{"ill_requests":[{"lf_number":"x",}]}`, 0, "malformed JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Content-Type", tc.ctype)
				_, _ = w.Write([]byte(tc.body))
			}, nil)
			got, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-07"))
			ce := wantKind(t, err, connector.KindGarbage)
			if !strings.Contains(ce.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", ce.Error(), tc.want)
			}
			if len(got) != tc.visited {
				t.Errorf("visited %d, want %d", len(got), tc.visited)
			}
			if hs.rec.n() != 1 {
				t.Errorf("garbage was retried: %d calls", hs.rec.n())
			}
		})
	}
}

func TestFetchAuthNotRetried(t *testing.T) {
	for _, code := range []int{401, 403} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(code) }, nil)
			_, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-20"))
			ce := wantKind(t, err, connector.KindAuth)
			want := fmt.Sprintf("Libris refused the API key for library Abc (HTTP %d", code)
			if !strings.Contains(ce.Message, want) {
				t.Errorf("message %q, want it to contain %q", ce.Message, want)
			}
			if hs.rec.n() != 1 || len(hs.slept()) != 0 {
				t.Errorf("%d calls and %d sleeps, want 1 and 0", hs.rec.n(), len(hs.slept()))
			}
		})
	}
}

func TestFetchAuthWithoutKey(t *testing.T) {
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if _, ok := r.Header["Api-Key"]; ok {
			t.Errorf("api-key header sent though no key is configured")
		}
		w.WriteHeader(401)
	}, func(c *Config) { c.APIKey = "" })
	_, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-01"))
	ce := wantKind(t, err, connector.KindAuth)
	if !strings.Contains(ce.Message, "no API key is configured") {
		t.Errorf("message %q", ce.Message)
	}
}

func TestFetchRetriesThenSucceeds(t *testing.T) {
	body := envelopeJSON(1, item("Abc-250301-0001", nil))
	hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, call int) {
		if call <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		serveJSON(w, 200, body)
	}, func(c *Config) { c.BaseBackoff, c.MaxBackoff = ms(500), ms(800) })
	got, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-01"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || hs.rec.n() != 3 {
		t.Fatalf("%d requests after %d calls, want 1 after 3", len(got), hs.rec.n())
	}
	sl := hs.slept()
	if len(sl) != 2 {
		t.Fatalf("sleeps %v, want 2", sl)
	}
	if !(sl[1] > sl[0]) {
		t.Errorf("backoff did not grow: %v", sl)
	}
	for _, d := range sl {
		if d > ms(800) {
			t.Errorf("backoff %s above MaxBackoff", d)
		}
	}
	if sl[0] != ms(500) || sl[1] != ms(800) {
		t.Errorf("backoffs %v, want [500ms 800ms] (capped) with maximal jitter", sl)
	}
}

func TestFetchUnreachableAfterMaxAttempts(t *testing.T) {
	hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		http.Error(w, "boom "+testKey, http.StatusInternalServerError)
	}, nil)
	_, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-20"))
	ce := wantKind(t, err, connector.KindUnreachable)
	for _, want := range []string{"after 4 attempts", "HTTP 500", "outgoing 2025-03-01..2025-03-07"} {
		if !strings.Contains(ce.Message, want) {
			t.Errorf("message %q lacks %q", ce.Message, want)
		}
	}
	if hs.rec.n() != 4 {
		t.Errorf("%d calls, want 4 (the later chunks are not tried)", hs.rec.n())
	}
	sl := hs.slept()
	want := []time.Duration{ms(500), ms(1000), ms(2000)}
	if fmt.Sprint(sl) != fmt.Sprint(want) {
		t.Errorf("sleeps %v, want %v", sl, want)
	}
}

func TestFetchRetryAfter(t *testing.T) {
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request, call int) {
		if call == 1 {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if call == 2 {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		emptyOK(w, r, call)
	}, nil)
	c := hs.c
	c.loop.Jitter = func(int64) int64 { return 0 }
	if _, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-01")); err != nil {
		t.Fatal(err)
	}
	if sl := hs.slept(); fmt.Sprint(sl) != fmt.Sprint([]time.Duration{3 * time.Second, 10 * time.Second}) {
		t.Errorf("sleeps %v, want [3s 10s] (Retry-After, capped at MaxBackoff)", sl)
	}
}

func TestBackoffFullJitterBounds(t *testing.T) {
	c, err := New(Config{BaseURL: "https://example.org/api", Sigel: "Abc", BaseBackoff: ms(100), MaxBackoff: ms(1500)})
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 40; n++ {
		ceil := min(ms(100)<<min(n-1, 20), ms(1500))
		for range 50 {
			if d := c.loop.Backoff(n, 0); d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %s outside [0, %s]", n, d, ceil)
			}
		}
	}
}

func TestFetchOther4xxIsGarbageWithSnippet(t *testing.T) {
	long := "<html><head><title>Bad</title></head><body><h1>Ogiltigt datumintervall</h1><p>" +
		strings.Repeat("för långt intervall ", 30) + "key=" + testKey + "</p>\x00\x07</body></html>"
	hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(long))
	}, nil)
	_, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-07"))
	ce := wantKind(t, err, connector.KindGarbage)
	if !strings.Contains(ce.Message, "HTTP 400 Bad Request for outgoing 2025-03-01..2025-03-07") || !strings.Contains(ce.Message, "Ogiltigt datumintervall") {
		t.Errorf("message %q", ce.Message)
	}
	if strings.Contains(ce.Message, "<") || strings.ContainsAny(ce.Message, "\x00\x07") {
		t.Errorf("snippet not sanitised: %q", ce.Message)
	}
	if hs.rec.n() != 1 {
		t.Errorf("%d calls, want 1", hs.rec.n())
	}
	if sn := hs.c.snippet([]byte(long), "text/html"); len(sn) > httpcall.MaxSnippet+len("…") {
		t.Errorf("snippet is %d bytes", len(sn))
	}
	if sn := hs.c.snippet([]byte("x"+testKey+"y"), ""); strings.Contains(sn, testKey) {
		t.Errorf("snippet %q leaks the key", sn)
	}
}

// hijackAndClose drops the connection without answering: a network failure.
func hijackAndClose(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	_ = conn.Close()
}

func TestFetchNetworkErrors(t *testing.T) {
	good := envelopeJSON(2, item("Abc-250301-0001", nil), item("Abc-250301-0002", nil))
	t.Run("reset before answer is retried", func(t *testing.T) {
		hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, call int) {
			if call == 1 {
				hijackAndClose(t, w)
				return
			}
			serveJSON(w, 200, good)
		}, nil)
		got, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-01"))
		if err != nil || len(got) != 2 || hs.rec.n() != 2 {
			t.Fatalf("err %v, %d requests, %d calls", err, len(got), hs.rec.n())
		}
	})
	t.Run("break before the first item is retried", func(t *testing.T) {
		hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, call int) {
			if call == 1 {
				w.Header().Set("Content-Length", fmt.Sprint(len(good)))
				_, _ = w.Write(good[:20])
				return // the server closes a short Content-Length body: unexpected EOF
			}
			serveJSON(w, 200, good)
		}, nil)
		got, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-01"))
		if err != nil || len(got) != 2 || hs.rec.n() != 2 {
			t.Fatalf("err %v, %d requests, %d calls", err, len(got), hs.rec.n())
		}
	})
	t.Run("break mid-stream is not retried", func(t *testing.T) {
		cut := strings.Index(string(good), "Abc-250301-0002")
		hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.Header().Set("Content-Length", fmt.Sprint(len(good)))
			_, _ = w.Write(good[:cut])
		}, nil)
		got, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-01"))
		ce := wantKind(t, err, connector.KindUnreachable)
		if !strings.Contains(ce.Message, "connection to Libris broke") || !strings.Contains(ce.Message, "after 1 requests") {
			t.Errorf("message %q", ce.Message)
		}
		if len(got) != 1 || hs.rec.n() != 1 {
			t.Errorf("%d requests, %d calls; want 1 and 1", len(got), hs.rec.n())
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close()
		var sleeps int
		c, err := New(Config{BaseURL: base, Sigel: "Abc", APIKey: testKey, MaxAttempts: 3,
			Sleep: func(context.Context, time.Duration) error { sleeps++; return nil }})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Fetch(context.Background(), window("2025-03-01", "2025-03-01"), func(*connector.Request) error { return nil })
		ce := wantKind(t, err, connector.KindUnreachable)
		if !strings.Contains(ce.Message, "after 3 attempts (last: network error)") || sleeps != 2 {
			t.Errorf("message %q after %d sleeps", ce.Message, sleeps)
		}
	})
}

func TestFetchStalledBody(t *testing.T) {
	good := envelopeJSON(2, item("Abc-250301-0001", nil), item("Abc-250301-0002", nil))
	cut := strings.Index(string(good), "Abc-250301-0002")
	for _, tc := range []struct {
		name          string
		prefix        []byte
		calls, items  int
		wantInMessage string
	}{
		{"after an item", good[:cut], 1, 1, "stopped sending"},
		{"before any item", good[:10], 2, 0, "after 2 attempts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(tc.prefix)
				http.NewResponseController(w).Flush()
				<-r.Context().Done()
			}, func(c *Config) { c.ReadIdleTimeout = ms(250); c.MaxAttempts = 2 })
			got, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-01"))
			ce := wantKind(t, err, connector.KindUnreachable)
			if !strings.Contains(ce.Error(), tc.wantInMessage) {
				t.Errorf("message %q lacks %q", ce.Error(), tc.wantInMessage)
			}
			if len(got) != tc.items || hs.rec.n() != tc.calls {
				t.Errorf("%d requests in %d calls, want %d in %d", len(got), hs.rec.n(), tc.items, tc.calls)
			}
		})
	}
}

// TestFetchSlowVisitIsNotIdle: time the caller spends in visit (resolving codes, ingesting
// a batch) is not Libris being silent, so a visit longer than ReadIdleTimeout must not
// abort an answer that keeps flowing.
func TestFetchSlowVisitIsNotIdle(t *testing.T) {
	const n = 4
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = item(fmt.Sprintf("Abc-250301-%04d", i+1), nil)
	}
	body := envelopeJSON(n, items...)
	hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		// Sent in small flushed pieces with short gaps, so the decoder has to go back
		// to the network after the slow visit; each gap is well under the idle timeout.
		w.Header().Set("Content-Type", "application/json")
		rc := http.NewResponseController(w)
		for rest := body; len(rest) > 0; {
			k := min(len(rest), 64)
			_, _ = w.Write(rest[:k])
			_ = rc.Flush()
			rest = rest[k:]
			time.Sleep(ms(5))
		}
	}, func(c *Config) { c.ReadIdleTimeout = ms(200); c.MaxAttempts = 1 })
	var got []string
	err := hs.c.Fetch(context.Background(), window("2025-03-01", "2025-03-01"), func(r *connector.Request) error {
		got = append(got, r.ExternalID)
		if len(got) == 1 {
			time.Sleep(ms(500))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Fetch with a slow visit: %v", err)
	}
	if len(got) != n || hs.rec.n() != 1 {
		t.Errorf("%d requests in %d calls, want %d in 1", len(got), hs.rec.n(), n)
	}
}

func TestFetchContextCancel(t *testing.T) {
	t.Run("while waiting for the answer", func(t *testing.T) {
		started := make(chan struct{})
		hs := newHarness(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			close(started)
			<-r.Context().Done()
		}, nil)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-started; cancel() }()
		_, err := hs.fetch(ctx, window("2025-03-01", "2025-03-20"))
		if !errors.Is(err, context.Canceled) || connector.KindOf(err) != 0 {
			t.Fatalf("err = %v, want context.Canceled and no connector kind", err)
		}
		noKey(t, err)
		if hs.rec.n() != 1 {
			t.Errorf("%d calls after cancel", hs.rec.n())
		}
	})
	t.Run("during backoff", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(503) },
			func(c *Config) {
				c.Sleep = func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() }
			})
		_, err := hs.fetch(ctx, window("2025-03-01", "2025-03-01"))
		if !errors.Is(err, context.Canceled) || hs.rec.n() != 1 {
			t.Fatalf("err = %v after %d calls", err, hs.rec.n())
		}
		noKey(t, err)
	})
	t.Run("mid-stream in visit", func(t *testing.T) {
		body := envelopeJSON(2, item("Abc-250301-0001", nil), item("Abc-250301-0002", nil))
		hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ int) { serveJSON(w, 200, body) }, nil)
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		err := hs.c.Fetch(ctx, window("2025-03-01", "2025-03-20"), func(*connector.Request) error {
			n++
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) || hs.rec.n() != 1 {
			t.Fatalf("err = %v after %d calls, %d visits", err, hs.rec.n(), n)
		}
		noKey(t, err)
	})
	t.Run("default sleep honours ctx", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := connector.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
			t.Fatalf("connector.Sleep = %v", err)
		}
	})
}

func TestFetchVisitErrorReturnedAsIs(t *testing.T) {
	body := envelopeJSON(2, item("Abc-250301-0001", nil), item("Abc-250301-0002", nil))
	hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ int) { serveJSON(w, 200, body) }, nil)
	stop := errors.New("ledger says stop")
	n := 0
	err := hs.c.Fetch(context.Background(), window("2025-03-01", "2025-03-20"), func(*connector.Request) error {
		n++
		return stop
	})
	if err != stop || n != 1 || hs.rec.n() != 1 {
		t.Fatalf("err = %v, %d visits, %d calls", err, n, hs.rec.n())
	}
}

// TestFetchVisitsInOrderAndStopsAtAFailure: items are mapped while the answer is read
// on, yet visit sees them one at a time in the answer's order, and none after a visit
// fails, however many were read ahead.
func TestFetchVisitsInOrderAndStopsAtAFailure(t *testing.T) {
	const total = 5 * mapAhead
	items := make([]map[string]any, total)
	for i := range items {
		items[i] = item(fmt.Sprintf("Abc-250301-%04d", i+1), nil)
	}
	body := envelopeJSON(total, items...)
	stop := errors.New("ledger says stop")
	for _, tc := range []struct {
		name   string
		failAt int // 1-based visit that fails; 0 none
	}{{"all", 0}, {"the third", 3}, {"past the read-ahead", 2*mapAhead + 1}} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ int) { serveJSON(w, 200, body) }, nil)
			var seen []string
			err := hs.c.Fetch(context.Background(), window("2025-03-01", "2025-03-01"), func(r *connector.Request) error {
				seen = append(seen, r.ExternalID)
				if len(seen) == tc.failAt {
					return stop
				}
				return nil
			})
			want := total
			if tc.failAt > 0 {
				want = tc.failAt
				if err != stop {
					t.Fatalf("err = %v, want the visit's own error", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(seen) != want {
				t.Fatalf("%d visits, want %d", len(seen), want)
			}
			for i, id := range seen {
				if wantID := fmt.Sprintf("Abc-250301-%04d", i+1); id != wantID {
					t.Fatalf("visit %d saw %s, want %s", i, id, wantID)
				}
			}
		})
	}
}

func TestRedirectToOtherHostRefused(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("api-key") != "" {
			t.Errorf("the API key followed a redirect to another host")
		}
		emptyOK(w, r, 0)
	}))
	defer other.Close()
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if strings.HasPrefix(r.URL.Path, "/moved") {
			emptyOK(w, r, 0)
			return
		}
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}, nil)
	_, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-01"))
	ce := wantKind(t, err, connector.KindUnreachable)
	if !strings.Contains(ce.Message, "redirected") {
		t.Errorf("message %q", ce.Message)
	}

	// The same origin is fine.
	same := newHarness(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if strings.HasPrefix(r.URL.Path, "/moved") {
			if r.Header.Get("api-key") != testKey {
				t.Errorf("api-key lost on a same-origin redirect")
			}
			emptyOK(w, r, 0)
			return
		}
		http.Redirect(w, r, "/moved"+r.URL.Path, http.StatusMovedPermanently)
	}, nil)
	if _, err := same.fetch(context.Background(), window("2025-03-01", "2025-03-01")); err != nil {
		t.Fatal(err)
	}
}

func TestFetchLargeChunkedBodyStreams(t *testing.T) {
	// A moderate body written in many flushes: items must reach visit before the body ends.
	const n = 300
	visitedBeforeEnd := make(chan int, 1)
	release := make(chan struct{})
	hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriter(w)
		_, _ = bw.WriteString(`{"ill_requests":[`)
		for i := range n {
			if i > 0 {
				_ = bw.WriteByte(',')
			}
			b := envelopeJSON(nil, item(fmt.Sprintf("Abc-250301-%04d", i), nil))
			s := string(b)
			_, _ = bw.WriteString(s[strings.Index(s, "[")+1 : strings.LastIndex(s, "]")])
		}
		_ = bw.Flush()
		http.NewResponseController(w).Flush()
		<-release // the envelope is not closed until the client has seen items
		_, _ = w.Write([]byte(fmt.Sprintf(`],"count":%d}`, n)))
	}, nil)
	count := 0
	err := hs.c.Fetch(context.Background(), window("2025-03-01", "2025-03-01"), func(*connector.Request) error {
		count++
		if count == n {
			visitedBeforeEnd <- count
			close(release)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := <-visitedBeforeEnd; got != n {
		t.Fatalf("visited %d", got)
	}
}

func TestFetchResponseHeaderTimeoutRetried(t *testing.T) {
	own := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: ms(100)}}
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request, _ int) { <-r.Context().Done() },
		func(c *Config) { c.HTTPClient = own; c.MaxAttempts = 2 })
	_, err := hs.fetch(context.Background(), window("2025-03-01", "2025-03-01"))
	ce := wantKind(t, err, connector.KindUnreachable)
	if !strings.Contains(ce.Message, "after 2 attempts (last: timeout)") || hs.rec.n() != 2 {
		t.Errorf("message %q after %d calls", ce.Message, hs.rec.n())
	}
	if own.CheckRedirect != nil {
		t.Errorf("the caller's client was modified")
	}
}
