package auth

import (
	"context"
	"log/slog"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/interloan/interloan/platform/apierr"
)

// Messages of the two denials. They are fixed: the caller learns neither why a token
// was refused (UNAUTHENTICATED carries no details at all) nor which roles would have
// been allowed.
const (
	MsgUnauthenticated  = "authentication required"
	MsgPermissionDenied = "permission denied: your roles do not allow this method"
)

// ReasonPermissionDenied is the ErrorInfo reason of a PERMISSION_DENIED answer.
const ReasonPermissionDenied = "PERMISSION_DENIED"

// TapHandle authenticates every call on its headers, before gRPC reads any message
// (grpc.InTapHandle): a call to a method that is not public, a method no service serves
// included, without a valid token or client certificate is UNAUTHENTICATED without its
// request ever being read, so an anonymous caller spends no server memory and cannot
// enumerate method names. The caller's Principal goes in the stream's context, where the
// interceptors find it and authorise it (guard.check). It runs in the connection's reader
// goroutine, which is fine: authentication is a hash and a lookup, or a signature check
// against an OpenID provider's cached keys; a token that needs the provider contacted
// first is left, without a Principal, to the interceptors, which run on the call's own
// goroutine.
func TapHandle(a Authenticator, p Policy, log *slog.Logger) tap.ServerInHandle {
	g := newGuard(a, p, log)
	g.tap = true
	return func(ctx context.Context, info *tap.Info) (context.Context, error) {
		return g.admit(ctx, info.FullMethodName)
	}
}

// UnaryServerInterceptor authenticates (unless TapHandle did) and authorises every unary
// call (see guard.check). Chain it after the logging/recovery interceptor, so denials are
// logged like any call.
func UnaryServerInterceptor(a Authenticator, p Policy, log *slog.Logger) grpc.UnaryServerInterceptor {
	g := newGuard(a, p, log)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := g.check(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming calls.
func StreamServerInterceptor(a Authenticator, p Policy, log *slog.Logger) grpc.StreamServerInterceptor {
	g := newGuard(a, p, log)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := g.check(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &principalStream{ServerStream: ss, ctx: ctx})
	}
}

type principalStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *principalStream) Context() context.Context { return s.ctx }

type guard struct {
	auth  Authenticator
	rules map[string]mask
	log   *slog.Logger
	// tap is set for TapHandle's guard: it must not wait on the network, and leaves a
	// token that needs it (offlineAuthenticator) to the interceptors.
	tap bool
}

func newGuard(a Authenticator, p Policy, log *slog.Logger) *guard {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &guard{auth: a, rules: compile(p), log: log}
}

// check decides one call. Public methods pass without a token. Otherwise an absent or
// unknown token is UNAUTHENTICATED before anything else (admit), so an anonymous caller
// cannot probe the policy; then a method the policy lacks, or one the roles do not cover,
// is PERMISSION_DENIED. On success the context carries the Principal.
func (g *guard) check(ctx context.Context, method string) (context.Context, error) {
	m, known := g.rules[method]
	if known && m&bitPublic != 0 {
		return ctx, nil
	}
	ctx, err := g.admit(ctx, method)
	if err != nil {
		return nil, err
	}
	p, _ := FromContext(ctx)
	if !known {
		g.log.ErrorContext(ctx, "call denied: method missing from the authorisation policy", "method", method, "principal", p.Name)
		return nil, permissionDenied(method)
	}
	if !m.allows(&p) {
		g.log.WarnContext(ctx, "call denied: roles do not allow the method", "method", method, "principal", p.Name, "roles", p.Roles)
		return nil, permissionDenied(method)
	}
	return ctx, nil
}

// admit is the authentication half of check, and all of TapHandle: a public method
// passes as it is; any other, known or not, needs a caller, whom the returned context
// carries. A context that already carries a Principal was admitted by TapHandle on the
// stream's headers: gRPC builds a served call's context, and only TapHandle adds one.
func (g *guard) admit(ctx context.Context, method string) (context.Context, error) {
	if m, known := g.rules[method]; known && m&bitPublic != 0 {
		return ctx, nil
	}
	if _, ok := FromContext(ctx); ok {
		return ctx, nil
	}
	p, ok, decided := g.authenticate(ctx)
	if !decided {
		return ctx, nil // no Principal: the interceptor authenticates it again, off the reader goroutine
	}
	if !ok {
		g.log.InfoContext(ctx, "call rejected: no valid token", "method", loggedMethod(method), "peer", peerAddr(ctx))
		return nil, status.Error(codes.Unauthenticated, MsgUnauthenticated)
	}
	return NewContext(ctx, p), nil
}

// authenticate finds the caller: by bearer token when the call carries an authorization
// header (a wrong token is never rescued by a certificate), else by the verified client
// certificate of an mTLS connection, if it names roles. decided is false only on the tap,
// for a token its authenticator cannot judge without the network.
func (g *guard) authenticate(ctx context.Context) (p Principal, ok, decided bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	if len(md.Get("authorization")) == 0 {
		p, ok = CertificatePrincipal(ctx)
		return p, ok, true
	}
	if g.auth == nil {
		return Principal{}, false, true
	}
	token, ok := bearer(md)
	if !ok {
		return Principal{}, false, true
	}
	if off, can := g.auth.(offlineAuthenticator); can && g.tap {
		return off.authenticateOffline(token)
	}
	p, ok = g.auth.Authenticate(token)
	return p, ok, true
}

// CertificatePrincipal is the caller named by the client certificate the TLS handshake
// verified against the server's client CA: its common name, with its organizational
// units as roles. A certificate without a known role, or one that was presented but not
// verified, names nobody: the gateway's certificate, for one, only secures the transport.
func CertificatePrincipal(ctx context.Context) (Principal, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Principal{}, false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return Principal{}, false
	}
	leaf := info.State.VerifiedChains[0][0]
	var roles []Role
	for _, ou := range leaf.Subject.OrganizationalUnit {
		if r, err := ParseRole(ou); err == nil {
			roles = append(roles, r)
		}
	}
	if leaf.Subject.CommonName == "" || len(roles) == 0 {
		return Principal{}, false
	}
	return Principal{Name: leaf.Subject.CommonName, Roles: roles}, true
}

// bearer extracts the token of the one `authorization: Bearer <token>` header (scheme
// case-insensitive, RFC 6750); several authorization headers are refused as ambiguous.
func bearer(md metadata.MD) (string, bool) {
	vals := md.Get("authorization")
	if len(vals) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(vals[0]), " ")
	token = strings.TrimLeft(token, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// loggedMethod is at most the first 128 bytes of a method name an anonymous caller chose
// (any :path, up to the header limit), so refusals cannot flood the log.
func loggedMethod(method string) string { return apierr.Clip(method, 128) }

func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

func permissionDenied(method string) error {
	st := status.New(codes.PermissionDenied, MsgPermissionDenied)
	withInfo, err := st.WithDetails(&errdetails.ErrorInfo{
		Reason: ReasonPermissionDenied, Domain: apierr.Domain, Metadata: map[string]string{"method": method},
	})
	if err != nil {
		return st.Err()
	}
	return withInfo.Err()
}
