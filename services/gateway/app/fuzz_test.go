package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/interloan/interloan/gen"
	"github.com/interloan/interloan/platform/logging"
)

// fuzzMaxBody is the gateway's body limit under fuzzing: small, so that the fuzzer
// reaches the 413 path as well as the decoding of bodies within it.
const fuzzMaxBody = 512

// fuzzRoute is one operation of the OpenAPI document: its method and its path with each
// {param} replaced by its pattern, in which "*" stands for the fuzzed ID.
type fuzzRoute struct{ method, path string }

// fuzzRoutes lists the document's operations in a stable order, so that a corpus entry
// names the same route on every run.
func fuzzRoutes(tb testing.TB) []fuzzRoute {
	var doc openAPIDoc
	if err := json.Unmarshal(gen.OpenAPI(), &doc); err != nil {
		tb.Fatal(err)
	}
	placeholder := regexp.MustCompile(`\{[^}]+\}`)
	var routes []fuzzRoute
	for path, ops := range doc.Paths {
		for method, op := range ops {
			patterns := map[string]string{}
			for _, p := range op.Parameters {
				if p.In == "path" {
					patterns[p.Name] = strings.ReplaceAll(p.Pattern, "[^/]+", "*")
				}
			}
			path := placeholder.ReplaceAllStringFunc(path, func(s string) string {
				if p := patterns[s[1:len(s)-1]]; p != "" {
					return p
				}
				return "*"
			})
			routes = append(routes, fuzzRoute{strings.ToUpper(method), path})
		}
	}
	slices.SortFunc(routes, func(a, b fuzzRoute) int { return strings.Compare(a.path+" "+a.method, b.path+" "+b.method) })
	if len(routes) < 40 {
		tb.Fatalf("only %d operations in the OpenAPI document", len(routes))
	}
	return routes
}

// fuzzHandler serves the gateway over upstreams that answer every unary or streaming
// call with one empty message (which decodes as any response type), or, when down, over
// an address where nothing listens.
func fuzzHandler(f *testing.F, down bool) http.Handler {
	addr := ""
	if down {
		addr = deadAddr(f)
	} else {
		l := listen(f)
		srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
			var in emptypb.Empty // the request's fields are kept as unknown fields
			if err := stream.RecvMsg(&in); err != nil {
				return err
			}
			return stream.SendMsg(&emptypb.Empty{})
		}))
		go func() { _ = srv.Serve(l) }()
		f.Cleanup(srv.Stop)
		addr = l.Addr().String()
	}
	up, err := Dial(Config{ProfilesAddr: addr, MappingAddr: addr, HarvesterAddr: addr, RequestsAddr: addr}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = up.Close() })
	h, err := NewHandler(up, Options{MaxBodyBytes: fuzzMaxBody, Logger: logging.Discard()})
	if err != nil {
		f.Fatal(err)
	}
	return h
}

// FuzzGateway sends hostile REST requests, built from any route of the API (or an unknown
// one) with a fuzzed ID in the path, query string and JSON body, through the gateway's
// handler. Whatever the input, the gateway must not panic and must answer JSON: a 2xx
// holding JSON values (one per line for streams), or an error in the google.rpc.Status
// shape with an ErrorInfo reason. Malformed input is the caller's fault, so the status is
// 2xx or 4xx; the only 5xx allowed is 503 when the upstream is down, and then never 2xx.
func FuzzGateway(f *testing.F) {
	routes := fuzzRoutes(f)
	handlers := map[bool]http.Handler{false: fuzzHandler(f, false), true: fuzzHandler(f, true)}
	methods := []string{"", "GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS"} // "" is the route's own

	for i, r := range routes {
		body := ""
		if r.method == "POST" || r.method == "PATCH" {
			body = "{}"
		}
		f.Add(uint16(i), uint8(0), "x", "", []byte(body), false)
		f.Add(uint16(i), uint8(0), "x", "", []byte(body), true)
	}
	for j, s := range []struct {
		id, query, body string
	}{
		{"ABC", "pageSize=5&pageToken=e30", ""},
		{"ABC", "pageSize=-1", ""},
		{"ABC", "pageSize=1e400", ""},
		{"ABC", "pageSize=abc&pageSize=2", ""},
		{"ABC", "updateMask=displayName,libris.baseUrl", `{"displayName":"x"}`},
		{"ABC", "update_mask=*", `{"displayName":"x","etag":"\"1\""}`},
		{"ABC", "updateMask=%FF%FE", ""},
		{"ABC", "a=%zz&b", ""},
		{"ABC", "system=EXTERNAL_SYSTEM_LIBRIS&status=7", ""},
		{"ABC", "system=NOPE", ""},
		{"%zz", "", ""},
		{"..", "", ""},
		{"a%2Fb", "", ""},
		{"a/b", "", ""},
		{"é", "", ""},
		{"%8C", "", ""}, // not UTF-8 once decoded (the known bug below)
		{"x:cancel", "", "{}"},
		{"ABC", "", "{"},
		{"ABC", "", "[]"},
		{"ABC", "", "null"},
		{"ABC", "", `{"unknownField":1}`},
		{"ABC", "", `{"pageSize":"9999999999999999999999"}`},
		{"ABC", "", `{"displayName":"\ud800"}`},
		{"ABC", "", `{"displayName":1}`},
		{"ABC", "", `{"a":` + strings.Repeat("[", 200) + `}`},
		{"ABC", "", `{"displayName":"` + strings.Repeat("x", fuzzMaxBody) + `"}`},
	} {
		// Each on a few routes (ones with a body when it has one), not on all: the
		// seeds are replayed before every fuzzing run, and a thousand would take the
		// whole of a short run.
		added := 0
		for k := range routes {
			i := (k + 7*j) % len(routes)
			if added < 3 && (routes[i].method == "POST" || routes[i].method == "PATCH" || s.body == "") {
				f.Add(uint16(i), uint8(0), s.id, s.query, []byte(s.body), false)
				added++
			}
		}
	}
	f.Add(uint16(len(routes)), uint8(1), "nowhere", "", []byte(nil), false) // an unknown route
	// Seeds for a route with a custom verb (POST only) and for a list (GET, no ID):
	// another method there is a 405 that echoes the path, and a list has query fields.
	verb := slices.IndexFunc(routes, func(r fuzzRoute) bool { return strings.Contains(r.path, ":") })
	list := slices.IndexFunc(routes, func(r fuzzRoute) bool { return r.method == "GET" && !strings.Contains(r.path, "*") })
	f.Add(uint16(verb), uint8(5), "x", "", []byte("{}"), false)
	f.Add(uint16(list), uint8(0), "", "pageToken=x&pageSize=2", []byte(nil), false)
	// The known bug below: IDs and query values that are not UTF-8 once decoded.
	f.Add(uint16(verb), uint8(5), "%8D", "", []byte("0"), false)
	f.Add(uint16(list), uint8(0), "", "pageToken=%FF", []byte(nil), false)

	f.Fuzz(func(t *testing.T, route uint16, method uint8, id, query string, body []byte, down bool) {
		// A route index past the document's is a path under /v1 that no route has.
		path, m := "/v1/"+id, "GET"
		if int(route) < len(routes) {
			r := routes[route]
			path, m = strings.ReplaceAll(r.path, "*", id), r.method
		}
		if k := methods[int(method)%len(methods)]; k != "" {
			m = k
		}
		target := path
		if query != "" {
			target += "?" + query
		}
		// Parse the request as net/http's server does; one it refuses never reaches
		// the gateway. (Headers are fixed, so only the request line can be refused.)
		raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: Bearer il_fuzz\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", m, target, len(body), body)
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil || strings.ContainsAny(target, " \r\n") {
			return
		}
		// A hang would show as a 504, which the status check refuses.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rec := httptest.NewRecorder()
		handlers[down].ServeHTTP(rec, req.WithContext(ctx))

		code := rec.Code
		switch {
		case code >= 200 && code < 300 && !down:
		case code >= 400 && code < 500:
		case code == http.StatusServiceUnavailable && down:
		default:
			t.Fatalf("%s %q (body %q, upstream down %v): HTTP %d: %s", m, target, body, down, code, rec.Body.Bytes())
		}
		if len(body) > fuzzMaxBody && code != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s %q with a %d-byte body: HTTP %d, want 413", m, target, len(body), code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %q: HTTP %d with Content-Type %q: %s", m, target, code, ct, rec.Body.Bytes())
		}
		var first json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
		for n := 0; ; n++ {
			var v json.RawMessage
			err := dec.Decode(&v)
			if errors.Is(err, io.EOF) && n > 0 {
				break
			}
			if err != nil {
				t.Fatalf("%s %q: HTTP %d body is not JSON values: %v: %q", m, target, code, err, rec.Body.Bytes())
			}
			if n == 0 {
				first = v
			}
		}
		if code >= 400 {
			checkErrorBody(t, first)
		}
	})
}

// checkErrorBody fails unless body is a google.rpc.Status (bare, or as a stream's
// {"error": ...}) with a code and an ErrorInfo of the interloan.dev domain.
func checkErrorBody(t *testing.T, body json.RawMessage) {
	t.Helper()
	type status struct {
		Code    int `json:"code"`
		Details []struct {
			Type   string `json:"@type"`
			Reason string `json:"reason"`
			Domain string `json:"domain"`
		} `json:"details"`
	}
	var b struct {
		status
		Error *status `json:"error"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("error body: %v: %s", err, body)
	}
	if b.Error != nil {
		b.status = *b.Error
	}
	for _, d := range b.Details {
		if d.Type == "type.googleapis.com/google.rpc.ErrorInfo" && d.Reason != "" && d.Domain == "interloan.dev" && b.Code != 0 {
			return
		}
	}
	t.Fatalf("error body without a code and an interloan.dev ErrorInfo reason: %s", body)
}
