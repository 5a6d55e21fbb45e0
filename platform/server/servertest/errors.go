package servertest

import (
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RequireError fails the test unless err is a gRPC status with code, an ErrorInfo with
// reason, and (when given) BadRequest violations for exactly the given fields.
func RequireError(t testing.TB, err error, code codes.Code, reason string, fields ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %v %s, got success", code, reason)
	}
	st := status.Convert(err)
	if st.Code() != code {
		t.Fatalf("code = %v (%s), want %v", st.Code(), st.Message(), code)
	}
	var gotReason string
	var gotFields []string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			gotReason = d.Reason
		case *errdetails.BadRequest:
			for _, v := range d.FieldViolations {
				gotFields = append(gotFields, v.Field)
			}
		}
	}
	if gotReason != reason {
		t.Fatalf("reason = %q, want %q (%s)", gotReason, reason, st.Message())
	}
	if len(fields) > 0 {
		slices.Sort(gotFields)
		want := slices.Sorted(slices.Values(fields))
		if !slices.Equal(gotFields, want) {
			t.Fatalf("violations = %v, want %v (%s)", gotFields, want, st.Message())
		}
	}
}
