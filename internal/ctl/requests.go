package ctl

import (
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
)

func requestsList(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	req := &requestsv1.ListBorrowingRequestsRequest{Owner: e.o.owner, ExternalId: e.o.externalID,
		OpenOnly: e.o.openOnly, Query: e.o.query, NeedsAttention: e.o.needsAttention, OrderBy: e.o.orderBy}
	if e.o.partner != "" {
		req.Partner = resourceName("partners", e.o.partner)
	}
	if e.o.profile != "" {
		req.Profile = resourceName("integrationProfiles", e.o.profile)
	}
	if e.o.status != "" {
		s, err := parseEnum[requestsv1.Status](e.o.status, "--status")
		if err != nil {
			return err
		}
		req.Status = s
	}
	resp := &requestsv1.ListBorrowingRequestsResponse{}
	if err := e.list(requestsv1.RequestService_ListBorrowingRequests_FullMethodName, req, resp); err != nil {
		return err
	}
	return e.out.print(resp, func() view {
		t := table{header: []string{"ID", "STATUS", "EXTERNAL ID", "OWNER", "PARTNER", "TITLE", "ATTENTION", "UPDATED"}}
		for _, r := range resp.GetBorrowingRequests() {
			attention := ""
			if r.GetNeedsAttention() {
				attention = "yes"
			}
			t.rows = append(t.rows, []string{lastSegment(r.GetName()), enumName(r.GetStatus()), r.GetExternalReference().GetExternalId(),
				r.GetOwner(), lastSegment(r.GetPartner()), title(r), attention, when(r.GetUpdateTime())})
		}
		return t
	})
}

func title(r *requestsv1.BorrowingRequest) string {
	if t := r.GetBibliographic().GetArticleTitle(); t != "" {
		return t
	}
	return r.GetBibliographic().GetTitle()
}

func requestsGet(e *env, pos []string) error {
	if err := wantArgs(pos, "ID"); err != nil {
		return err
	}
	ctx, cancel := e.unary()
	defer cancel()
	br := &requestsv1.BorrowingRequest{}
	if err := e.client.call(ctx, requestsv1.RequestService_GetBorrowingRequest_FullMethodName,
		&requestsv1.GetBorrowingRequestRequest{Name: resourceName("borrowingRequests", pos[0])}, br); err != nil {
		return err
	}
	return e.out.print(br, func() view { return requestDetail(br) })
}

func requestDetail(r *requestsv1.BorrowingRequest) view {
	ext := r.GetExternalReference()
	bib := r.GetBibliographic()
	d := detail{
		{"Name", r.GetName()},
		{"Status", enumName(r.GetStatus())},
		{"External", enumName(ext.GetSystem()) + " " + ext.GetExternalId() + " (" + ext.GetStatusRaw() + ")"},
		{"Profile", ext.GetProfile()},
		{"Owner", r.GetOwner()},
		{"Partner", r.GetPartner()},
		{"Title", bib.GetTitle()},
		{"Author", bib.GetAuthor()},
	}
	if bib.GetArticleTitle() != "" {
		d = append(d, field{"Article", bib.GetArticleTitle() + " / " + bib.GetArticleAuthor()})
	}
	d = append(d,
		field{"Format", enumName(r.GetFormat()) + " " + enumName(r.GetMedia())},
		field{"Pickup", r.GetPickupLocation()},
	)
	if r.GetNeedsAttention() {
		d = append(d, field{"Needs attention", r.GetAttentionReason()})
	}
	return append(d,
		field{"Created", when(r.GetCreateTime())},
		field{"Updated", when(r.GetUpdateTime())},
		field{"Etag", r.GetEtag()},
	)
}

// requestsActions lists what the request allows now (ListAllowedActions).
func requestsActions(e *env, pos []string) error {
	if err := wantArgs(pos, "ID"); err != nil {
		return err
	}
	ctx, cancel := e.unary()
	defer cancel()
	resp := &requestsv1.ListAllowedActionsResponse{}
	if err := e.client.call(ctx, requestsv1.RequestService_ListAllowedActions_FullMethodName,
		&requestsv1.ListAllowedActionsRequest{Name: resourceName("borrowingRequests", pos[0])}, resp); err != nil {
		return err
	}
	return e.out.print(resp, func() view {
		t := table{header: []string{"ACTION", "TO STATUS", "NOTE REQUIRED"}}
		for _, a := range resp.GetAllowedActions() {
			t.rows = append(t.rows, []string{actionArg(a.GetAction()), enumName(a.GetToStatus()), yesNo(a.GetNoteRequired())})
		}
		return views{detail{{"Status", enumName(resp.GetStatus())}, {"Etag", resp.GetEtag()}}, t}
	})
}

// actionCall is how one lifecycle action is performed: its RPC and its request, built
// from the flags that apply to it.
type actionCall struct {
	rpc     string
	request func(name, etag, note string, o *opts) proto.Message
}

// simple is an action whose request has only name, etag and note.
func simple[P proto.Message](rpc string, build func(name, etag, note string) P) actionCall {
	return actionCall{rpc: rpc, request: func(name, etag, note string, _ *opts) proto.Message {
		return build(name, etag, note)
	}}
}

// actions maps each Action to its RPC. The proto's Action enum is the vocabulary (the
// same names as RequestEvent.action and ListAllowedActions); two actions share a method
// and differ in one field (receive's format, cancel's cancelled_by).
var actions = map[requestsv1.Action]actionCall{
	requestsv1.Action_ACTION_MARK_READY_TO_SEND: simple(requestsv1.RequestService_MarkReadyToSend_FullMethodName,
		func(n, e, note string) *requestsv1.MarkReadyToSendRequest {
			return &requestsv1.MarkReadyToSendRequest{Name: n, Etag: e, Note: note}
		}),
	requestsv1.Action_ACTION_SEND: {rpc: requestsv1.RequestService_SendBorrowingRequest_FullMethodName,
		request: func(n, e, note string, o *opts) proto.Message {
			req := &requestsv1.SendBorrowingRequestRequest{Name: n, Etag: e, Note: note}
			if o.partner != "" {
				req.Partner = resourceName("partners", o.partner)
			}
			return req
		}},
	requestsv1.Action_ACTION_RECEIVE_PHYSICALLY: receive(requestsv1.Format_FORMAT_PHYSICAL),
	requestsv1.Action_ACTION_RECEIVE_DIGITALLY:  receive(requestsv1.Format_FORMAT_DIGITAL),
	requestsv1.Action_ACTION_LOAN_TO_PATRON: simple(requestsv1.RequestService_LoanToPatron_FullMethodName,
		func(n, e, note string) *requestsv1.LoanToPatronRequest {
			return &requestsv1.LoanToPatronRequest{Name: n, Etag: e, Note: note}
		}),
	requestsv1.Action_ACTION_RETURN_BY_PATRON: simple(requestsv1.RequestService_ReturnByPatron_FullMethodName,
		func(n, e, note string) *requestsv1.ReturnByPatronRequest {
			return &requestsv1.ReturnByPatronRequest{Name: n, Etag: e, Note: note}
		}),
	requestsv1.Action_ACTION_RETURN_TO_PARTNER: simple(requestsv1.RequestService_ReturnToPartner_FullMethodName,
		func(n, e, note string) *requestsv1.ReturnToPartnerRequest {
			return &requestsv1.ReturnToPartnerRequest{Name: n, Etag: e, Note: note}
		}),
	requestsv1.Action_ACTION_COMPLETE: simple(requestsv1.RequestService_CompleteBorrowingRequest_FullMethodName,
		func(n, e, note string) *requestsv1.CompleteBorrowingRequestRequest {
			return &requestsv1.CompleteBorrowingRequestRequest{Name: n, Etag: e, Note: note}
		}),
	requestsv1.Action_ACTION_CANCEL_BY_STAFF:  cancelBy(requestsv1.CancelledBy_CANCELLED_BY_STAFF),
	requestsv1.Action_ACTION_CANCEL_BY_PATRON: cancelBy(requestsv1.CancelledBy_CANCELLED_BY_PATRON),
	requestsv1.Action_ACTION_REJECT: simple(requestsv1.RequestService_RejectBorrowingRequest_FullMethodName,
		func(n, e, note string) *requestsv1.RejectBorrowingRequestRequest {
			return &requestsv1.RejectBorrowingRequestRequest{Name: n, Etag: e, Note: note}
		}),
	requestsv1.Action_ACTION_EXPIRE: simple(requestsv1.RequestService_ExpireBorrowingRequest_FullMethodName,
		func(n, e, note string) *requestsv1.ExpireBorrowingRequestRequest {
			return &requestsv1.ExpireBorrowingRequestRequest{Name: n, Etag: e, Note: note}
		}),
	requestsv1.Action_ACTION_REACTIVATE: simple(requestsv1.RequestService_ReactivateBorrowingRequest_FullMethodName,
		func(n, e, note string) *requestsv1.ReactivateBorrowingRequestRequest {
			return &requestsv1.ReactivateBorrowingRequestRequest{Name: n, Etag: e, Note: note}
		}),
	requestsv1.Action_ACTION_ADD_NOTE: simple(requestsv1.RequestService_AddBorrowingRequestNote_FullMethodName,
		func(n, e, note string) *requestsv1.AddBorrowingRequestNoteRequest {
			return &requestsv1.AddBorrowingRequestNoteRequest{Name: n, Etag: e, Note: note}
		}),
	requestsv1.Action_ACTION_RESOLVE_ATTENTION: simple(requestsv1.RequestService_ResolveBorrowingRequestAttention_FullMethodName,
		func(n, e, note string) *requestsv1.ResolveBorrowingRequestAttentionRequest {
			return &requestsv1.ResolveBorrowingRequestAttentionRequest{Name: n, Etag: e, Note: note}
		}),
	requestsv1.Action_ACTION_ANONYMIZE: simple(requestsv1.RequestService_AnonymizeBorrowingRequest_FullMethodName,
		func(n, e, note string) *requestsv1.AnonymizeBorrowingRequestRequest {
			return &requestsv1.AnonymizeBorrowingRequestRequest{Name: n, Etag: e, Note: note}
		}),
	requestsv1.Action_ACTION_DECLARE_LOST: simple(requestsv1.RequestService_DeclareItemLost_FullMethodName,
		func(n, e, note string) *requestsv1.DeclareItemLostRequest {
			return &requestsv1.DeclareItemLostRequest{Name: n, Etag: e, Note: note}
		}),
}

func receive(f requestsv1.Format) actionCall {
	return simple(requestsv1.RequestService_ReceiveBorrowingRequest_FullMethodName,
		func(n, e, note string) *requestsv1.ReceiveBorrowingRequestRequest {
			return &requestsv1.ReceiveBorrowingRequestRequest{Name: n, Etag: e, Note: note, Format: f}
		})
}

func cancelBy(by requestsv1.CancelledBy) actionCall {
	return simple(requestsv1.RequestService_CancelBorrowingRequest_FullMethodName,
		func(n, e, note string) *requestsv1.CancelBorrowingRequestRequest {
			return &requestsv1.CancelBorrowingRequestRequest{Name: n, Etag: e, Note: note, CancelledBy: by}
		})
}

// actionArg is how an action is written on the command line: receive-physically.
func actionArg(a requestsv1.Action) string {
	return strings.ReplaceAll(strings.ToLower(enumName(a)), "_", "-")
}

// actionArgs lists every action as written on the command line.
func actionArgs() string {
	var names []string
	for a := range actions {
		names = append(names, actionArg(a))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// requestsAct performs one lifecycle action and prints the request as it is after it.
func requestsAct(e *env, pos []string) error {
	if err := wantArgs(pos, "ID"); err != nil {
		return err
	}
	if e.o.action == "" {
		return usagef("--action is required: one of %s", actionArgs())
	}
	a, err := parseEnum[requestsv1.Action](e.o.action, "--action")
	if err != nil {
		return usagef("--action %q: want one of %s", e.o.action, actionArgs())
	}
	call, ok := actions[a]
	if !ok {
		return usagef("--action %q: this CLI cannot perform it; want one of %s", e.o.action, actionArgs())
	}
	if e.o.partner != "" && a != requestsv1.Action_ACTION_SEND {
		return usagef("--partner applies only to --action send")
	}
	req := call.request(resourceName("borrowingRequests", pos[0]), e.o.etag, e.o.note, e.o)
	ctx, cancel := e.unary()
	defer cancel()
	br := &requestsv1.BorrowingRequest{}
	if err := e.client.call(ctx, call.rpc, req, br); err != nil {
		return err
	}
	return e.out.print(br, func() view { return requestDetail(br) })
}
