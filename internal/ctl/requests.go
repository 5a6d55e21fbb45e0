package ctl

import (
	"cmp"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
)

// bindFilter adds the flags that select requests (list and batch).
func bindFilter(s *pflag.FlagSet, o *opts) {
	s.StringVar(&o.status, "status", "", "only this status, e.g. created, request-sent")
	s.StringVar(&o.owner, "owner", "", "only this owning library code")
	s.StringVar(&o.partner, "partner", "", "only this partner code")
	s.StringVar(&o.profile, "profile", "", "only requests imported by this profile")
	s.BoolVar(&o.openOnly, "open", false, "only open requests")
	s.BoolVar(&o.needsAttention, "needs-attention", false, "only requests flagged for attention")
	s.StringVar(&o.query, "query", "", "words that must occur in the title, author, ids, ISBN or ISSN")
	s.StringVar(&o.updatedAfter, "updated-after", "", "only requests changed at or after this time (YYYY-MM-DD or RFC 3339)")
	s.StringVar(&o.updatedBefore, "updated-before", "", "only requests changed before this time (YYYY-MM-DD or RFC 3339)")
}

// filter is the request filter the flags of bindFilter give.
func (e *env) filter() (*requestsv1.BorrowingRequestFilter, error) {
	f := &requestsv1.BorrowingRequestFilter{Owner: e.o.owner, OpenOnly: e.o.openOnly, Query: e.o.query, NeedsAttention: e.o.needsAttention}
	if e.o.partner != "" {
		f.Partner = resourceName("partners", e.o.partner)
	}
	if e.o.profile != "" {
		f.Profile = resourceName("integrationProfiles", e.o.profile)
	}
	var err error
	if f.Status, err = optionalEnum[requestsv1.Status](e.o.status, "--status"); err != nil {
		return nil, err
	}
	if f.UpdatedAfter, err = parseTime(e.o.updatedAfter, "--updated-after"); err != nil {
		return nil, err
	}
	if f.UpdatedBefore, err = parseTime(e.o.updatedBefore, "--updated-before"); err != nil {
		return nil, err
	}
	return f, nil
}

// parseTime reads a date (midnight UTC) or an RFC 3339 time; "" is unset.
func parseTime(s, flagName string) (*timestamppb.Timestamp, error) {
	if s == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return timestamppb.New(t), nil
		}
	}
	return nil, usagef("%s %q: want YYYY-MM-DD or an RFC 3339 time", flagName, s)
}

func requestsList(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	f, err := e.filter()
	if err != nil {
		return err
	}
	req := &requestsv1.ListBorrowingRequestsRequest{Status: f.Status, Owner: f.Owner, Partner: f.Partner, Profile: f.Profile,
		ExternalId: e.o.externalID, OpenOnly: f.OpenOnly, Query: f.Query, NeedsAttention: f.NeedsAttention,
		UpdatedAfter: f.UpdatedAfter, UpdatedBefore: f.UpdatedBefore, OrderBy: e.o.orderBy}
	if e.o.readMask != "" {
		req.ReadMask = &fieldmaskpb.FieldMask{Paths: strings.Split(e.o.readMask, ",")}
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

func requestsCount(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	resp := &requestsv1.CountBorrowingRequestsResponse{}
	if err := e.call(requestsv1.RequestService_CountBorrowingRequests_FullMethodName, &requestsv1.CountBorrowingRequestsRequest{Owner: e.o.owner}, resp); err != nil {
		return err
	}
	return e.out.print(resp, func() view {
		t := table{header: []string{"STATUS", "COUNT"}}
		for _, c := range resp.GetStatusCounts() {
			t.rows = append(t.rows, []string{enumName(c.GetStatus()), itoa(c.GetCount())})
		}
		return views{detail{{"Total", itoa(resp.GetTotal())}, {"Open", itoa(resp.GetOpen())}, {"Needs attention", itoa(resp.GetNeedsAttention())}}, t}
	})
}

func requestsEvents(e *env, pos []string) error {
	if err := wantArgs(pos, "ID"); err != nil {
		return err
	}
	resp := &requestsv1.ListRequestEventsResponse{}
	req := &requestsv1.ListRequestEventsRequest{Parent: resourceName("borrowingRequests", pos[0])}
	if err := e.list(requestsv1.RequestService_ListRequestEvents_FullMethodName, req, resp); err != nil {
		return err
	}
	return e.out.print(resp, func() view {
		t := table{header: []string{"TIME", "ACTOR", "ACTION", "FROM", "TO", "NOTE"}}
		for _, ev := range resp.GetRequestEvents() {
			t.rows = append(t.rows, []string{when(ev.GetTime()), ev.GetActor(), ev.GetAction(), enumName(ev.GetFromStatus()),
				enumName(ev.GetToStatus()), cmp.Or(ev.GetNote(), ev.GetAttentionReason())})
		}
		return t
	})
}

// requestsWatch prints each change of the ledger as it arrives: a line per change for
// people, one compact JSON object per line (bookmarks included) for scripts.
func requestsWatch(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	status, err := optionalEnum[requestsv1.Status](e.o.status, "--status")
	if err != nil {
		return err
	}
	req := &requestsv1.WatchBorrowingRequestsRequest{StartAfter: e.o.startAfter, Owner: e.o.owner, Status: status}
	return e.client.stream(e.ctx, requestsv1.RequestService_WatchBorrowingRequests_FullMethodName, req,
		func() proto.Message { return &requestsv1.WatchBorrowingRequestsResponse{} },
		func(m proto.Message) error {
			c := m.(*requestsv1.WatchBorrowingRequestsResponse)
			if e.out.format != formatTable {
				return e.out.line(c)
			}
			if c.GetBookmark() {
				return nil
			}
			ev, br := c.GetEvent(), c.GetBorrowingRequest()
			_, err := fmt.Fprintf(e.out.w, "%s  %s  %s  %s → %s  %s\n", when(ev.GetTime()), lastSegment(br.GetName()), sanitize(ev.GetAction()),
				enumName(ev.GetFromStatus()), enumName(ev.GetToStatus()), sanitize(ev.GetActor()))
			return err
		})
}

// requestsAnonymize anonymizes closed requests older than --older-than-days, a call's
// worth (1000) at a time until none is left.
func requestsAnonymize(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	if e.o.olderThanDays <= 0 {
		return usagef("--older-than-days N (at least 1) is required")
	}
	all := &requestsv1.AnonymizeBorrowingRequestsResponse{}
	for {
		resp := &requestsv1.AnonymizeBorrowingRequestsResponse{}
		req := &requestsv1.AnonymizeBorrowingRequestsRequest{OlderThanDays: int32(min(e.o.olderThanDays, 1<<20)), Owner: e.o.owner, ValidateOnly: e.o.validateOnly}
		if err := e.call(requestsv1.RequestService_AnonymizeBorrowingRequests_FullMethodName, req, resp); err != nil {
			return err
		}
		all.BorrowingRequests = append(all.BorrowingRequests, resp.GetBorrowingRequests()...)
		all.More = resp.GetMore()
		// validate_only reports the same first page every time.
		if !resp.GetMore() || e.o.validateOnly || e.ctx.Err() != nil {
			break
		}
	}
	e.validOnly()
	return e.out.print(all, func() view {
		t := table{header: []string{"ANONYMIZED"}}
		if e.o.validateOnly {
			t.header[0] = "WOULD ANONYMIZE"
		}
		for _, n := range all.GetBorrowingRequests() {
			t.rows = append(t.rows, []string{n})
		}
		return t
	})
}

// requestsBatch performs one action on the requests named, or on those the filter
// selects. Requests that refused it make the exit code 1, after the table says which.
func requestsBatch(e *env, pos []string) error {
	if e.o.action == "" {
		return usagef("--action is required: one of %s", actionArgs())
	}
	action, err := parseEnum[requestsv1.Action](e.o.action, "--action")
	if err != nil {
		return err
	}
	req := &requestsv1.BatchActBorrowingRequestsRequest{Action: action, Note: e.o.note, ValidateOnly: e.o.validateOnly}
	filtered := len(pos) == 0
	if filtered {
		if req.Filter, err = e.filter(); err != nil {
			return err
		}
		if proto.Size(req.Filter) == 0 {
			return usagef("give the requests as IDs, or filter flags (--status, --owner, …) to select them")
		}
		req.PageSize, req.PageToken = int32(min(max(e.o.pageSize, 0), 1<<20)), e.o.pageToken
	} else {
		for _, p := range pos {
			id, etag, _ := strings.Cut(p, "=")
			req.Targets = append(req.Targets, &requestsv1.BatchActTarget{Name: resourceName("borrowingRequests", id), Etag: etag})
		}
	}
	all := &requestsv1.BatchActBorrowingRequestsResponse{}
	for {
		resp := &requestsv1.BatchActBorrowingRequestsResponse{}
		if err := e.call(requestsv1.RequestService_BatchActBorrowingRequests_FullMethodName, req, resp); err != nil {
			return err
		}
		all.Results = append(all.Results, resp.GetResults()...)
		all.NextPageToken = resp.GetNextPageToken()
		if !filtered || !e.o.all || all.NextPageToken == "" || e.ctx.Err() != nil {
			break
		}
		req.PageToken = all.NextPageToken
	}
	if all.NextPageToken != "" && e.out.format == formatTable {
		fmt.Fprintf(e.stderr, "more requests match: --page-token %s (or --all)\n", sanitize(all.NextPageToken))
	}
	e.validOnly()
	if err := e.out.print(all, func() view {
		t := table{header: []string{"REQUEST", "OK", "STATUS", "ERROR"}}
		for _, r := range all.GetResults() {
			t.rows = append(t.rows, []string{lastSegment(r.GetName()), yesNo(r.GetSucceeded()), enumName(r.GetStatus()),
				strings.TrimSpace(code.Code(r.GetError().GetCode()).String() + ": " + r.GetError().GetMessage())})
			if r.GetSucceeded() {
				t.rows[len(t.rows)-1][3] = ""
			}
		}
		return t
	}); err != nil {
		return err
	}
	failed := 0
	for _, r := range all.GetResults() {
		if !r.GetSucceeded() {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests refused %s", failed, len(all.GetResults()), actionArg(action))
	}
	return nil
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
	br := &requestsv1.BorrowingRequest{}
	if err := e.call(requestsv1.RequestService_GetBorrowingRequest_FullMethodName,
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
	resp := &requestsv1.ListAllowedActionsResponse{}
	if err := e.call(requestsv1.RequestService_ListAllowedActions_FullMethodName,
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

// bindAct adds the flags of a lifecycle action; send alone takes --partner.
func bindAct(s *pflag.FlagSet, o *opts, partner bool) {
	s.StringVar(&o.etag, "etag", "", "fail with ABORTED if the request changed since you read this etag")
	s.StringVar(&o.note, "note", "", "note for the audit trail (required by add-note and declare-lost)")
	if partner {
		s.StringVar(&o.partner, "partner", "", "send: send to this partner code instead of the current one")
	}
}

// actionCommands is one `requests act <action> ID` command per lifecycle action.
func actionCommands() []command {
	var cs []command
	for a, call := range actions {
		name := actionArg(a)
		cs = append(cs, command{path: "requests act " + name, args: "ID", brief: actionBriefs[a], rpcs: []string{call.rpc},
			run: func(e *env, pos []string) error {
				e.o.action = name
				return requestsAct(e, pos)
			},
			flags: func(s *pflag.FlagSet, o *opts) { bindAct(s, o, a == requestsv1.Action_ACTION_SEND) }})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].path < cs[j].path })
	return cs
}

// actionBriefs says what each action does, for its command's help.
var actionBriefs = map[requestsv1.Action]string{
	requestsv1.Action_ACTION_MARK_READY_TO_SEND: "Mark a created request ready to send",
	requestsv1.Action_ACTION_SEND:               "Send a request to its partner (or --partner)",
	requestsv1.Action_ACTION_RECEIVE_PHYSICALLY: "Record that the item arrived physically",
	requestsv1.Action_ACTION_RECEIVE_DIGITALLY:  "Record that the item arrived digitally",
	requestsv1.Action_ACTION_LOAN_TO_PATRON:     "Lend the received item to the patron",
	requestsv1.Action_ACTION_RETURN_BY_PATRON:   "Record that the patron returned the item",
	requestsv1.Action_ACTION_RETURN_TO_PARTNER:  "Record that the item went back to the partner",
	requestsv1.Action_ACTION_COMPLETE:           "Complete a request",
	requestsv1.Action_ACTION_CANCEL_BY_STAFF:    "Cancel a request on staff's behalf",
	requestsv1.Action_ACTION_CANCEL_BY_PATRON:   "Cancel a request on the patron's behalf",
	requestsv1.Action_ACTION_REJECT:             "Record that the partner rejected the request",
	requestsv1.Action_ACTION_EXPIRE:             "Expire a request nobody answered",
	requestsv1.Action_ACTION_REACTIVATE:         "Reopen a rejected or expired request",
	requestsv1.Action_ACTION_ADD_NOTE:           "Add a note (--note) to a request's audit trail",
	requestsv1.Action_ACTION_RESOLVE_ATTENTION:  "Clear a request's needs-attention flag",
	requestsv1.Action_ACTION_ANONYMIZE:          "Remove a closed request's patron data",
	requestsv1.Action_ACTION_DECLARE_LOST:       "Declare the item lost (--note says how)",
}

// allActionRPCs is every RPC `requests act` may call.
func allActionRPCs() []string {
	var rpcs []string
	for _, call := range actions {
		rpcs = append(rpcs, call.rpc)
	}
	sort.Strings(rpcs)
	return rpcs
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
	br := &requestsv1.BorrowingRequest{}
	if err := e.call(call.rpc, req, br); err != nil {
		return err
	}
	return e.out.print(br, func() view { return requestDetail(br) })
}
