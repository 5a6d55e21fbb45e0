package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/interloan/interloan/platform/apierr"
)

// Errors are JSON google.rpc.Status bodies ({code, message, details}) with the HTTP
// status grpc-gateway maps from the gRPC code (INVALID_ARGUMENT and FAILED_PRECONDITION
// 400, NOT_FOUND 404, ALREADY_EXISTS and ABORTED 409, UNIMPLEMENTED 501, UNAVAILABLE
// 503, UNAUTHENTICATED 401 with `WWW-Authenticate: Bearer`, PERMISSION_DENIED 403, ...),
// except that an etag mismatch on a request whose etag came from If-Match is 412 (see
// conditional.go). Upstream errors keep their ErrorInfo and BadRequest details untouched.
// Errors the gateway itself makes (a body that is not valid JSON, an unknown route, an
// unreachable upstream) get an ErrorInfo too, so a client can always switch on
// details[].reason.

// gatewayStatus is a status made by the gateway, with ErrorInfo like the services' own.
func gatewayStatus(c codes.Code, reason, msg string, md map[string]string) *status.Status {
	st := status.New(c, msg)
	withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: apierr.Domain, Metadata: md})
	if err != nil {
		return st
	}
	return withInfo
}

func (g *gateway) httpError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errNotModified) {
		notModified(w)
		return
	}
	if ifMatchFailed(ctx, err) {
		err = &runtime.HTTPStatusError{HTTPStatus: http.StatusPreconditionFailed, Err: err}
	}
	var withHTTP *runtime.HTTPStatusError
	if errors.As(err, &withHTTP) {
		inner, ok := status.FromError(withHTTP.Err)
		if !ok && withHTTP.HTTPStatus < 500 {
			// e.g. a malformed %-escape in the path: the caller's mistake, not UNKNOWN.
			inner = status.New(codes.InvalidArgument, withHTTP.Err.Error())
		}
		err = &runtime.HTTPStatusError{HTTPStatus: withHTTP.HTTPStatus, Err: g.normalize(ctx, inner).Err()}
	} else {
		err = g.normalize(ctx, status.Convert(err)).Err()
	}
	if status.Code(err) == codes.Unauthenticated {
		// grpc-gateway would put the status message in WWW-Authenticate; RFC 6750 wants
		// the scheme, and nothing more helps an attacker.
		w = bearerChallenge{w}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// streamError is the same for an error in the middle of a server stream, which is sent
// as the stream's last line, {"error": {...}}.
func (g *gateway) streamError(ctx context.Context, err error) *status.Status {
	return g.normalize(ctx, status.Convert(err))
}

// normalize leaves a status that has ErrorInfo (every upstream domain error has) as it
// is. Otherwise the status comes from grpc or grpc-gateway: it gets an ErrorInfo whose
// reason is the canonical code name, and messages that would leak the gateway's inside
// (upstream addresses, dial errors, internal failures) are logged and replaced.
func (g *gateway) normalize(ctx context.Context, st *status.Status) *status.Status {
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.ErrorInfo); ok {
			return st
		}
	}
	svc := rpcService(ctx)
	switch st.Code() {
	case codes.OK:
		return gatewayStatus(codes.Internal, "INTERNAL", "internal error", nil) // an error without a code is a bug
	case codes.Unavailable:
		g.opts.Logger.WarnContext(ctx, "upstream unavailable", "service", svc, "error", st.Message())
		var md map[string]string
		msg := "the service is unavailable; retry later"
		if svc != "" {
			md = map[string]string{"service": svc}
			msg = fmt.Sprintf("%s is unavailable; retry later", svc)
		}
		return gatewayStatus(codes.Unavailable, "UPSTREAM_UNAVAILABLE", msg, md)
	case codes.Unknown, codes.Internal, codes.DataLoss:
		g.opts.Logger.ErrorContext(ctx, "gateway or upstream failure", "service", svc, "code", st.Code().String(), "error", st.Message())
		return gatewayStatus(codes.Internal, "INTERNAL", "internal error", nil)
	}
	withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Reason: code.Code(st.Code()).String(), Domain: apierr.Domain})
	if err != nil {
		return st
	}
	return withInfo
}

// routingError answers a request no route matches. grpc-gateway's default turns a wrong
// method into 501; an HTTP client expects 405.
func (g *gateway) routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	method, path := apierr.Truncate(r.Method), apierr.Truncate(r.URL.Path)
	var st *status.Status
	switch httpStatus {
	case http.StatusNotFound:
		st = gatewayStatus(codes.NotFound, "ROUTE_NOT_FOUND", fmt.Sprintf("no route for %s %s", method, path), nil)
	case http.StatusMethodNotAllowed:
		st = gatewayStatus(codes.Unimplemented, "METHOD_NOT_ALLOWED", fmt.Sprintf("method %s is not allowed on %s", method, path), nil)
	case http.StatusBadRequest:
		st = gatewayStatus(codes.InvalidArgument, "MALFORMED_REQUEST", "malformed request path", nil)
	default:
		st = gatewayStatus(codes.Internal, "INTERNAL", "unexpected routing error", nil)
	}
	runtime.HTTPError(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: st.Err()})
}

// bearerChallenge answers a 401 with `WWW-Authenticate: Bearer realm="interloan"`,
// replacing whatever the error handler set before writing the header.
type bearerChallenge struct{ http.ResponseWriter }

func (b bearerChallenge) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		b.Header().Set("WWW-Authenticate", `Bearer realm="interloan"`)
	}
	b.ResponseWriter.WriteHeader(code)
}
