package libris

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/interloan/interloan/external/connector"
)

func TestGet(t *testing.T) {
	one := envelopeJSON(1, item("Abc-250301-0007", nil))
	notFound := []byte(`{"data_source":"librisfjarrlan","count":0,"ill_requests":[]}`)
	for _, tc := range []struct {
		name      string
		id        string
		handler   func(w http.ResponseWriter, r *http.Request, call int)
		wantPath  string
		found     bool
		kind      connector.Kind
		wantCalls int
		inMessage string
	}{
		{name: "found by lf_number", id: "Abc-250301-0007",
			handler:  func(w http.ResponseWriter, _ *http.Request, _ int) { serveJSON(w, 200, one) },
			wantPath: basePath + "/illrequests/Abc/Abc-250301-0007", found: true, wantCalls: 1},
		{name: "found by request_id", id: "8123456",
			handler:  func(w http.ResponseWriter, _ *http.Request, _ int) { serveJSON(w, 200, one) },
			wantPath: basePath + "/illrequests/Abc/8123456", found: true, wantCalls: 1},
		{name: "id path-escaped", id: "Abc-250301-0007/../x y",
			handler:  func(w http.ResponseWriter, _ *http.Request, _ int) { serveJSON(w, 404, notFound) },
			wantPath: basePath + "/illrequests/Abc/Abc-250301-0007%2F..%2Fx%20y", wantCalls: 1},
		{name: "not found 200", id: "Abc-250301-0099",
			handler:   func(w http.ResponseWriter, _ *http.Request, _ int) { serveJSON(w, 200, notFound) },
			wantCalls: 1},
		{name: "not found 400", id: "Abc-250301-0099",
			handler:   func(w http.ResponseWriter, _ *http.Request, _ int) { serveJSON(w, 400, notFound) },
			wantCalls: 1},
		{name: "not found 404 count string", id: "Abc-250301-0099",
			handler: func(w http.ResponseWriter, _ *http.Request, _ int) {
				serveJSON(w, 404, []byte(`{"count":"0","ill_requests":[]}`))
			},
			wantCalls: 1},
		// A 404 without the envelope is "not found" (the status and body Libris gives an
		// unknown id are not known for certain); a 400 without it stays a real error answer.
		{name: "404 empty body is not found", id: "Abc-250301-0099",
			handler:   func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(404) },
			wantCalls: 1},
		{name: "404 plain text is not found", id: "Abc-250301-0099",
			handler:   func(w http.ResponseWriter, _ *http.Request, _ int) { http.NotFound(w, nil) },
			wantCalls: 1},
		{name: "404 html is not found", id: "Abc-250301-0099",
			handler: func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(404)
				_, _ = w.Write([]byte("<html><body><h1>Not Found</h1></body></html>"))
			},
			wantCalls: 1},
		{name: "404 JSON error object is not found", id: "Abc-250301-0099",
			handler: func(w http.ResponseWriter, _ *http.Request, _ int) {
				serveJSON(w, 404, []byte(`{"error":"Not Found","status":404}`))
			},
			wantCalls: 1},
		{name: "404 with items is garbage", id: "Abc-250301-0007",
			handler: func(w http.ResponseWriter, _ *http.Request, _ int) { serveJSON(w, 404, one) },
			kind:    connector.KindGarbage, wantCalls: 1, inMessage: "HTTP 404 Not Found for request Abc-250301-0007"},
		{name: "400 empty body is garbage", id: "Abc-250301-0099",
			handler: func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(400) },
			kind:    connector.KindGarbage, wantCalls: 1, inMessage: `HTTP 400 Bad Request for request Abc-250301-0099: ""`},
		{name: "400 plain text is garbage", id: "Abc-250301-0099",
			handler: func(w http.ResponseWriter, _ *http.Request, _ int) {
				http.Error(w, "invalid lf_number", 400)
			},
			kind: connector.KindGarbage, wantCalls: 1, inMessage: `HTTP 400 Bad Request for request Abc-250301-0099: "invalid lf_number"`},
		{name: "400 html is garbage", id: "Abc-250301-0099",
			handler: func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(400)
				_, _ = w.Write([]byte("<html><body><h1>Bad Request</h1></body></html>"))
			},
			kind: connector.KindGarbage, wantCalls: 1, inMessage: `HTTP 400 Bad Request for request Abc-250301-0099: "Bad Request"`},
		{name: "400 with items is garbage", id: "Abc-250301-0007",
			handler: func(w http.ResponseWriter, _ *http.Request, _ int) { serveJSON(w, 400, one) },
			kind:    connector.KindGarbage, wantCalls: 1, inMessage: "HTTP 400"},
		{name: "200 html is garbage", id: "Abc-250301-0007",
			handler: func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = w.Write([]byte("<html>login</html>"))
			},
			kind: connector.KindGarbage, wantCalls: 1, inMessage: "not JSON (text/html) for request Abc-250301-0007"},
		{name: "other request answered", id: "Abc-250301-0008",
			handler: func(w http.ResponseWriter, _ *http.Request, _ int) { serveJSON(w, 200, one) },
			kind:    connector.KindGarbage, wantCalls: 1, inMessage: `answered request "Abc-250301-0007" when asked for request Abc-250301-0008`},
		{name: "401", id: "Abc-250301-0007",
			handler: func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(401) },
			kind:    connector.KindAuth, wantCalls: 1, inMessage: "library Abc (HTTP 401"},
		{name: "403", id: "Abc-250301-0007",
			handler: func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(403) },
			kind:    connector.KindAuth, wantCalls: 1, inMessage: "library Abc (HTTP 403"},
		{name: "503 then found", id: "Abc-250301-0007",
			handler: func(w http.ResponseWriter, _ *http.Request, call int) {
				if call == 1 {
					w.WriteHeader(503)
					return
				}
				serveJSON(w, 200, one)
			},
			found: true, wantCalls: 2},
		{name: "always 502", id: "Abc-250301-0007",
			handler: func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(502) },
			kind:    connector.KindUnreachable, wantCalls: 4, inMessage: "after 4 attempts (last: HTTP 502 Bad Gateway)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, tc.handler, nil)
			r, found, err := hs.c.Get(context.Background(), tc.id)
			if hs.rec.n() != tc.wantCalls {
				t.Errorf("%d calls, want %d", hs.rec.n(), tc.wantCalls)
			}
			if tc.wantPath != "" {
				if got := hs.rec.get(0).URL.EscapedPath(); got != tc.wantPath {
					t.Errorf("path %s, want %s", got, tc.wantPath)
				}
			}
			if hs.rec.n() > 0 && hs.rec.get(0).Header.Get("api-key") != testKey {
				t.Errorf("api-key not sent")
			}
			if tc.kind != 0 {
				ce := wantKind(t, err, tc.kind)
				if !strings.Contains(ce.Error(), tc.inMessage) {
					t.Errorf("error %q lacks %q", ce.Error(), tc.inMessage)
				}
				if found || r != nil {
					t.Errorf("found = %v with an error", found)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if found != tc.found || (r != nil) != tc.found {
				t.Fatalf("found = %v (request %v), want %v", found, r != nil, tc.found)
			}
			if found && (r.ExternalID != "Abc-250301-0007" || r.Problem != "") {
				t.Errorf("request %+v", r)
			}
		})
	}
}

func TestGetEmptyID(t *testing.T) {
	hs := newHarness(t, emptyOK, nil)
	if _, _, err := hs.c.Get(context.Background(), "  "); err == nil {
		t.Fatal("Get with an empty id succeeded")
	}
	if hs.rec.n() != 0 {
		t.Errorf("%d calls", hs.rec.n())
	}
}

func TestGetTooLarge(t *testing.T) {
	hs := newHarness(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"count":1,"ill_requests":[{"title":"%s"}]}`, strings.Repeat("x", maxGetBody))
	}, nil)
	_, _, err := hs.c.Get(context.Background(), "Abc-250301-0007")
	wantKind(t, err, connector.KindGarbage)
}
