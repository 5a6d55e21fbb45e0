package app

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/server"
	mapping "github.com/interloan/interloan/services/mapping/app"
	profiles "github.com/interloan/interloan/services/profiles/app"
)

// call is one RPC a fake upstream received.
type call struct {
	method string // "/interloan.harvester.v1.HarvesterService/GetRun"
	md     metadata.MD
}

// fakeUpstream is a real gRPC server on loopback that answers every method of every
// service (through grpc.UnknownServiceHandler) and records what reached it, plus
// grpc.health.v1 so /readyz sees it. Without a reply func it answers UNIMPLEMENTED, as
// a service whose implementation is not there yet would.
type fakeUpstream struct {
	addr  string
	reply func(method string, stream grpc.ServerStream) error

	mu    sync.Mutex
	calls []call
}

func startFake(t *testing.T, reply func(method string, stream grpc.ServerStream) error) *fakeUpstream {
	t.Helper()
	lis := listen(t)
	f := &fakeUpstream{addr: lis.Addr().String(), reply: reply}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(f.handle))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return f
}

func (f *fakeUpstream) handle(_ any, stream grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(stream)
	md, _ := metadata.FromIncomingContext(stream.Context())
	f.mu.Lock()
	f.calls = append(f.calls, call{method: method, md: md.Copy()})
	f.mu.Unlock()
	if f.reply != nil {
		return f.reply(method, stream)
	}
	return status.Errorf(codes.Unimplemented, "fake: %s is not implemented", method)
}

// takeCalls returns and forgets the calls recorded so far.
func (f *fakeUpstream) takeCalls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// startProfiles runs the real profiles service (with a fresh data dir and key) on
// loopback and returns its gRPC address.
func startProfiles(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	key, err := profiles.EnsureDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	lis := listen(t)
	runService(t, func(ctx context.Context, c server.Common) error {
		return profiles.Run(ctx, profiles.Config{Common: c, SecretKeyFile: key})
	}, server.Common{DataDir: dir, GRPCListener: lis})
	return lis.Addr().String()
}

// startMapping runs the real mapping service on loopback and returns its gRPC address.
func startMapping(t *testing.T) string {
	t.Helper()
	lis := listen(t)
	runService(t, func(ctx context.Context, c server.Common) error {
		return mapping.Run(ctx, mapping.Config{Common: c})
	}, server.Common{DataDir: t.TempDir(), GRPCListener: lis})
	return lis.Addr().String()
}

// testToken is an admin token every real service in these tests accepts (runService
// gives each a tokens file granting it); send adds it to requests that carry no
// Authorization header of their own.
const testToken = "il_gateway-test-token"

var testTokenLine = auth.HashToken(testToken) + " gateway-test admin"

// runService starts run and waits until it serves; cleanup stops it and checks that it
// stopped cleanly.
func runService(t *testing.T, run func(context.Context, server.Common) error, c server.Common) {
	t.Helper()
	c.TokensFile = filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(c.TokensFile, []byte(testTokenLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	c.Logger = logging.Discard()
	c.Ready = func(net.Addr, net.Addr) { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, c) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("service stopped before serving: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service: %v", err)
		}
	})
}

// startGateway serves NewHandler over the upstreams in cfg on an httptest server.
func startGateway(t *testing.T, cfg Config, o Options) string {
	t.Helper()
	up, err := Dial(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = up.Close() })
	h, err := NewHandler(up, o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// response is an HTTP answer, read whole.
type response struct {
	code   int
	header http.Header
	body   []byte
}

// do sends one request; headers are given as name, value pairs.
func do(t *testing.T, method, url, body string, headers ...string) response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return send(t, req)
}

func send(t *testing.T, req *http.Request) response {
	t.Helper()
	if _, set := req.Header["Authorization"]; !set {
		req.Header.Set("Authorization", "Bearer "+testToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: b}
}

// object decodes the body as one JSON object.
func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// expect fails unless the status is code; it returns the decoded JSON body.
func (r response) expect(t *testing.T, code int) map[string]any {
	t.Helper()
	if r.code != code {
		t.Fatalf("HTTP %d, want %d: %s", r.code, code, r.body)
	}
	return r.object(t)
}

// apiError is the google.rpc.Status body of an error, with its details picked apart.
type apiError struct {
	Code       int    `json:"code"`
	Message    string `json:"message"`
	Reason     string
	Domain     string
	Metadata   map[string]string
	Violations []fieldViolation
}

type fieldViolation struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

// expectError fails unless the answer is an error with HTTP status httpCode, gRPC code
// grpcCode and ErrorInfo reason; it returns the decoded error.
func (r response) expectError(t *testing.T, httpCode int, grpcCode codes.Code, reason string) apiError {
	t.Helper()
	if r.code != httpCode {
		t.Fatalf("HTTP %d, want %d: %s", r.code, httpCode, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q", ct)
	}
	type status struct {
		Code    int               `json:"code"`
		Message string            `json:"message"`
		Details []json.RawMessage `json:"details"`
	}
	var body struct {
		status
		Error *status `json:"error"` // a server stream wraps its error: {"error": {...}}
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body: %v: %s", err, r.body)
	}
	if body.Error != nil {
		body.status = *body.Error
	}
	e := apiError{Code: body.Code, Message: body.Message}
	for _, raw := range body.Details {
		var d struct {
			Type            string            `json:"@type"`
			Reason          string            `json:"reason"`
			Domain          string            `json:"domain"`
			Metadata        map[string]string `json:"metadata"`
			FieldViolations []fieldViolation  `json:"fieldViolations"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("detail: %v: %s", err, raw)
		}
		switch d.Type {
		case "type.googleapis.com/google.rpc.ErrorInfo":
			e.Reason, e.Domain, e.Metadata = d.Reason, d.Domain, d.Metadata
		case "type.googleapis.com/google.rpc.BadRequest":
			e.Violations = d.FieldViolations
		}
	}
	if e.Code != int(grpcCode) || e.Reason != reason || e.Domain != "interloan.dev" {
		t.Fatalf("error = code %d reason %q domain %q, want code %d (%s) reason %q: %s", e.Code, e.Reason, e.Domain, grpcCode, grpcCode, reason, r.body)
	}
	return e
}
