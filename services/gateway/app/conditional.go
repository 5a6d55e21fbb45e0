package app

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/interloan/interloan/platform/apierr"
)

// HTTP conditional requests (RFC 9110 §13) over the AIP-154 etag of the resources:
//
//   - a response whose message has a top-level `etag` carries it as a strong `ETag`;
//   - a GET with a matching If-None-Match (or `*`) answers 304 without a body;
//   - If-Match on an update, delete or action becomes the request's `etag` field, so the
//     service's own check decides in the same transaction as the write; a mismatch it
//     reports is 412 instead of the 409 a body-only etag keeps.
//
// The etag travels in the request context from serveAPI to preconditionConn (which sees
// the request message) and to the response hooks, so one generic place handles every RPC.

// etagMismatchReason is the ErrorInfo reason of apierr.EtagMismatch.
var etagMismatchReason = apierr.EtagMismatch("").Reason

// conditions are a request's conditional headers, as serveAPI found them.
type conditions struct {
	method      string
	ifMatch     string // the entity tag without quotes; empty for none or `*`
	hasIfMatch  bool
	ifNoneMatch []string // entity tags without quotes or W/, or "*"
	stream      bool     // set by the response hook: the answer is a server stream
}

type conditionsKey struct{}

func conditionsFrom(ctx context.Context) *conditions {
	c, _ := ctx.Value(conditionsKey{}).(*conditions)
	return c
}

// errNotModified makes the error handler answer 304.
var errNotModified = errors.New("not modified")

// readConditions parses If-Match and If-None-Match. If-Match takes one strong tag or `*`:
// the service compares a single etag, and a weak tag never matches strongly.
func readConditions(r *http.Request) (*conditions, error) {
	c := &conditions{method: r.Method}
	if v := r.Header.Values("If-Match"); len(v) > 0 {
		c.hasIfMatch = true
		h := strings.TrimSpace(strings.Join(v, ","))
		switch {
		case h == "*":
		case strings.HasPrefix(h, "W/"):
			return nil, preconditionFailed("If-Match needs a strong entity tag; a weak one never matches")
		default:
			tag, ok := unquote(h)
			if !ok {
				return nil, gatewayStatus(codes.InvalidArgument, "MALFORMED_REQUEST",
					`If-Match must be one quoted entity tag, e.g. If-Match: "<etag>", or *`, nil).Err()
			}
			c.ifMatch = tag
		}
	}
	for _, v := range r.Header.Values("If-None-Match") {
		for t := range strings.SplitSeq(v, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/") // If-None-Match compares weakly
			if t == "*" {
				c.ifNoneMatch = append(c.ifNoneMatch, t)
			} else if tag, ok := unquote(t); ok {
				c.ifNoneMatch = append(c.ifNoneMatch, tag)
			}
		}
	}
	return c, nil
}

// unquote returns the opaque part of a quoted entity tag.
func unquote(s string) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' || strings.ContainsAny(s[1:len(s)-1], `" ,`) {
		return "", false
	}
	return s[1 : len(s)-1], true
}

func preconditionFailed(msg string) error {
	return &runtime.HTTPStatusError{HTTPStatus: http.StatusPreconditionFailed,
		Err: gatewayStatus(codes.FailedPrecondition, "PRECONDITION_FAILED", msg, nil).Err()}
}

// etagField is m's top-level string field `etag`, if it has one.
func etagField(m protoreflect.Message) protoreflect.FieldDescriptor {
	f := m.Descriptor().Fields().ByName("etag")
	if f == nil || f.Kind() != protoreflect.StringKind || f.Cardinality() == protoreflect.Repeated {
		return nil
	}
	return f
}

// setETag is the response hook: it sends the message's etag as the ETag header and
// turns a GET whose If-None-Match matches into a 304. A server stream (announced by a
// first call without a message) gets no ETag: its messages are many versions.
func setETag(ctx context.Context, w http.ResponseWriter, resp proto.Message) error {
	c := conditionsFrom(ctx)
	if resp == nil {
		if c != nil {
			c.stream = true
		}
		return nil
	}
	if c != nil && c.stream {
		return nil
	}
	m := resp.ProtoReflect()
	f := etagField(m)
	if f == nil {
		return nil
	}
	etag := m.Get(f).String()
	if etag == "" {
		return nil
	}
	w.Header().Set("ETag", `"`+etag+`"`)
	if c != nil && (c.method == http.MethodGet || c.method == http.MethodHead) {
		for _, t := range c.ifNoneMatch {
			if t == "*" || t == etag {
				return errNotModified
			}
		}
	}
	return nil
}

// notModified answers 304 with the validators and no body.
func notModified(w http.ResponseWriter) {
	w.Header().Del("Content-Type")
	w.Header().Del("Content-Length")
	w.WriteHeader(http.StatusNotModified)
}

// ifMatchFailed reports whether err is the service's etag mismatch on a request whose
// precondition came from If-Match; that is 412, while a body-only etag stays ABORTED's 409.
func ifMatchFailed(ctx context.Context, err error) bool {
	c := conditionsFrom(ctx)
	if c == nil || c.ifMatch == "" || status.Code(err) != codes.Aborted {
		return false
	}
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == etagMismatchReason && info.GetDomain() == apierr.Domain {
			return true
		}
	}
	return false
}

// preconditionConn is an upstream connection that puts an If-Match etag into the
// outgoing request message: into its top-level `etag` (deletes, actions), or else into
// the `etag` of its one message field that has one (the resource of an update). A request
// with nowhere to put it is refused rather than sent without its precondition.
type preconditionConn struct{ grpc.ClientConnInterface }

func (p preconditionConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if c := conditionsFrom(ctx); c != nil && c.hasIfMatch {
		msg, ok := args.(proto.Message)
		if !ok {
			return status.Errorf(codes.Internal, "request %T is not a proto message", args)
		}
		if err := applyIfMatch(msg.ProtoReflect(), c); err != nil {
			return err
		}
	}
	return p.ClientConnInterface.Invoke(ctx, method, args, reply, opts...)
}

func (p preconditionConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if c := conditionsFrom(ctx); c != nil && c.hasIfMatch {
		return nil, ifMatchUnsupported()
	}
	return p.ClientConnInterface.NewStream(ctx, desc, method, opts...)
}

func ifMatchUnsupported() error {
	return gatewayStatus(codes.InvalidArgument, "MALFORMED_REQUEST",
		"If-Match applies only to updates, deletes and actions on a resource", nil).Err()
}

// applyIfMatch sets the request's etag from If-Match. An etag also given in the body must
// agree with the header.
func applyIfMatch(req protoreflect.Message, c *conditions) error {
	target, f := req, etagField(req)
	if f == nil && c.method == http.MethodPatch {
		target = nil
		fields := req.Descriptor().Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			if fd.Kind() != protoreflect.MessageKind || fd.Cardinality() == protoreflect.Repeated || fd.Message().Fields().ByName("etag") == nil {
				continue
			}
			if target != nil {
				return ifMatchUnsupported() // ambiguous: more than one resource
			}
			target = req.Mutable(fd).Message()
			if f = etagField(target); f == nil {
				return ifMatchUnsupported()
			}
		}
	}
	if f == nil {
		return ifMatchUnsupported()
	}
	if c.ifMatch == "" { // If-Match: * — any current version, so no etag to compare
		return nil
	}
	if body := target.Get(f).String(); body != "" && body != c.ifMatch {
		return preconditionFailed("the If-Match header and the etag in the request differ")
	}
	target.Set(f, protoreflect.ValueOfString(c.ifMatch))
	return nil
}
