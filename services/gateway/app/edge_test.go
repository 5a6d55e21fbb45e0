package app

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/interloan/interloan/gen"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	"github.com/interloan/interloan/platform/logging"
)

// fakeSuite runs the gateway over four fake upstreams.
func fakeSuite(t *testing.T, o Options) (base string, fakes map[string]*fakeUpstream) {
	t.Helper()
	fakes = map[string]*fakeUpstream{}
	for _, n := range []string{"profiles", "mapping", "harvester", "requests"} {
		fakes[n] = startFake(t, nil)
	}
	if o.Logger == nil {
		o.Logger = logging.Discard()
	}
	base = startGateway(t, Config{
		ProfilesAddr: fakes["profiles"].addr, MappingAddr: fakes["mapping"].addr,
		HarvesterAddr: fakes["harvester"].addr, RequestsAddr: fakes["requests"].addr,
	}, o)
	return base, fakes
}

// openAPIDoc is the part of the embedded document the tests read.
type openAPIDoc struct {
	Swagger string `json:"swagger"`
	Paths   map[string]map[string]struct {
		OperationID string   `json:"operationId"`
		Tags        []string `json:"tags"`
		Parameters  []struct {
			Name    string `json:"name"`
			In      string `json:"in"`
			Pattern string `json:"pattern"`
		} `json:"parameters"`
	} `json:"paths"`
}

// TestEveryDocumentedRouteReachesItsUpstream sends each operation of the OpenAPI
// document through the gateway and checks that exactly the right method of the right
// upstream received it: all four services are registered, each over its own connection,
// and a not-yet-implemented upstream method is a JSON 501.
func TestEveryDocumentedRouteReachesItsUpstream(t *testing.T) {
	base, fakes := fakeSuite(t, Options{})
	var doc openAPIDoc
	if err := json.Unmarshal(gen.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	upstreamOf := map[string]string{"ProfileService": "profiles", "MappingService": "mapping", "HarvesterService": "harvester", "RequestService": "requests"}
	placeholder := regexp.MustCompile(`\{[^}]+\}`)
	operations := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			// Fill each {param} with x, or with a value that matches its pattern, if it has
			// one (e.g. runs/x).
			patterns := map[string]string{}
			for _, p := range op.Parameters {
				if p.In == "path" && p.Pattern != "" {
					patterns[p.Name] = strings.ReplaceAll(p.Pattern, "[^/]+", "x")
				}
			}
			url := placeholder.ReplaceAllStringFunc(path, func(s string) string {
				if p := patterns[s[1:len(s)-1]]; p != "" {
					return p
				}
				return "x"
			})
			body := ""
			if method == "post" || method == "patch" {
				body = "{}"
			}
			service, rpc, _ := strings.Cut(op.OperationID, "_")
			// An additional binding's operation is named after its RPC with a number
			// (HarvesterService_TestConnection2).
			rpc = strings.TrimRight(rpc, "0123456789")
			upstream, ok := upstreamOf[service]
			if !ok {
				t.Errorf("%s %s: operation %s of a service the gateway must not expose", method, path, op.OperationID)
				continue
			}
			operations++
			r := do(t, strings.ToUpper(method), base+url, body)
			r.expectError(t, http.StatusNotImplemented, codes.Unimplemented, "UNIMPLEMENTED")
			for name, f := range fakes {
				calls := f.takeCalls()
				want := 0
				if name == upstream {
					want = 1
				}
				if len(calls) != want || (want == 1 && !strings.HasSuffix(calls[0].method, "."+service+"/"+rpc)) {
					t.Errorf("%s %s (%s): %s upstream got %v", method, url, op.OperationID, name, calls)
				}
			}
		}
	}
	if operations < 40 {
		t.Fatalf("only %d operations in the OpenAPI document", operations)
	}
}

// TestInternalServicesAreNotExposed: the internal services have no route, by their
// gRPC path or any other, and the document has no operation of theirs.
func TestInternalServicesAreNotExposed(t *testing.T) {
	base, fakes := fakeSuite(t, Options{})
	for _, path := range []string{
		"/interloan.profiles.v1.ProfileCredentialsService/GetProfileCredential",
		"/v1/interloan.profiles.v1.ProfileCredentialsService/GetProfileCredential",
		"/interloan.requests.v1.IngestService/IngestBorrowingRequests",
		"/v1/credentials",
		"/v1/integrationProfiles/X/credentials",
	} {
		do(t, "POST", base+path, "{}").expectError(t, http.StatusNotFound, codes.NotFound, "ROUTE_NOT_FOUND")
	}
	for name, f := range fakes {
		if calls := f.takeCalls(); len(calls) != 0 {
			t.Errorf("%s upstream got %v", name, calls)
		}
	}
	var doc openAPIDoc
	if err := json.Unmarshal(gen.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	for path, ops := range doc.Paths {
		for _, op := range ops {
			if strings.Contains(op.OperationID, "Credentials") || strings.Contains(op.OperationID, "Ingest") {
				t.Errorf("%s documents internal operation %s", path, op.OperationID)
			}
		}
	}
}

// TestAuthorizationReachesUpstream: the bearer token arrives upstream as gRPC metadata
// `authorization`, once, and no credential is copied under another key.
func TestAuthorizationReachesUpstream(t *testing.T) {
	base, fakes := fakeSuite(t, Options{})
	do(t, "GET", base+"/v1/runs/r1", "", "Authorization", "Bearer s3cret", "Cookie", "session=abc", "Accept-Language", "sv")
	calls := fakes["harvester"].takeCalls()
	if len(calls) != 1 {
		t.Fatalf("calls = %v", calls)
	}
	md := calls[0].md
	if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer s3cret" {
		t.Errorf("authorization metadata = %q", got)
	}
	for k, v := range md {
		if k != "authorization" && (strings.Contains(strings.Join(v, " "), "s3cret") || strings.Contains(strings.Join(v, " "), "session=abc")) {
			t.Errorf("credential copied to metadata %q", k)
		}
	}
	if got := md.Get("grpcgateway-accept-language"); len(got) != 1 || got[0] != "sv" {
		t.Errorf("ordinary headers are no longer forwarded: %v", md)
	}
}

// TestHarvesterAnswersAndStreams: a harvester that answers is relayed as JSON, and the
// server-streaming WatchRun arrives as newline-delimited {"result": ...} objects.
func TestHarvesterAnswersAndStreams(t *testing.T) {
	harvester := startFake(t, func(method string, stream grpc.ServerStream) error {
		switch {
		case strings.HasSuffix(method, "/StartRun"):
			var req harvesterv1.StartRunRequest
			if err := stream.RecvMsg(&req); err != nil {
				return err
			}
			return stream.SendMsg(&harvesterv1.Run{Name: "runs/r1", Profile: req.GetProfile(), State: harvesterv1.RunState_RUN_STATE_PENDING})
		case strings.HasSuffix(method, "/WatchRun"):
			var req harvesterv1.WatchRunRequest
			if err := stream.RecvMsg(&req); err != nil {
				return err
			}
			for _, s := range []harvesterv1.RunState{harvesterv1.RunState_RUN_STATE_RUNNING, harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS} {
				if err := stream.SendMsg(&harvesterv1.Run{Name: req.GetName(), State: s}); err != nil {
					return err
				}
			}
			return nil
		case strings.HasSuffix(method, "/GetRun"):
			return status.Error(codes.Unavailable, "harvester is draining")
		}
		return status.Error(codes.Unimplemented, "not here")
	})
	fakes := startFake(t, nil)
	base := startGateway(t, Config{ProfilesAddr: fakes.addr, MappingAddr: fakes.addr, HarvesterAddr: harvester.addr, RequestsAddr: fakes.addr}, Options{})

	run := do(t, "POST", base+"/v1/runs:start", `{"profile":"integrationProfiles/GUB"}`).expect(t, http.StatusOK)
	if run["name"] != "runs/r1" || run["profile"] != "integrationProfiles/GUB" || run["state"] != "RUN_STATE_PENDING" {
		t.Fatalf("StartRun = %v", run)
	}

	r := do(t, "GET", base+"/v1/runs/r1:watch", "")
	if r.code != http.StatusOK {
		t.Fatalf("watch: HTTP %d: %s", r.code, r.body)
	}
	var states []string
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	for sc.Scan() {
		var line struct {
			Result struct {
				Name  string `json:"name"`
				State string `json:"state"`
			} `json:"result"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.Result.Name != "runs/r1" {
			t.Fatalf("watch line %q: %v", sc.Text(), err)
		}
		states = append(states, line.Result.State)
	}
	if strings.Join(states, ",") != "RUN_STATE_RUNNING,RUN_STATE_COMPLETED_SUCCESS" {
		t.Fatalf("watch states = %v", states)
	}

	// An upstream's own UNAVAILABLE without ErrorInfo gets one; the message names the
	// service, not an address.
	do(t, "GET", base+"/v1/runs/r1", "").expectError(t, http.StatusServiceUnavailable, codes.Unavailable, "UPSTREAM_UNAVAILABLE")
}

// TestUpstreamDown: a route whose upstream does not listen is a JSON 503 that does not
// leak the upstream's address; the other services still answer.
func TestUpstreamDown(t *testing.T) {
	up := startFake(t, nil)
	dead := deadAddr(t)
	base := startGateway(t, Config{ProfilesAddr: dead, MappingAddr: up.addr, HarvesterAddr: up.addr, RequestsAddr: up.addr}, Options{})
	r := do(t, "GET", base+"/v1/integrationProfiles/X", "")
	e := r.expectError(t, http.StatusServiceUnavailable, codes.Unavailable, "UPSTREAM_UNAVAILABLE")
	if e.Metadata["service"] != "interloan.profiles.v1.ProfileService" || strings.Contains(string(r.body), dead) || strings.Contains(string(r.body), "dial") {
		t.Errorf("error = %s", r.body)
	}
	do(t, "GET", base+"/v1/libraries/X", "").expectError(t, http.StatusNotImplemented, codes.Unimplemented, "UNIMPLEMENTED")
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || body != "not ready: [profiles]\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
}

// TestRoutingErrors: unknown paths and wrong methods are JSON errors with 404 and 405.
func TestRoutingErrors(t *testing.T) {
	base, _ := fakeSuite(t, Options{})
	do(t, "GET", base+"/v2/integrationProfiles", "").expectError(t, http.StatusNotFound, codes.NotFound, "ROUTE_NOT_FOUND")
	do(t, "GET", base+"/", "").expectError(t, http.StatusNotFound, codes.NotFound, "ROUTE_NOT_FOUND")
	do(t, "PUT", base+"/v1/integrationProfiles/X", "{}").expectError(t, http.StatusMethodNotAllowed, codes.Unimplemented, "METHOD_NOT_ALLOWED")
	// A form-encoded POST is not turned into a GET, nor a POST into a DELETE.
	req, _ := http.NewRequest("POST", base+"/v1/integrationProfiles/X", strings.NewReader("a=b"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-HTTP-Method-Override", "DELETE")
	send(t, req).expectError(t, http.StatusMethodNotAllowed, codes.Unimplemented, "METHOD_NOT_ALLOWED")
	if r := do(t, "POST", base+"/healthz", ""); r.code != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d", r.code)
	}
}

// TestBodyLimits: a body over the limit is 413 whether its length is declared or not,
// one at the limit passes, and a body that does not arrive in time is 408.
func TestBodyLimits(t *testing.T) {
	const limit = 4 << 10
	base, fakes := fakeSuite(t, Options{MaxBodyBytes: limit, BodyReadTimeout: 300 * time.Millisecond})
	url := base + "/v1/integrationProfiles"
	big := `{"description":"` + strings.Repeat("x", limit) + `"}`

	e := do(t, "POST", url, big).expectError(t, http.StatusRequestEntityTooLarge, codes.InvalidArgument, "REQUEST_TOO_LARGE")
	if e.Metadata["limit_bytes"] != fmt.Sprint(limit) {
		t.Errorf("metadata = %v", e.Metadata)
	}
	// Chunked: no Content-Length, so the limit applies while reading.
	req, _ := http.NewRequest("POST", url, io.MultiReader(strings.NewReader(big)))
	req.Header.Set("Content-Type", "application/json")
	if req.ContentLength != 0 {
		t.Fatal("request is not chunked")
	}
	send(t, req).expectError(t, http.StatusRequestEntityTooLarge, codes.InvalidArgument, "REQUEST_TOO_LARGE")
	if calls := fakes["profiles"].takeCalls(); len(calls) != 0 {
		t.Fatalf("an oversized request reached the upstream: %v", calls)
	}

	atLimit := `{"description":"` + strings.Repeat("x", limit-len(`{"description":""}`)) + `"}`
	do(t, "POST", url, atLimit).expectError(t, http.StatusNotImplemented, codes.Unimplemented, "UNIMPLEMENTED")
	if calls := fakes["profiles"].takeCalls(); len(calls) != 1 {
		t.Fatalf("a request at the limit did not reach the upstream: %v", calls)
	}

	// Slow body: the headers promise 100 bytes, only 2 arrive.
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/integrationProfiles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{}")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	response{code: resp.StatusCode, header: resp.Header, body: b}.
		expectError(t, http.StatusRequestTimeout, codes.DeadlineExceeded, "REQUEST_BODY_TIMEOUT")
}

// TestOpenAPI: /openapi.json is the generated document, as JSON, with every service's
// paths, and revalidates with its ETag.
func TestOpenAPI(t *testing.T) {
	base, _ := fakeSuite(t, Options{})
	r := do(t, "GET", base+"/openapi.json", "")
	if r.code != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("HTTP %d, Content-Type %q", r.code, r.header.Get("Content-Type"))
	}
	if !bytes.Equal(r.body, gen.OpenAPI()) {
		t.Fatal("served document differs from the generated one")
	}
	var doc openAPIDoc
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/v1/integrationProfiles", "/v1/libraries", "/v1/partners", "/v1/runs", "/v1/borrowingRequests", "/v1/borrowingRequests:watch"} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("path %s missing", p)
		}
	}
	if doc.Swagger != "2.0" {
		t.Errorf("swagger = %q", doc.Swagger)
	}
	etag := r.header.Get("ETag")
	if r := do(t, "GET", base+"/openapi.json", "", "If-None-Match", etag); etag == "" || r.code != http.StatusNotModified {
		t.Errorf("revalidation with ETag %q = %d", etag, r.code)
	}
}

// TestReadyzAllUp: with every upstream serving, /readyz is 200.
func TestReadyzAllUp(t *testing.T) {
	base, _ := fakeSuite(t, Options{})
	if code, body := get(t, base+"/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d", code)
	}
}

func TestSnakePath(t *testing.T) {
	for in, want := range map[string]string{
		"displayName": "display_name", "libris.baseUrl": "libris.base_url", "display_name": "display_name",
		" harvestStart.date ": "harvest_start.date", "*": "*", "": "",
	} {
		if got := snakePath(in); got != want {
			t.Errorf("snakePath(%q) = %q, want %q", in, got, want)
		}
	}
}
