package api_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/server/servertest"
	"github.com/interloan/interloan/services/requests/internal/api"
)

// harvesterClient is an IngestService client authenticated as the harvester, with real
// tokens and the default policy, and one as an operator (who may not flag).
func harvesterClient(t *testing.T, f fixture) (harvester, operator requestsv1.IngestServiceClient) {
	t.Helper()
	var file strings.Builder
	tokens := map[string]string{}
	for name, role := range map[string]auth.Role{"harvester": auth.RoleHarvester, "operator": auth.RoleOperator} {
		token, line, err := auth.NewToken(name, role)
		noErr(t, err)
		file.WriteString(line + "\n")
		tokens[name] = token
	}
	authn, err := auth.Parse([]byte(file.String()))
	noErr(t, err)
	dial := func(name string) requestsv1.IngestServiceClient {
		conn := servertest.DialAuth(t, authn, func(s *grpc.Server) { requestsv1.RegisterIngestServiceServer(s, f.svc) },
			grpc.WithPerRPCCredentials(auth.BearerToken(tokens[name], false)))
		return requestsv1.NewIngestServiceClient(conn)
	}
	return dial("harvester"), dial("operator")
}

// TestFlagBorrowingRequest: the harvester flags a request; it then needs attention with
// the reason, and its history has the flag. The same flag again changes nothing (no new
// etag, no new event); a missing request is NOT_FOUND, bad input INVALID_ARGUMENT with
// every field, and nobody but the harvester may flag.
func TestFlagBorrowingRequest(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.ingestEach(t, item("LIB", "42", t0, func(it *requestsv1.IngestItem) { it.ExternalStatus, it.Note = stSent, "Tack!" }))
	harvester, operator := harvesterClient(t, f)
	const reason = "LIBRIS no longer knows this request: reading it by id answered not found"
	flag := &requestsv1.FlagBorrowingRequestRequest{Name: "borrowingRequests/1", ReasonCode: "EXTERNAL_REQUEST_GONE", Reason: reason}

	r, err := harvester.FlagBorrowingRequest(ctx, flag)
	noErr(t, err)
	if !r.NeedsAttention || r.AttentionReason != reason || r.Status != stSent || r.Note != api.Masked {
		t.Fatalf("flagged (as the harvester sees it): %v", r)
	}
	events := func() []*requestsv1.RequestEvent {
		evs, err := f.requests.ListRequestEvents(ctx, &requestsv1.ListRequestEventsRequest{Parent: "borrowingRequests/1"})
		noErr(t, err)
		return evs.RequestEvents
	}
	evs := events()
	if len(evs) != 2 || evs[1].Action != "flag" || evs[1].Actor != "harvester" || evs[1].AttentionReason != reason || evs[1].Note != "EXTERNAL_REQUEST_GONE" {
		t.Errorf("history: %v", evs)
	}
	again, err := harvester.FlagBorrowingRequest(ctx, flag)
	noErr(t, err)
	if again.Etag != r.Etag || len(events()) != 2 {
		t.Errorf("a repeated flag changed the request: etag %s → %s, %d events", r.Etag, again.Etag, len(events()))
	}
	count, err := f.requests.CountBorrowingRequests(ctx, &requestsv1.CountBorrowingRequestsRequest{})
	noErr(t, err)
	if count.NeedsAttention != 1 {
		t.Errorf("needs_attention count %d", count.NeedsAttention)
	}

	_, err = harvester.FlagBorrowingRequest(ctx, &requestsv1.FlagBorrowingRequestRequest{Name: "borrowingRequests/9", ReasonCode: "EXTERNAL_REQUEST_GONE", Reason: reason})
	servertest.RequireError(t, err, codes.NotFound, "BORROWING_REQUEST_NOT_FOUND")
	for _, tc := range []struct {
		req    *requestsv1.FlagBorrowingRequestRequest
		fields []string
	}{
		{&requestsv1.FlagBorrowingRequestRequest{}, []string{"name", "reason_code", "reason"}},
		{&requestsv1.FlagBorrowingRequestRequest{Name: "partners/1", ReasonCode: "gone", Reason: "  "}, []string{"name", "reason_code", "reason"}},
		{&requestsv1.FlagBorrowingRequestRequest{Name: "borrowingRequests/1", ReasonCode: "1_GONE", Reason: reason}, []string{"reason_code"}},
		{&requestsv1.FlagBorrowingRequestRequest{Name: "borrowingRequests/1", ReasonCode: strings.Repeat("A", 64), Reason: reason}, []string{"reason_code"}},
		{&requestsv1.FlagBorrowingRequestRequest{Name: "borrowingRequests/1", ReasonCode: "GONE", Reason: strings.Repeat("x", 4097)}, []string{"reason"}},
		{&requestsv1.FlagBorrowingRequestRequest{Name: "borrowingRequests/1", ReasonCode: "GONE", Reason: "a\x00b"}, []string{"reason"}},
	} {
		_, err := harvester.FlagBorrowingRequest(ctx, tc.req)
		servertest.RequireError(t, err, codes.InvalidArgument, invalidArgument, tc.fields...)
	}
	if _, err := operator.FlagBorrowingRequest(ctx, flag); status.Code(err) != codes.PermissionDenied {
		t.Errorf("an operator flagged: %v", err)
	}
	if n := len(events()); n != 2 {
		t.Errorf("refused calls wrote %d events", n-2)
	}
}
