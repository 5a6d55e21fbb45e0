package web

import (
	"net/http"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// problem is a service's refusal in the terms a page shows it: a catalog key for the
// whole, the service's own message (already written for people), and field violations
// by field path, to show beside their inputs.
type problem struct {
	HTTP    int
	Key     string
	Message string
	Reason  string
	Fields  map[string]string
}

// Conflict reports a concurrent change (the etag no longer matches).
func (p *problem) Conflict() bool { return p != nil && p.Reason == "ETAG_MISMATCH" }

// Field returns the violation for field, if any.
func (p *problem) Field(field string) string {
	if p == nil {
		return ""
	}
	return p.Fields[field]
}

// problemOf reads a gRPC error from a service.
func problemOf(err error) *problem {
	st := status.Convert(err)
	p := &problem{Message: st.Message(), Fields: map[string]string{}}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			p.Reason = d.GetReason()
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				p.Fields[v.GetField()] = v.GetDescription()
			}
		}
	}
	switch st.Code() {
	case codes.InvalidArgument, codes.OutOfRange:
		p.HTTP, p.Key = http.StatusBadRequest, "error.invalid"
	case codes.NotFound:
		p.HTTP, p.Key = http.StatusNotFound, "error.not_found"
	case codes.AlreadyExists:
		p.HTTP, p.Key = http.StatusConflict, "error.exists"
	case codes.Aborted:
		p.HTTP, p.Key = http.StatusConflict, "error.aborted"
		if p.Conflict() {
			p.Key = "error.conflict"
		}
	case codes.FailedPrecondition:
		p.HTTP, p.Key = http.StatusConflict, "error.precondition"
	case codes.PermissionDenied:
		p.HTTP, p.Key = http.StatusForbidden, "error.forbidden"
	case codes.Unauthenticated:
		p.HTTP, p.Key = http.StatusUnauthorized, "error.signed_out"
	case codes.ResourceExhausted:
		p.HTTP, p.Key = http.StatusTooManyRequests, "error.busy"
	case codes.Unavailable, codes.DeadlineExceeded:
		p.HTTP, p.Key = http.StatusServiceUnavailable, "error.unavailable"
	default:
		p.HTTP, p.Key = http.StatusInternalServerError, "error.internal"
		p.Message = "" // an internal error's text is not for the page
	}
	return p
}

// apiFail renders the error page for a service's refusal of a page's call.
func (h *Handler) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemOf(err)
	if p.HTTP >= 500 {
		h.log.Warn("console: a service call failed", "path", r.URL.Path, "error", err)
	}
	h.render(w, r, p.HTTP, "error", errorData{Key: p.Key, Status: p.HTTP, Detail: p.Message})
}
