package auth

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/logging/logtest"
)

// principalHeader is how the test handlers tell the client whom the interceptor let in.
const principalHeader = "x-test-principal"

// caller is one identity of the matrix: a token (or none) and the roles it holds.
type caller struct {
	name   string
	token  string // "" sends no authorization header
	roles  []Role // nil: not authenticated
	header string // a raw authorization value, overriding token
}

type fixture struct {
	conn    *grpc.ClientConn
	callers []caller
	logs    *logtest.Buffer
	methods map[string]protoreflect.MethodDescriptor
}

// newFixture serves every suite method (generic handlers that answer OK), the real
// health and reflection services, and an unknown-method handler, all behind the real tap
// handle, interceptors and DefaultPolicy, over bufconn.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{logs: &logtest.Buffer{}, methods: servedMethods(t)}
	var file strings.Builder
	for _, c := range []struct {
		name  string
		roles []Role
	}{
		{"alice-admin", []Role{RoleAdmin}},
		{"oscar-operator", []Role{RoleOperator}},
		{"vera-viewer", []Role{RoleViewer}},
		{"hana-harvester", []Role{RoleHarvester}},
		{"vh-two-roles", []Role{RoleViewer, RoleHarvester}},
	} {
		token, line, err := NewToken(c.name, c.roles...)
		if err != nil {
			t.Fatal(err)
		}
		file.WriteString(line + "\n")
		f.callers = append(f.callers, caller{name: c.name, token: token, roles: c.roles})
	}
	stranger, _, _ := NewToken("stranger", RoleAdmin) // never written to the file
	valid := f.callers[0].token
	f.callers = append(f.callers,
		caller{name: "anonymous"},
		caller{name: "invalid token", token: stranger},
		caller{name: "wrong scheme", header: "Basic " + valid},
		caller{name: "scheme only", header: "Bearer"},
		caller{name: "token without scheme", header: valid},
		caller{name: "lower-case scheme", header: "bearer " + valid, roles: f.callers[0].roles},
	)
	tokens, err := Parse([]byte(file.String()))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := grpc.NewServer(
		grpc.InTapHandle(TapHandle(tokens, DefaultPolicy(), log)),
		grpc.ChainUnaryInterceptor(UnaryServerInterceptor(tokens, DefaultPolicy(), log)),
		grpc.ChainStreamInterceptor(StreamServerInterceptor(tokens, DefaultPolicy(), log)),
		grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error { return echoPrincipal(ss.Context(), ss.SendHeader) }),
	)
	registerGeneric(srv, f.methods)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	reflection.Register(srv)

	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	f.conn = conn
	return f
}

// registerGeneric registers a service for every suite service with handlers that need
// no implementation: unary methods decode the request and answer an empty response,
// streaming ones return at once. Each goes through the interceptor of its kind, as in
// production.
func registerGeneric(srv *grpc.Server, methods map[string]protoreflect.MethodDescriptor) {
	services := map[string]*grpc.ServiceDesc{}
	for full, md := range methods {
		svc := string(md.Parent().FullName())
		if !strings.HasPrefix(svc, "interloan.") {
			continue // health and reflection are the real ones
		}
		sd := services[svc]
		if sd == nil {
			sd = &grpc.ServiceDesc{ServiceName: svc}
			services[svc] = sd
		}
		if !md.IsStreamingClient() && !md.IsStreamingServer() {
			sd.Methods = append(sd.Methods, grpc.MethodDesc{MethodName: string(md.Name()), Handler: unaryHandler(full, md)})
			continue
		}
		sd.Streams = append(sd.Streams, grpc.StreamDesc{
			StreamName:    string(md.Name()),
			ServerStreams: md.IsStreamingServer(),
			ClientStreams: md.IsStreamingClient(),
			Handler: func(_ any, ss grpc.ServerStream) error {
				return echoPrincipal(ss.Context(), ss.SendHeader)
			},
		})
	}
	for _, sd := range services {
		srv.RegisterService(sd, nil)
	}
}

func unaryHandler(full string, md protoreflect.MethodDescriptor) grpc.MethodHandler {
	return func(_ any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		req := dynamicpb.NewMessage(md.Input())
		if err := dec(req); err != nil {
			return nil, err
		}
		h := func(ctx context.Context, _ any) (any, error) {
			if err := echoPrincipal(ctx, func(m metadata.MD) error { return grpc.SendHeader(ctx, m) }); err != nil {
				return nil, err
			}
			return dynamicpb.NewMessage(md.Output()), nil
		}
		if interceptor == nil {
			return h(ctx, req)
		}
		return interceptor(ctx, req, &grpc.UnaryServerInfo{FullMethod: full}, h)
	}
}

// echoPrincipal sends the principal the interceptor put in the context; a handler
// reached without one is a failure of the interceptor.
func echoPrincipal(ctx context.Context, send func(metadata.MD) error) error {
	p, ok := FromContext(ctx)
	if !ok {
		return status.Error(codes.Internal, "handler reached without a principal")
	}
	return send(metadata.Pairs(principalHeader, p.Name))
}

// call invokes method as c and returns the principal the handler saw, the status code
// and the error with its response metadata, for leak checks.
func (f *fixture) call(t *testing.T, method string, c caller) (principal string, err error, md metadata.MD) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if h := c.header; h != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", h)
	} else if c.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
	}
	md = metadata.MD{}
	desc, known := f.methods[method]
	if !known || (!desc.IsStreamingClient() && !desc.IsStreamingServer()) {
		var header, trailer metadata.MD
		err = f.conn.Invoke(ctx, method, &emptypb.Empty{}, &emptypb.Empty{}, grpc.Header(&header), grpc.Trailer(&trailer))
		md = metadata.Join(header, trailer)
		return first(header.Get(principalHeader)), err, md
	}
	stream, err := f.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method)
	if err != nil {
		return "", err, md
	}
	// A server-streaming method reads exactly one request; a client-streaming one may
	// read none (reflection treats an empty request as a bad one).
	if !desc.IsStreamingClient() {
		if err := stream.SendMsg(&emptypb.Empty{}); err != nil && !errors.Is(err, io.EOF) {
			return "", err, md
		}
	}
	if err := stream.CloseSend(); err != nil {
		return "", err, md
	}
	err = stream.RecvMsg(&emptypb.Empty{})
	if errors.Is(err, io.EOF) {
		err = nil
	}
	header, _ := stream.Header()
	md = metadata.Join(header, stream.Trailer())
	return first(header.Get(principalHeader)), err, md
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// expect is the role matrix, written from the roles' definitions by method-name patterns,
// independently of DefaultPolicy. roles == nil means the caller is not authenticated.
func expect(t *testing.T, method string, roles []Role) codes.Code {
	svc, name, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	switch {
	case svc == "grpc.health.v1.Health":
		return codes.OK // probes carry no token
	case roles == nil:
		return codes.Unauthenticated
	case strings.HasPrefix(svc, "grpc.reflection."), svc == "interloan.admin.v1.IdentityService":
		return codes.OK // any valid token: reflection shows the API's shape, GetCaller the caller's own roles
	}
	has := func(prefixes ...string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
		return false
	}
	const (
		profiles    = "interloan.profiles.v1.ProfileService"
		credentials = "interloan.profiles.v1.ProfileCredentialsService"
		mapping     = "interloan.mapping.v1.MappingService"
		harvester   = "interloan.harvester.v1.HarvesterService"
		requests    = "interloan.requests.v1.RequestService"
		ingest      = "interloan.requests.v1.IngestService"
		backup      = "interloan.admin.v1.BackupService"
	)
	var secret, internal, read, act, configure bool
	switch svc {
	case credentials:
		secret = true
	case ingest:
		internal = true
	case backup:
		configure = true // a whole data file: the administrator's alone
	case profiles, mapping:
		// Resolve* of mapping only looks codes up; on requests it is an action. The audit
		// trail of configuration changes is read by administrators alone, like configure.
		read = has("Get", "List") && name != "ListAuditEvents" || svc == mapping && has("Resolve")
		configure = has("Create", "Update", "Delete") || name == "ListAuditEvents"
	case harvester, requests:
		// Testing a connection sends a credential to an address the caller chooses, so
		// it is configuration; previewing an import is an action, like starting one.
		read = has("Get", "List", "Watch", "Count")
		configure = svc == harvester && name == "TestConnection"
		act = !read && !configure
	}
	if !secret && !internal && !read && !act && !configure {
		t.Fatalf("%s: the test cannot classify this method; extend expect()", method)
	}
	harvesterMay := map[string]bool{
		"/" + profiles + "/GetIntegrationProfile":    true,
		"/" + profiles + "/ListIntegrationProfiles":  true,
		"/" + credentials + "/GetProfileCredentials": true,
		"/" + mapping + "/ResolveLibraryCodes":       true,
		"/" + mapping + "/ResolvePartnerCodes":       true,
		"/" + mapping + "/GetLibrary":                true,
		"/" + ingest + "/IngestBorrowingRequests":    true,
		"/" + ingest + "/FlagBorrowingRequest":       true,
		"/" + requests + "/ListBorrowingRequests":    true,
	}
	for _, r := range roles {
		var ok bool
		switch r {
		case RoleHarvester:
			ok = harvesterMay[method]
		case RoleViewer:
			ok = read
		case RoleOperator:
			ok = read || act
		case RoleAdmin:
			ok = read || act || configure
		}
		if ok {
			return codes.OK
		}
	}
	return codes.PermissionDenied
}

func TestRoleMatrix(t *testing.T) {
	f := newFixture(t)
	policy := DefaultPolicy()
	counts := map[codes.Code]int{}
	for _, method := range policy.Methods() {
		for _, c := range f.callers {
			want := expect(t, method, c.roles)
			got, err, md := f.call(t, method, c)
			counts[status.Code(err)]++
			if status.Code(err) != want {
				t.Errorf("%s as %s: %v, want %v", method, c.name, err, want)
				continue
			}
			switch {
			case want != codes.OK:
				checkDenial(t, f, method, err, md)
			case strings.HasPrefix(method, "/interloan.") && got != principalName(c):
				// The suite's handlers must see the caller as the principal.
				t.Errorf("%s as %s: handler saw principal %q", method, c.name, got)
			}
		}
	}
	t.Logf("%d methods × %d callers: %v", len(policy), len(f.callers), counts)
	// Each outcome occurred, so the matrix is not trivially all-allow or all-deny.
	for _, code := range []codes.Code{codes.OK, codes.Unauthenticated, codes.PermissionDenied} {
		if counts[code] == 0 {
			t.Errorf("no call ended %v", code)
		}
	}
	checkLogs(t, f)
}

func principalName(c caller) string {
	if c.name == "lower-case scheme" {
		return "alice-admin"
	}
	return c.name
}

// checkDenial asserts that a refusal tells nothing beyond its fixed message: no token,
// no principal name, no role, and (for PERMISSION_DENIED) only the method.
func checkDenial(t *testing.T, f *fixture, method string, err error, md metadata.MD) {
	t.Helper()
	st := status.Convert(err)
	var everything strings.Builder
	everything.WriteString(st.Message())
	for k, vs := range md {
		everything.WriteString(" " + k + "=" + strings.Join(vs, ","))
	}
	switch st.Code() {
	case codes.Unauthenticated:
		if st.Message() != MsgUnauthenticated || len(st.Details()) != 0 {
			t.Errorf("%s: unauthenticated answer %q with %d details", method, st.Message(), len(st.Details()))
		}
	case codes.PermissionDenied:
		if st.Message() != MsgPermissionDenied || len(st.Details()) != 1 {
			t.Errorf("%s: denial %q with %d details", method, st.Message(), len(st.Details()))
			return
		}
		info, ok := st.Details()[0].(*errdetails.ErrorInfo)
		if !ok || info.Reason != ReasonPermissionDenied || info.Domain != apierr.Domain ||
			len(info.Metadata) != 1 || info.Metadata["method"] != method {
			t.Errorf("%s: denial details %v", method, st.Details())
		}
	}
	text := everything.String()
	for _, c := range f.callers {
		if c.token != "" && strings.Contains(text, c.token) {
			t.Errorf("%s: a denial contains a token", method)
		}
		if c.roles != nil && strings.Contains(text, principalName(c)) {
			t.Errorf("%s: a denial names principal %s", method, principalName(c))
		}
	}
	for _, r := range append(Roles(), Public, Authenticated) {
		if strings.Contains(st.Message(), string(r)) {
			t.Errorf("%s: a denial names role %s", method, r)
		}
	}
}

// checkLogs: tokens never reach the logs, and denials are logged with the method.
func checkLogs(t *testing.T, f *fixture) {
	t.Helper()
	logs := f.logs.String()
	for _, c := range f.callers {
		if c.token != "" && strings.Contains(logs, c.token) {
			t.Errorf("the logs contain the token of %s", c.name)
		}
	}
	for _, want := range []string{"call rejected: no valid token", "call denied: roles do not allow the method"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no log line %q", want)
		}
	}
}

// TestMethodMissingFromPolicy: a served method without an entry is denied to every
// principal, admin included, and logged as an error; anonymous callers learn nothing.
func TestMethodMissingFromPolicy(t *testing.T) {
	f := newFixture(t)
	const method = "/interloan.secret.v1.Hidden/Do"
	for _, c := range f.callers {
		_, err, md := f.call(t, method, c)
		want := codes.PermissionDenied
		if c.roles == nil {
			want = codes.Unauthenticated
		}
		if status.Code(err) != want {
			t.Errorf("%s: %v, want %v", c.name, err, want)
			continue
		}
		checkDenial(t, f, method, err, md)
	}
	if logs := f.logs.String(); !strings.Contains(logs, "method missing from the authorisation policy") ||
		!strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("no error log for the unlisted method:\n%s", logs)
	}
}

// countingAuth counts authentications, to show the interceptor trusts the tap's decision.
type countingAuth struct {
	Authenticator
	n int
}

func (c *countingAuth) Authenticate(token string) (Principal, bool) {
	c.n++
	return c.Authenticator.Authenticate(token)
}

// TestTapHandle: on the headers alone, a public method passes untouched; any other
// method, one absent from the policy included, needs a valid token, and the caller it
// admits is the principal the interceptor then authorises without authenticating again.
// Method names an anonymous caller sends are logged truncated.
func TestTapHandle(t *testing.T) {
	token, line, _ := NewToken("vera", RoleViewer)
	tokens, err := Parse([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	authn := &countingAuth{Authenticator: tokens}
	logs := &logtest.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	const (
		public = "/grpc.health.v1.Health/Check"
		read   = "/interloan.requests.v1.RequestService/ListBorrowingRequests"
		write  = "/interloan.profiles.v1.ProfileService/DeleteIntegrationProfile"
	)
	unknown := "/interloan.x.v1.S/" + strings.Repeat("M", 4096)
	tapHandle := TapHandle(authn, DefaultPolicy(), log)
	withToken := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+token))
	anonymous := metadata.NewIncomingContext(context.Background(), metadata.MD{})
	for _, tt := range []struct {
		name      string
		ctx       context.Context
		method    string
		want      codes.Code
		principal string
	}{
		{"public, anonymous", anonymous, public, codes.OK, ""},
		{"public, token", withToken, public, codes.OK, ""},
		{"read, anonymous", anonymous, read, codes.Unauthenticated, ""},
		{"read, token", withToken, read, codes.OK, "vera"},
		{"write, token (authorised later)", withToken, write, codes.OK, "vera"},
		{"unknown, anonymous", anonymous, unknown, codes.Unauthenticated, ""},
		{"unknown, token", withToken, unknown, codes.OK, "vera"},
	} {
		ctx, err := tapHandle(tt.ctx, &tap.Info{FullMethodName: tt.method, Header: metadata.MD{}})
		if status.Code(err) != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			continue
		}
		if err != nil {
			continue
		}
		if p, _ := FromContext(ctx); p.Name != tt.principal {
			t.Errorf("%s: principal %q, want %q", tt.name, p.Name, tt.principal)
		}
	}
	if strings.Contains(logs.String(), strings.Repeat("M", 200)) || !strings.Contains(logs.String(), "call rejected: no valid token") {
		t.Errorf("refusal logs:\n%s", logs.String())
	}

	// The interceptor authorises the principal the tap admitted: read passes, write is
	// denied, and neither authenticates the token a second time.
	intercept := UnaryServerInterceptor(authn, DefaultPolicy(), nil)
	ok := func(context.Context, any) (any, error) { return "ok", nil }
	for method, want := range map[string]codes.Code{read: codes.OK, write: codes.PermissionDenied} {
		ctx, err := tapHandle(withToken, &tap.Info{FullMethodName: method})
		if err != nil {
			t.Fatal(err)
		}
		before := authn.n
		if _, err := intercept(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, ok); status.Code(err) != want {
			t.Errorf("%s after the tap: %v, want %v", method, err, want)
		}
		if authn.n != before {
			t.Errorf("%s: the interceptor authenticated again", method)
		}
	}
}

func TestBearerHeaderParsing(t *testing.T) {
	tests := []struct {
		values []string
		token  string
		ok     bool
	}{
		{[]string{"Bearer abc"}, "abc", true},
		{[]string{"bearer abc"}, "abc", true},
		{[]string{"BEARER abc"}, "abc", true},
		{[]string{"  Bearer   abc  "}, "abc", true},
		{nil, "", false},
		{[]string{""}, "", false},
		{[]string{"Bearer"}, "", false},
		{[]string{"Bearer "}, "", false},
		{[]string{"Basic abc"}, "", false},
		{[]string{"Bearerabc"}, "", false},
		{[]string{"Bearer abc def"}, "", false},
		{[]string{"Bearer abc\tdef"}, "", false},
		{[]string{"Bearer abc", "Bearer def"}, "", false}, // ambiguous
	}
	for _, tt := range tests {
		md := metadata.MD{}
		for _, v := range tt.values {
			md.Append("authorization", v)
		}
		got, ok := bearer(md)
		if got != tt.token || ok != tt.ok {
			t.Errorf("%q: %q %v, want %q %v", tt.values, got, ok, tt.token, tt.ok)
		}
	}
	if _, ok := bearer(nil); ok {
		t.Error("no metadata at all authenticated")
	}
}

// TestInterceptorEdgeCases: no authenticator, no logger and a policy changed after the
// interceptor was built neither panic nor widen access.
func TestInterceptorEdgeCases(t *testing.T) {
	token, line, _ := NewToken("alice", RoleAdmin)
	tokens, err := Parse([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+token))
	ok := func(ctx context.Context, _ any) (any, error) { return "ok", nil }
	const method = "/a.S/M"

	policy := Policy{method: {RoleViewer}}
	intercept := UnaryServerInterceptor(tokens, policy, nil)
	policy[method] = []Role{RoleAdmin} // too late: the interceptor took a copy
	if _, err := intercept(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, ok); status.Code(err) != codes.PermissionDenied {
		t.Errorf("changed policy: %v", err)
	}
	intercept = UnaryServerInterceptor(nil, Policy{method: {RoleAdmin}}, nil)
	if _, err := intercept(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, ok); status.Code(err) != codes.Unauthenticated {
		t.Errorf("nil authenticator: %v", err)
	}
	intercept = UnaryServerInterceptor(tokens, nil, nil)
	if _, err := intercept(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, ok); status.Code(err) != codes.PermissionDenied {
		t.Errorf("nil policy: %v", err)
	}
	intercept = UnaryServerInterceptor(tokens, Policy{method: {RoleAdmin}}, nil)
	resp, err := intercept(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, func(ctx context.Context, _ any) (any, error) {
		p, _ := FromContext(ctx)
		return p.Name, nil
	})
	if err != nil || resp != "alice" {
		t.Errorf("allowed call: %v %v", resp, err)
	}
}
