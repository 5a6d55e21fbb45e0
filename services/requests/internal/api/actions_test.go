package api_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/server/servertest"
)

const (
	stReady      = requestsv1.Status_STATUS_READY_TO_SEND
	stWill       = requestsv1.Status_STATUS_WILL_SUPPLY
	stShippedDig = requestsv1.Status_STATUS_SHIPPED_DIGITALLY
	stRecPhys    = requestsv1.Status_STATUS_RECEIVED_PHYSICALLY
	stRecDig     = requestsv1.Status_STATUS_RECEIVED_DIGITALLY
	stLoaned     = requestsv1.Status_STATUS_LOANED_TO_PATRON
	stRetByP     = requestsv1.Status_STATUS_RETURNED_BY_PATRON
	stRetToP     = requestsv1.Status_STATUS_RETURNED_TO_PARTNER
	stRejected   = requestsv1.Status_STATUS_REJECTED_BY_PARTNER
	stCancPatron = requestsv1.Status_STATUS_CANCELLED_BY_PATRON
	stExpired    = requestsv1.Status_STATUS_EXPIRED
)

// errorInfo returns the ErrorInfo of a status error.
func errorInfo(t *testing.T, err error) *errdetails.ErrorInfo {
	t.Helper()
	for _, d := range status.Convert(err).Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei
		}
	}
	t.Fatalf("no ErrorInfo in %v", err)
	return nil
}

// seedOne imports one request of LIB with status st and returns its name.
func (f fixture) seedOne(t *testing.T, ext string, st requestsv1.Status, mods ...func(*requestsv1.IngestItem)) string {
	t.Helper()
	resps, err := f.send(t, batch("b"+ext, item("LIB", ext, t0.Add(-time.Hour), append([]func(*requestsv1.IngestItem){
		func(it *requestsv1.IngestItem) { it.ExternalStatus = st }}, mods...)...)))
	noErr(t, err)
	return resps[0].Results[0].BorrowingRequest
}

func (f fixture) events(t *testing.T, name string) []*requestsv1.RequestEvent {
	t.Helper()
	resp, err := f.requests.ListRequestEvents(t.Context(), &requestsv1.ListRequestEventsRequest{Parent: name, PageSize: 1000})
	noErr(t, err)
	return resp.RequestEvents
}

// TestEveryActionOverGRPC calls each custom method where its status allows it and
// checks the status, the etag chain and the audit event it left.
func TestEveryActionOverGRPC(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	loan := f.seedOne(t, "L", stCreated, func(it *requestsv1.IngestItem) { it.Partner = "" })
	r, err := f.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: loan})
	noErr(t, err)
	etag := r.Etag
	step := func(name, action string, call func(etag string) (*requestsv1.BorrowingRequest, error), want requestsv1.Status) {
		t.Helper()
		r, err := call(etag)
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		if r.Status != want || r.Etag == etag || r.Name != name {
			t.Fatalf("%s: %s %s (etag %s → %s)", action, r.Name, r.Status, etag, r.Etag)
		}
		etag = r.Etag
		evs := f.events(t, name)
		last := evs[len(evs)-1]
		if last.Action != action || last.Actor != servertest.Principal || last.ToStatus != want || last.Note != "note: "+action {
			t.Fatalf("%s: event %v", action, last)
		}
	}
	step(loan, "mark_ready_to_send", func(e string) (*requestsv1.BorrowingRequest, error) {
		return f.requests.MarkReadyToSend(ctx, &requestsv1.MarkReadyToSendRequest{Name: loan, Etag: e, Note: "note: mark_ready_to_send"})
	}, stReady)
	step(loan, "send", func(e string) (*requestsv1.BorrowingRequest, error) {
		return f.requests.SendBorrowingRequest(ctx, &requestsv1.SendBorrowingRequestRequest{Name: loan, Etag: e, Note: "note: send", Partner: "partners/Hig"})
	}, stSent)
	step(loan, "receive_physically", func(e string) (*requestsv1.BorrowingRequest, error) {
		return f.requests.ReceiveBorrowingRequest(ctx, &requestsv1.ReceiveBorrowingRequestRequest{Name: loan, Etag: e, Note: "note: receive_physically"})
	}, stRecPhys)
	step(loan, "loan_to_patron", func(e string) (*requestsv1.BorrowingRequest, error) {
		return f.requests.LoanToPatron(ctx, &requestsv1.LoanToPatronRequest{Name: loan, Etag: e, Note: "note: loan_to_patron"})
	}, stLoaned)
	step(loan, "return_by_patron", func(e string) (*requestsv1.BorrowingRequest, error) {
		return f.requests.ReturnByPatron(ctx, &requestsv1.ReturnByPatronRequest{Name: loan, Etag: e, Note: "note: return_by_patron"})
	}, stRetByP)
	step(loan, "return_to_partner", func(e string) (*requestsv1.BorrowingRequest, error) {
		return f.requests.ReturnToPartner(ctx, &requestsv1.ReturnToPartnerRequest{Name: loan, Etag: e, Note: "note: return_to_partner"})
	}, stRetToP)
	step(loan, "complete", func(e string) (*requestsv1.BorrowingRequest, error) {
		return f.requests.CompleteBorrowingRequest(ctx, &requestsv1.CompleteBorrowingRequestRequest{Name: loan, Etag: e, Note: "note: complete"})
	}, stCompleted)
	step(loan, "add_note", func(e string) (*requestsv1.BorrowingRequest, error) {
		return f.requests.AddBorrowingRequestNote(ctx, &requestsv1.AddBorrowingRequestNoteRequest{Name: loan, Etag: e, Note: "note: add_note"})
	}, stCompleted)
	step(loan, "reactivate", func(e string) (*requestsv1.BorrowingRequest, error) {
		return f.requests.ReactivateBorrowingRequest(ctx, &requestsv1.ReactivateBorrowingRequestRequest{Name: loan, Etag: e, Note: "note: reactivate"})
	}, stRetToP)
	step(loan, "complete", func(e string) (*requestsv1.BorrowingRequest, error) {
		return f.requests.CompleteBorrowingRequest(ctx, &requestsv1.CompleteBorrowingRequestRequest{Name: loan, Etag: e, Note: "note: complete"})
	}, stCompleted)
	step(loan, "anonymize", func(e string) (*requestsv1.BorrowingRequest, error) {
		return f.requests.AnonymizeBorrowingRequest(ctx, &requestsv1.AnonymizeBorrowingRequestRequest{Name: loan, Etag: e, Note: "note: anonymize"})
	}, stCompleted)
	evs := f.events(t, loan)
	if evs[2].Partner != "partners/Hig" || evs[0].Action != "import" || evs[0].Actor != "harvester" {
		t.Errorf("events %v", evs[:3])
	}
	for _, ev := range evs[:len(evs)-1] {
		if ev.Note != "" {
			t.Errorf("note kept after anonymizing: %v", ev)
		}
	}

	// The side exits and the digital path, each from a fresh request.
	for _, tc := range []struct {
		from   requestsv1.Status
		action string
		call   func(name string) (*requestsv1.BorrowingRequest, error)
		want   requestsv1.Status
	}{
		{stWill, "cancel_by_patron", func(n string) (*requestsv1.BorrowingRequest, error) {
			return f.requests.CancelBorrowingRequest(ctx, &requestsv1.CancelBorrowingRequestRequest{Name: n, Note: "note: cancel_by_patron", CancelledBy: requestsv1.CancelledBy_CANCELLED_BY_PATRON})
		}, stCancPatron},
		{stReady, "cancel_by_staff", func(n string) (*requestsv1.BorrowingRequest, error) {
			return f.requests.CancelBorrowingRequest(ctx, &requestsv1.CancelBorrowingRequestRequest{Name: n, Note: "note: cancel_by_staff"})
		}, stCancelled},
		{stSent, "reject", func(n string) (*requestsv1.BorrowingRequest, error) {
			return f.requests.RejectBorrowingRequest(ctx, &requestsv1.RejectBorrowingRequestRequest{Name: n, Note: "note: reject"})
		}, stRejected},
		{stCreated, "expire", func(n string) (*requestsv1.BorrowingRequest, error) {
			return f.requests.ExpireBorrowingRequest(ctx, &requestsv1.ExpireBorrowingRequestRequest{Name: n, Note: "note: expire"})
		}, stExpired},
		{stRejected, "reactivate", func(n string) (*requestsv1.BorrowingRequest, error) {
			return f.requests.ReactivateBorrowingRequest(ctx, &requestsv1.ReactivateBorrowingRequestRequest{Name: n, Note: "note: reactivate"})
		}, stReady},
		{stShippedDig, "receive_digitally", func(n string) (*requestsv1.BorrowingRequest, error) { // no format: what was shipped
			return f.requests.ReceiveBorrowingRequest(ctx, &requestsv1.ReceiveBorrowingRequestRequest{Name: n, Note: "note: receive_digitally"})
		}, stRecDig},
		{stSent, "receive_digitally", func(n string) (*requestsv1.BorrowingRequest, error) {
			return f.requests.ReceiveBorrowingRequest(ctx, &requestsv1.ReceiveBorrowingRequestRequest{Name: n, Note: "note: receive_digitally", Format: requestsv1.Format_FORMAT_DIGITAL})
		}, stRecDig},
		{stSent, "send", func(n string) (*requestsv1.BorrowingRequest, error) { // again, keeping the partner
			return f.requests.SendBorrowingRequest(ctx, &requestsv1.SendBorrowingRequestRequest{Name: n, Note: "note: send"})
		}, stSent},
		{stShipped, "declare_lost", func(n string) (*requestsv1.BorrowingRequest, error) { // lost in the post
			return f.requests.DeclareItemLost(ctx, &requestsv1.DeclareItemLostRequest{Name: n, Note: "note: declare_lost"})
		}, stCompleted},
		{stLoaned, "declare_lost", func(n string) (*requestsv1.BorrowingRequest, error) { // never returned
			return f.requests.DeclareItemLost(ctx, &requestsv1.DeclareItemLostRequest{Name: n, Note: "note: declare_lost"})
		}, stCompleted},
	} {
		name := f.seedOne(t, fmt.Sprint(tc.action, tc.from), tc.from)
		r, err := tc.call(name)
		if err != nil || r.Status != tc.want {
			t.Errorf("%s from %s: %v %v", tc.action, tc.from, r.GetStatus(), err)
			continue
		}
		evs := f.events(t, name)
		if last := evs[len(evs)-1]; last.Action != tc.action || last.FromStatus != tc.from || last.Note != "note: "+tc.action {
			t.Errorf("%s from %s: event %v", tc.action, tc.from, last)
		}
	}
}

// TestActionRefusals: an illegal action is FAILED_PRECONDITION naming the status and the
// allowed actions; a stale etag is ABORTED; a missing request NOT_FOUND; sending without
// a partner PARTNER_REQUIRED; resolving without a flag is not allowed. None changes
// anything.
func TestActionRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	name := f.seedOne(t, "1", stSent)
	before, err := f.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: name})
	noErr(t, err)

	_, err = f.requests.LoanToPatron(ctx, &requestsv1.LoanToPatronRequest{Name: name})
	servertest.RequireError(t, err, codes.FailedPrecondition, "ACTION_NOT_ALLOWED")
	md := errorInfo(t, err).Metadata
	if md["status"] != "STATUS_REQUEST_SENT" || md["action"] != "ACTION_LOAN_TO_PATRON" || md["name"] != name ||
		md["allowed_actions"] != "ACTION_SEND,ACTION_RECEIVE_PHYSICALLY,ACTION_RECEIVE_DIGITALLY,ACTION_CANCEL_BY_STAFF,ACTION_CANCEL_BY_PATRON,ACTION_REJECT,ACTION_EXPIRE,ACTION_ADD_NOTE" {
		t.Errorf("metadata %v", md)
	}
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "not allowed in status STATUS_REQUEST_SENT") {
		t.Errorf("message %q", msg)
	}
	_, err = f.requests.CompleteBorrowingRequest(ctx, &requestsv1.CompleteBorrowingRequestRequest{Name: name, Etag: "stale"})
	servertest.RequireError(t, err, codes.Aborted, "ETAG_MISMATCH")
	_, err = f.requests.CompleteBorrowingRequest(ctx, &requestsv1.CompleteBorrowingRequestRequest{Name: "borrowingRequests/99"})
	servertest.RequireError(t, err, codes.NotFound, "BORROWING_REQUEST_NOT_FOUND")
	_, err = f.requests.ResolveBorrowingRequestAttention(ctx, &requestsv1.ResolveBorrowingRequestAttentionRequest{Name: name})
	servertest.RequireError(t, err, codes.FailedPrecondition, "ACTION_NOT_ALLOWED")
	noPartner := f.seedOne(t, "2", stReady, func(it *requestsv1.IngestItem) { it.Partner = "" })
	_, err = f.requests.SendBorrowingRequest(ctx, &requestsv1.SendBorrowingRequestRequest{Name: noPartner})
	servertest.RequireError(t, err, codes.FailedPrecondition, "PARTNER_REQUIRED")
	// A received loan is not completed without going back; the refusal says why.
	received := f.seedOne(t, "3", stRecPhys, func(it *requestsv1.IngestItem) { it.Media = requestsv1.Media_MEDIA_LOAN })
	_, err = f.requests.CompleteBorrowingRequest(ctx, &requestsv1.CompleteBorrowingRequestRequest{Name: received})
	servertest.RequireError(t, err, codes.FailedPrecondition, "ACTION_NOT_ALLOWED")
	if md := errorInfo(t, err).Metadata; md["allowed_actions"] != "ACTION_LOAN_TO_PATRON,ACTION_RETURN_TO_PARTNER,ACTION_ADD_NOTE,ACTION_DECLARE_LOST" ||
		!strings.Contains(status.Convert(err).Message(), "a loan goes back to the partner first") {
		t.Errorf("complete a received loan: %v", err)
	}

	after, err := f.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: name})
	noErr(t, err)
	if !proto.Equal(before, after) || len(f.events(t, name)) != 1 {
		t.Errorf("a refused action changed the request")
	}
}

// TestActionInvalidInput: bad input is INVALID_ARGUMENT listing every field, and
// changes nothing.
func TestActionInvalidInput(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	name := f.seedOne(t, "1", stSent)
	long := strings.Repeat("x", 4097)
	for _, tc := range []struct {
		call   func() error
		fields []string
	}{
		{func() error {
			_, err := f.requests.SendBorrowingRequest(ctx, &requestsv1.SendBorrowingRequestRequest{Name: "borrowingRequests/0", Note: long, Partner: "Hig"})
			return err
		}, []string{"name", "note", "partner"}},
		{func() error {
			_, err := f.requests.ReceiveBorrowingRequest(ctx, &requestsv1.ReceiveBorrowingRequestRequest{Name: name, Format: 9, Note: "a\x00b"})
			return err
		}, []string{"format", "note"}},
		{func() error {
			_, err := f.requests.CancelBorrowingRequest(ctx, &requestsv1.CancelBorrowingRequestRequest{Name: "requests/1", CancelledBy: 7})
			return err
		}, []string{"name", "cancelled_by"}},
		{func() error {
			_, err := f.requests.AddBorrowingRequestNote(ctx, &requestsv1.AddBorrowingRequestNoteRequest{Name: name, Note: " \n "})
			return err
		}, []string{"note"}},
		{func() error {
			_, err := f.requests.AnonymizeBorrowingRequest(ctx, &requestsv1.AnonymizeBorrowingRequestRequest{})
			return err
		}, []string{"name"}},
		{func() error { // checked before the status: the missing note is the caller's to fix
			_, err := f.requests.DeclareItemLost(ctx, &requestsv1.DeclareItemLostRequest{Name: name, Note: "  "})
			return err
		}, []string{"note"}},
		{func() error {
			_, err := f.requests.BatchActBorrowingRequests(ctx, &requestsv1.BatchActBorrowingRequestsRequest{
				Action: requestsv1.Action_ACTION_DECLARE_LOST, Targets: []*requestsv1.BatchActTarget{{Name: name}}})
			return err
		}, []string{"note"}},
		{func() error {
			_, err := f.requests.ListAllowedActions(ctx, &requestsv1.ListAllowedActionsRequest{Name: "borrowingRequests/x"})
			return err
		}, []string{"name"}},
		{func() error {
			_, err := f.requests.ListRequestEvents(ctx, &requestsv1.ListRequestEventsRequest{Parent: "borrowingRequests/1/events"})
			return err
		}, []string{"parent"}},
		{func() error {
			_, err := f.requests.ListRequestEvents(ctx, &requestsv1.ListRequestEventsRequest{Parent: name, PageSize: -1})
			return err
		}, []string{"page_size"}},
		{func() error {
			_, err := f.requests.CountBorrowingRequests(ctx, &requestsv1.CountBorrowingRequestsRequest{Owner: "G UB"})
			return err
		}, []string{"owner"}},
		{func() error {
			_, err := f.requests.AnonymizeBorrowingRequests(ctx, &requestsv1.AnonymizeBorrowingRequestsRequest{OlderThanDays: 0, Owner: "/"})
			return err
		}, []string{"older_than_days", "owner"}},
	} {
		servertest.RequireError(t, tc.call(), codes.InvalidArgument, invalidArgument, tc.fields...)
	}
	if evs := f.events(t, name); len(evs) != 1 {
		t.Errorf("bad input changed the request: %v", evs)
	}
}

// TestEtagRace sends two actions with the same etag at once, many times: one wins, the
// other is ABORTED, and the audit trail has only the winner.
func TestEtagRace(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for round := range 30 {
		name := f.seedOne(t, fmt.Sprint(round), stSent)
		r, err := f.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: name})
		noErr(t, err)
		calls := []func() error{
			func() error {
				_, err := f.requests.CancelBorrowingRequest(ctx, &requestsv1.CancelBorrowingRequestRequest{Name: name, Etag: r.Etag})
				return err
			},
			func() error {
				_, err := f.requests.ReceiveBorrowingRequest(ctx, &requestsv1.ReceiveBorrowingRequestRequest{Name: name, Etag: r.Etag})
				return err
			},
		}
		errs := make([]error, len(calls))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, call := range calls {
			wg.Go(func() {
				<-start
				errs[i] = call()
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
				continue
			}
			servertest.RequireError(t, err, codes.Aborted, "ETAG_MISMATCH")
		}
		if evs := f.events(t, name); won != 1 || len(evs) != 2 {
			t.Fatalf("round %d: %d won, %d events", round, won, len(evs))
		}
	}
}

func TestListAllowedActions(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	summary := func(name string) string {
		t.Helper()
		resp, err := f.requests.ListAllowedActions(ctx, &requestsv1.ListAllowedActionsRequest{Name: name})
		noErr(t, err)
		r, err := f.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: name})
		noErr(t, err)
		if resp.Status != r.Status || resp.Etag != r.Etag {
			t.Errorf("%s: status %s etag %s, request %s %s", name, resp.Status, resp.Etag, r.Status, r.Etag)
		}
		var parts []string
		for _, a := range resp.AllowedActions {
			note := ""
			if a.NoteRequired {
				note = "(note)"
			}
			parts = append(parts, fmt.Sprintf("%s:%s%s→%s", strings.TrimPrefix(a.Action.String(), "ACTION_"), a.Method, note, strings.TrimPrefix(a.ToStatus.String(), "STATUS_")))
		}
		return strings.Join(parts, " ")
	}
	created := f.seedOne(t, "1", stCreated)
	if got := summary(created); got != "MARK_READY_TO_SEND:markReadyToSend→READY_TO_SEND SEND:send→REQUEST_SENT "+
		"CANCEL_BY_STAFF:cancel→CANCELLED_BY_STAFF CANCEL_BY_PATRON:cancel→CANCELLED_BY_PATRON EXPIRE:expire→EXPIRED ADD_NOTE:addNote(note)→CREATED" {
		t.Errorf("created: %s", got)
	}
	// A completed request lists where reactivating leads: where it was completed from.
	done := f.seedOne(t, "2", stRecDig)
	_, err := f.requests.CompleteBorrowingRequest(ctx, &requestsv1.CompleteBorrowingRequestRequest{Name: done})
	noErr(t, err)
	if got := summary(done); got != "REACTIVATE:reactivate→RECEIVED_DIGITALLY ADD_NOTE:addNote(note)→COMPLETED ANONYMIZE:anonymize→COMPLETED" {
		t.Errorf("completed: %s", got)
	}
	// A flagged request offers resolving it.
	flagged := f.seedOne(t, "3", stLoaned)
	_, err = f.send(t, batch("c", item("LIB", "3", t0, func(it *requestsv1.IngestItem) {
		it.ExternalStatus, it.ExternalReference.StatusRaw = stCancelled, "Avbeställd"
	})))
	noErr(t, err)
	if got := summary(flagged); got != "RETURN_BY_PATRON:returnByPatron→RETURNED_BY_PATRON ADD_NOTE:addNote(note)→LOANED_TO_PATRON RESOLVE_ATTENTION:resolveAttention→LOANED_TO_PATRON DECLARE_LOST:declareLost(note)→COMPLETED" {
		t.Errorf("flagged: %s", got)
	}
	_, err = f.requests.ListAllowedActions(ctx, &requestsv1.ListAllowedActionsRequest{Name: "borrowingRequests/99"})
	servertest.RequireError(t, err, codes.NotFound, "BORROWING_REQUEST_NOT_FOUND")
}

// TestBatchActTargets acts on named requests: a result per target in order, each failure
// what the single call would answer; validate_only changes nothing.
func TestBatchActTargets(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a := f.seedOne(t, "1", stSent)
	b := f.seedOne(t, "2", stCompleted)
	c := f.seedOne(t, "3", stWill)
	ra, err := f.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: a})
	noErr(t, err)
	req := &requestsv1.BatchActBorrowingRequestsRequest{
		Action: requestsv1.Action_ACTION_CANCEL_BY_STAFF, Note: "budget",
		Targets: []*requestsv1.BatchActTarget{{Name: a, Etag: ra.Etag}, {Name: b}, {Name: "borrowingRequests/99"}, {Name: c, Etag: "stale"}},
	}
	summary := func(resp *requestsv1.BatchActBorrowingRequestsResponse) string {
		var parts []string
		for _, r := range resp.Results {
			s := fmt.Sprintf("%s:%v:%s", r.Name, r.Succeeded, strings.TrimPrefix(r.Status.String(), "STATUS_"))
			if r.Error != nil {
				s += ":" + codes.Code(r.Error.Code).String() + "/" + errorInfo(t, status.FromProto(r.Error).Err()).Reason
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, " ")
	}
	want := "borrowingRequests/1:true:CANCELLED_BY_STAFF borrowingRequests/2:false:COMPLETED:FailedPrecondition/ACTION_NOT_ALLOWED " +
		"borrowingRequests/99:false:UNSPECIFIED:NotFound/BORROWING_REQUEST_NOT_FOUND borrowingRequests/3:false:WILL_SUPPLY:Aborted/ETAG_MISMATCH"

	req.ValidateOnly = true
	resp, err := f.requests.BatchActBorrowingRequests(ctx, req)
	noErr(t, err)
	if got := summary(resp); got != want || resp.Results[0].Etag != "" {
		t.Errorf("validate only:\n got %s\nwant %s", got, want)
	}
	if got, _ := f.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: a}); got.Status != stSent {
		t.Fatal("validate_only changed a request")
	}
	req.ValidateOnly = false
	resp, err = f.requests.BatchActBorrowingRequests(ctx, req)
	noErr(t, err)
	if got := summary(resp); got != want {
		t.Errorf("batch:\n got %s\nwant %s", got, want)
	}
	if md := errorInfo(t, status.FromProto(resp.Results[1].Error).Err()).Metadata; md["status"] != "STATUS_COMPLETED" || !strings.Contains(md["allowed_actions"], "ACTION_REACTIVATE") {
		t.Errorf("refusal metadata %v", md)
	}
	// Each failure is exactly the status the single call answers: code, message and
	// details (ErrorInfo with its domain and metadata).
	for i, single := range []error{
		func() error {
			_, err := f.requests.CancelBorrowingRequest(ctx, &requestsv1.CancelBorrowingRequestRequest{Name: b, Note: "budget"})
			return err
		}(),
		func() error {
			_, err := f.requests.CancelBorrowingRequest(ctx, &requestsv1.CancelBorrowingRequestRequest{Name: "borrowingRequests/99", Note: "budget"})
			return err
		}(),
		func() error {
			_, err := f.requests.CancelBorrowingRequest(ctx, &requestsv1.CancelBorrowingRequestRequest{Name: c, Etag: "stale", Note: "budget"})
			return err
		}(),
	} {
		got, want := status.FromProto(resp.Results[i+1].Error), status.Convert(single)
		same := got.Code() == want.Code() && got.Message() == want.Message() && len(got.Details()) == len(want.Details())
		for j := 0; same && j < len(got.Details()); j++ {
			g, gok := got.Details()[j].(proto.Message)
			w, wok := want.Details()[j].(proto.Message)
			same = gok && wok && proto.Equal(g, w)
		}
		if !same {
			t.Errorf("result %d:\n got %v\nwant %v", i+1, got.Proto(), want.Proto())
		}
	}
	got, err := f.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: a})
	noErr(t, err)
	if got.Etag != resp.Results[0].Etag || got.Status != requestsv1.Status_STATUS_CANCELLED_BY_STAFF {
		t.Errorf("stored %s %s, result etag %s", got.Status, got.Etag, resp.Results[0].Etag)
	}
	if evs := f.events(t, a); evs[len(evs)-1].Note != "budget" {
		t.Errorf("batch note: %v", evs[len(evs)-1])
	}
}

// TestBatchActFilter acts on the requests a filter matches, a page at a time.
func TestBatchActFilter(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for i := range 5 {
		f.seedOne(t, fmt.Sprint(i), stSent, func(it *requestsv1.IngestItem) { it.Owner = []string{"GUB", "KB"}[i%2] })
	}
	req := &requestsv1.BatchActBorrowingRequestsRequest{
		Action: requestsv1.Action_ACTION_ADD_NOTE, Note: "inventory",
		Filter: &requestsv1.BorrowingRequestFilter{Owner: "GUB", Status: stSent}, PageSize: 2,
	}
	var names []string
	for calls := 0; ; calls++ {
		resp, err := f.requests.BatchActBorrowingRequests(ctx, req)
		noErr(t, err)
		for _, r := range resp.Results {
			if !r.Succeeded {
				t.Errorf("%v", r)
			}
			names = append(names, r.Name)
		}
		if req.PageToken = resp.NextPageToken; req.PageToken == "" || calls > 5 {
			break
		}
	}
	if strings.Join(names, " ") != "borrowingRequests/5 borrowingRequests/3 borrowingRequests/1" {
		t.Errorf("noted %v", names)
	}
	// A token is bound to its filter and action.
	first, err := f.requests.BatchActBorrowingRequests(ctx, &requestsv1.BatchActBorrowingRequestsRequest{
		Action: requestsv1.Action_ACTION_REJECT, Filter: &requestsv1.BorrowingRequestFilter{OpenOnly: true}, PageSize: 1, ValidateOnly: true})
	noErr(t, err)
	_, err = f.requests.BatchActBorrowingRequests(ctx, &requestsv1.BatchActBorrowingRequestsRequest{
		Action: requestsv1.Action_ACTION_EXPIRE, Filter: &requestsv1.BorrowingRequestFilter{OpenOnly: true}, PageToken: first.NextPageToken, ValidateOnly: true})
	servertest.RequireError(t, err, codes.InvalidArgument, invalidArgument, "page_token")

	tooMany := make([]*requestsv1.BatchActTarget, 1001)
	for i := range tooMany {
		tooMany[i] = &requestsv1.BatchActTarget{Name: fmt.Sprint("borrowingRequests/", i+1)}
	}
	for _, tc := range []struct {
		req    *requestsv1.BatchActBorrowingRequestsRequest
		fields []string
	}{
		{&requestsv1.BatchActBorrowingRequestsRequest{}, []string{"action", "targets"}},
		{&requestsv1.BatchActBorrowingRequestsRequest{Action: requestsv1.Action_ACTION_ADD_NOTE, Filter: &requestsv1.BorrowingRequestFilter{OpenOnly: true}}, []string{"note"}},
		{&requestsv1.BatchActBorrowingRequestsRequest{Action: 99, Targets: []*requestsv1.BatchActTarget{{Name: "borrowingRequests/1"}}}, []string{"action"}},
		{&requestsv1.BatchActBorrowingRequestsRequest{Action: requestsv1.Action_ACTION_EXPIRE, Targets: []*requestsv1.BatchActTarget{{Name: "borrowingRequests/1"}}, Filter: &requestsv1.BorrowingRequestFilter{OpenOnly: true}}, []string{"filter"}},
		{&requestsv1.BatchActBorrowingRequestsRequest{Action: requestsv1.Action_ACTION_EXPIRE, Filter: &requestsv1.BorrowingRequestFilter{}}, []string{"filter"}},
		{&requestsv1.BatchActBorrowingRequestsRequest{Action: requestsv1.Action_ACTION_EXPIRE, Filter: &requestsv1.BorrowingRequestFilter{Owner: "a b", Query: "!!", Status: 77}}, []string{"filter.owner", "filter.query", "filter.status"}},
		{&requestsv1.BatchActBorrowingRequestsRequest{Action: requestsv1.Action_ACTION_EXPIRE, Targets: []*requestsv1.BatchActTarget{{Name: "borrowingRequests/1"}, {Name: "x"}, {Name: "borrowingRequests/1"}}, PageSize: 3}, []string{"targets[1].name", "targets[2].name", "page_token"}},
		{&requestsv1.BatchActBorrowingRequestsRequest{Action: requestsv1.Action_ACTION_EXPIRE, Targets: tooMany}, []string{"targets"}},
	} {
		_, err := f.requests.BatchActBorrowingRequests(ctx, tc.req)
		servertest.RequireError(t, err, codes.InvalidArgument, invalidArgument, tc.fields...)
	}
}

// TestAnonymizeOverGRPC: the bulk call takes closed requests older than the cutoff;
// validate_only reports them without a change.
func TestAnonymizeOverGRPC(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	old := f.seedOne(t, "1", stCompleted)
	f.seedOne(t, "2", stSent) // open: never
	f.clock.advance(40 * 24 * time.Hour)
	f.seedOne(t, "3", stCompleted) // too recent
	req := &requestsv1.AnonymizeBorrowingRequestsRequest{OlderThanDays: 30, ValidateOnly: true}
	resp, err := f.requests.AnonymizeBorrowingRequests(ctx, req)
	noErr(t, err)
	if strings.Join(resp.BorrowingRequests, " ") != old || resp.More {
		t.Fatalf("validate only: %v", resp)
	}
	r, err := f.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: old})
	noErr(t, err)
	if r.Requester.GetName() == "" {
		t.Fatal("validate_only anonymized")
	}
	req.ValidateOnly = false
	resp, err = f.requests.AnonymizeBorrowingRequests(ctx, req)
	noErr(t, err)
	if strings.Join(resp.BorrowingRequests, " ") != old {
		t.Fatalf("anonymize: %v", resp)
	}
	r, err = f.requests.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: old})
	noErr(t, err)
	if r.Requester.GetName() != "" || r.Requester.GetPatronId() != "" || r.AnonymizeTime == nil {
		t.Errorf("anonymized: %v", r)
	}
	if resp, err = f.requests.AnonymizeBorrowingRequests(ctx, req); err != nil || len(resp.BorrowingRequests) != 0 {
		t.Errorf("again: %v %v", resp, err)
	}
}

func TestCountOverGRPC(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.seedOne(t, "1", stSent)
	f.seedOne(t, "2", stSent, func(it *requestsv1.IngestItem) { it.Owner = "KB" })
	f.seedOne(t, "3", stLoaned, func(it *requestsv1.IngestItem) { it.Owner = "KB" })
	f.seedOne(t, "4", stCompleted)
	_, err := f.send(t, batch("c", item("LIB", "3", t0, func(it *requestsv1.IngestItem) {
		it.ExternalStatus, it.Owner = stRejected, "KB"
	})))
	noErr(t, err)
	summary := func(owner string) string {
		resp, err := f.requests.CountBorrowingRequests(ctx, &requestsv1.CountBorrowingRequestsRequest{Owner: owner})
		noErr(t, err)
		if len(resp.StatusCounts) != 17 {
			t.Errorf("%d status counts", len(resp.StatusCounts))
		}
		parts := []string{fmt.Sprintf("total=%d open=%d attention=%d", resp.Total, resp.Open, resp.NeedsAttention)}
		for _, c := range resp.StatusCounts {
			if c.Count > 0 {
				parts = append(parts, fmt.Sprintf("%s=%d", strings.TrimPrefix(c.Status.String(), "STATUS_"), c.Count))
			}
		}
		return strings.Join(parts, " ")
	}
	if got := summary(""); got != "total=4 open=3 attention=1 REQUEST_SENT=2 LOANED_TO_PATRON=1 COMPLETED=1" {
		t.Errorf("all: %s", got)
	}
	if got := summary("KB"); got != "total=2 open=2 attention=1 REQUEST_SENT=1 LOANED_TO_PATRON=1" {
		t.Errorf("KB: %s", got)
	}
	if got := summary("NONE"); got != "total=0 open=0 attention=0" {
		t.Errorf("NONE: %s", got)
	}
}

func TestListRequestEventsPages(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	name := f.seedOne(t, "1", stSent)
	for i := range 6 {
		_, err := f.requests.AddBorrowingRequestNote(ctx, &requestsv1.AddBorrowingRequestNoteRequest{Name: name, Note: fmt.Sprint("n", i)})
		noErr(t, err)
	}
	var notes []string
	req := &requestsv1.ListRequestEventsRequest{Parent: name, PageSize: 3}
	for calls := 0; calls < 10; calls++ {
		resp, err := f.requests.ListRequestEvents(ctx, req)
		noErr(t, err)
		if len(resp.RequestEvents) > 3 {
			t.Fatalf("page of %d", len(resp.RequestEvents))
		}
		for _, ev := range resp.RequestEvents {
			if !strings.HasPrefix(ev.Name, name+"/events/") {
				t.Errorf("event name %s", ev.Name)
			}
			notes = append(notes, ev.Action+":"+ev.Note)
		}
		if req.PageToken = resp.NextPageToken; req.PageToken == "" {
			break
		}
	}
	if strings.Join(notes, " ") != "import: add_note:n0 add_note:n1 add_note:n2 add_note:n3 add_note:n4 add_note:n5" {
		t.Errorf("events %v", notes)
	}
	other := f.seedOne(t, "2", stSent)
	first, err := f.requests.ListRequestEvents(ctx, &requestsv1.ListRequestEventsRequest{Parent: name, PageSize: 1})
	noErr(t, err)
	_, err = f.requests.ListRequestEvents(ctx, &requestsv1.ListRequestEventsRequest{Parent: other, PageToken: first.NextPageToken})
	servertest.RequireError(t, err, codes.InvalidArgument, invalidArgument, "page_token")
	_, err = f.requests.ListRequestEvents(ctx, &requestsv1.ListRequestEventsRequest{Parent: "borrowingRequests/99"})
	servertest.RequireError(t, err, codes.NotFound, "BORROWING_REQUEST_NOT_FOUND")
}

// TestListSearchAndOrder exercises the new List fields over gRPC, and their validation.
func TestListSearchAndOrder(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for i, title := range []string{"Röda rummet", "Hemsöborna", "Röda huset"} {
		f.seedOne(t, fmt.Sprint(i+1), stSent, func(it *requestsv1.IngestItem) { it.Bibliographic.Title = title })
	}
	_, err := f.requests.AddBorrowingRequestNote(ctx, &requestsv1.AddBorrowingRequestNoteRequest{Name: "borrowingRequests/1", Note: "bump"})
	noErr(t, err)
	for _, tc := range []struct {
		req  *requestsv1.ListBorrowingRequestsRequest
		want string
	}{
		{&requestsv1.ListBorrowingRequestsRequest{Query: "RÖDA"}, "LIB:1 LIB:3"},
		{&requestsv1.ListBorrowingRequestsRequest{Query: "röda", OrderBy: "create_time desc"}, "LIB:3 LIB:1"},
		{&requestsv1.ListBorrowingRequestsRequest{OrderBy: "update_time"}, "LIB:2 LIB:3 LIB:1"},
		{&requestsv1.ListBorrowingRequestsRequest{OrderBy: " create_time  asc "}, "LIB:1 LIB:2 LIB:3"},
		{&requestsv1.ListBorrowingRequestsRequest{OrderBy: "update_time desc"}, "LIB:1 LIB:3 LIB:2"},
		{&requestsv1.ListBorrowingRequestsRequest{Query: "röda rummet strindberg"}, ""},
		{&requestsv1.ListBorrowingRequestsRequest{CreatedAfter: timestamppb.New(t0.Add(2 * time.Second)), CreatedBefore: timestamppb.New(t0.Add(3 * time.Second))}, "LIB:2"},
		{&requestsv1.ListBorrowingRequestsRequest{UpdatedAfter: timestamppb.New(t0.Add(3 * time.Second))}, "LIB:1 LIB:3"},
		{&requestsv1.ListBorrowingRequestsRequest{NeedsAttention: true}, ""},
	} {
		for size := int32(1); size <= 3; size++ {
			req := proto.CloneOf(tc.req)
			req.PageSize = size
			if got := strings.Join(f.listAll(t, req), " "); got != tc.want {
				t.Errorf("%v size %d: got %q, want %q", tc.req, size, got, tc.want)
			}
		}
	}
	first, err := f.requests.ListBorrowingRequests(ctx, &requestsv1.ListBorrowingRequestsRequest{PageSize: 1, OrderBy: "create_time"})
	noErr(t, err)
	for _, tc := range []struct {
		req    *requestsv1.ListBorrowingRequestsRequest
		fields []string
	}{
		{&requestsv1.ListBorrowingRequestsRequest{Query: "a b c d e f g h i"}, []string{"query"}},
		{&requestsv1.ListBorrowingRequestsRequest{Query: "-- !!"}, []string{"query"}},
		{&requestsv1.ListBorrowingRequestsRequest{Query: strings.Repeat("a", 201)}, []string{"query"}},
		{&requestsv1.ListBorrowingRequestsRequest{Query: "a\tb"}, []string{"query"}},
		{&requestsv1.ListBorrowingRequestsRequest{OrderBy: "title"}, []string{"order_by"}},
		{&requestsv1.ListBorrowingRequestsRequest{OrderBy: "update_time up"}, []string{"order_by"}},
		{&requestsv1.ListBorrowingRequestsRequest{OrderBy: "update_time desc, create_time"}, []string{"order_by"}},
		{&requestsv1.ListBorrowingRequestsRequest{CreatedAfter: timestamppb.New(t0), CreatedBefore: timestamppb.New(t0)}, []string{"created_before"}},
		{&requestsv1.ListBorrowingRequestsRequest{UpdatedAfter: &timestamppb.Timestamp{Nanos: -1}, UpdatedBefore: &timestamppb.Timestamp{Seconds: -1e12}}, []string{"updated_after", "updated_before"}},
		{&requestsv1.ListBorrowingRequestsRequest{PageToken: first.NextPageToken, OrderBy: "create_time desc"}, []string{"page_token"}},
	} {
		_, err := f.requests.ListBorrowingRequests(ctx, tc.req)
		servertest.RequireError(t, err, codes.InvalidArgument, invalidArgument, tc.fields...)
	}
}
