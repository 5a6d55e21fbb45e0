// Package lifecycle holds the ledger's rules for a borrowing request's life as data: the
// transition table (status × action → status) and the reconciliation table (local status
// × external status → apply, keep or conflict). The store applies both inside its write
// transactions; nothing else decides whether a status may change. docs/lifecycle.md
// describes both tables; the tests here check them cell by cell against expectations
// written out independently.
//
// The statuses and their order follow Alma's borrowing workflow: created → ready to be
// sent → sent → (will supply) → shipped → received → loaned → returned by patron →
// returned to partner → completed, with the side exits rejected, cancelled (staff,
// patron, partner) and expired.
package lifecycle

import (
	"slices"
	"strings"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
)

// Short names for the enums, so the tables read as tables.
type (
	Status = requestsv1.Status
	Action = requestsv1.Action
)

const (
	created      = requestsv1.Status_STATUS_CREATED
	readyToSend  = requestsv1.Status_STATUS_READY_TO_SEND
	sent         = requestsv1.Status_STATUS_REQUEST_SENT
	willSupply   = requestsv1.Status_STATUS_WILL_SUPPLY
	shippedPhys  = requestsv1.Status_STATUS_SHIPPED_PHYSICALLY
	shippedDig   = requestsv1.Status_STATUS_SHIPPED_DIGITALLY
	receivedPhys = requestsv1.Status_STATUS_RECEIVED_PHYSICALLY
	receivedDig  = requestsv1.Status_STATUS_RECEIVED_DIGITALLY
	loaned       = requestsv1.Status_STATUS_LOANED_TO_PATRON
	returnedByP  = requestsv1.Status_STATUS_RETURNED_BY_PATRON
	returnedToP  = requestsv1.Status_STATUS_RETURNED_TO_PARTNER
	completed    = requestsv1.Status_STATUS_COMPLETED
	rejected     = requestsv1.Status_STATUS_REJECTED_BY_PARTNER
	cancStaff    = requestsv1.Status_STATUS_CANCELLED_BY_STAFF
	cancPatron   = requestsv1.Status_STATUS_CANCELLED_BY_PATRON
	cancPartner  = requestsv1.Status_STATUS_CANCELLED_BY_PARTNER
	expired      = requestsv1.Status_STATUS_EXPIRED

	MarkReadyToSend   = requestsv1.Action_ACTION_MARK_READY_TO_SEND
	Send              = requestsv1.Action_ACTION_SEND
	ReceivePhysically = requestsv1.Action_ACTION_RECEIVE_PHYSICALLY
	ReceiveDigitally  = requestsv1.Action_ACTION_RECEIVE_DIGITALLY
	LoanToPatron      = requestsv1.Action_ACTION_LOAN_TO_PATRON
	ReturnByPatron    = requestsv1.Action_ACTION_RETURN_BY_PATRON
	ReturnToPartner   = requestsv1.Action_ACTION_RETURN_TO_PARTNER
	Complete          = requestsv1.Action_ACTION_COMPLETE
	CancelByStaff     = requestsv1.Action_ACTION_CANCEL_BY_STAFF
	CancelByPatron    = requestsv1.Action_ACTION_CANCEL_BY_PATRON
	Reject            = requestsv1.Action_ACTION_REJECT
	Expire            = requestsv1.Action_ACTION_EXPIRE
	Reactivate        = requestsv1.Action_ACTION_REACTIVATE
	AddNote           = requestsv1.Action_ACTION_ADD_NOTE
	ResolveAttention  = requestsv1.Action_ACTION_RESOLVE_ATTENTION
	Anonymize         = requestsv1.Action_ACTION_ANONYMIZE
	DeclareLost       = requestsv1.Action_ACTION_DECLARE_LOST
)

// Final reports whether s is a closed status: completed, rejected, cancelled or expired.
// A closed request is read-only except for reactivate, notes, resolving attention and
// anonymizing. (Alma also lists "digitally received" as final; here it still waits for
// complete, so that closing is always an explicit, audited step.)
func Final(s Status) bool {
	switch s {
	case completed, rejected, cancStaff, cancPatron, cancPartner, expired:
		return true
	}
	return false
}

// Target is where an action leads.
type Target struct {
	// Status is the status after the action; for actions that keep the status (notes,
	// attention, anonymize) it is the current one.
	Status Status
	// Restore: reactivating a completed request returns it to the status it was completed
	// from (BorrowingRequest.closed_from_status), as Alma's reactivate does; Status is the
	// fallback when that is unknown (a request imported as completed).
	Restore bool
	// CopiesOnly: the action is allowed only for a copy (media COPY). Completing a
	// received loan would skip its return to the partner; a copy is not returned.
	CopiesOnly bool
}

// to is a plain transition target.
func to(s Status) Target { return Target{Status: s} }

// forCopies is a target only copies may reach.
func forCopies(s Status) Target { return Target{Status: s, CopiesOnly: true} }

// table is the transition table: for each status, the actions it allows and where they
// lead. Every status also allows the actions in `anywhere`, which keep the status. An
// action missing from a status's row is illegal in it.
//
// Why the rows are as they are (Alma's behaviour where Ex Libris documents it):
//   - cancel, reject and expire end a request only before anything was shipped: "after
//     shipment the borrowing request cannot be cancelled" (Rapido docs);
//   - send is allowed again while sent, to move the request to another partner (Rapido's
//     "cancel partner" keeps the request active and moves it to the next lender);
//   - receive is allowed from sent and will supply, not only from shipped: a parcel can
//     arrive before the partner's status does; physical and digital receipt each follow
//     only their own kind of shipment;
//   - complete follows the return to the partner, a received copy (physical copies such
//     as photocopies are not returned; ISO 18626 CompletedWithoutReturn), or a digital
//     shipment that went straight to the patron; a received loan must go back first;
//   - declare lost is the exit for a physical item that will never come back: lost in
//     transit (shipped), here (received, returned by the patron) or by the patron
//     (loaned). Alma reports such items to the partner ("Report lost item to partner")
//     and closes them; the ledger has no lost status, so it completes the request with a
//     required note that says what happened (the audit trail keeps it, the action name
//     `declare_lost` tells it apart from a normal completion) and reactivate brings the
//     request back to where it was lost if the item turns up. Cancel stays refused after
//     shipment, as in Alma;
//   - closed statuses allow only reactivate and anonymize (plus the `anywhere` actions);
//     a completed request returns to where it was completed from (Alma: set "Request
//     completed", then "Reactivate"), any other closed one starts again at ready to send,
//     since a rejected, cancelled or expired request must be sent anew.
var table = map[Status]map[Action]Target{
	created: {
		MarkReadyToSend: to(readyToSend), Send: to(sent),
		CancelByStaff: to(cancStaff), CancelByPatron: to(cancPatron), Expire: to(expired),
	},
	readyToSend: {
		Send:          to(sent),
		CancelByStaff: to(cancStaff), CancelByPatron: to(cancPatron), Expire: to(expired),
	},
	sent: {
		Send:              to(sent),
		ReceivePhysically: to(receivedPhys), ReceiveDigitally: to(receivedDig),
		CancelByStaff: to(cancStaff), CancelByPatron: to(cancPatron), Reject: to(rejected), Expire: to(expired),
	},
	willSupply: {
		ReceivePhysically: to(receivedPhys), ReceiveDigitally: to(receivedDig),
		CancelByStaff: to(cancStaff), CancelByPatron: to(cancPatron), Reject: to(rejected), Expire: to(expired),
	},
	shippedPhys: {ReceivePhysically: to(receivedPhys), DeclareLost: to(completed)},
	shippedDig:  {ReceiveDigitally: to(receivedDig), Complete: to(completed)},
	receivedPhys: {
		LoanToPatron: to(loaned), ReturnToPartner: to(returnedToP), Complete: forCopies(completed),
		DeclareLost: to(completed),
	},
	receivedDig: {Complete: to(completed)},
	loaned:      {ReturnByPatron: to(returnedByP), DeclareLost: to(completed)},
	returnedByP: {ReturnToPartner: to(returnedToP), DeclareLost: to(completed)},
	returnedToP: {Complete: to(completed)},
	completed:   {Reactivate: {Status: readyToSend, Restore: true}, Anonymize: {Status: completed}},
	rejected:    {Reactivate: to(readyToSend), Anonymize: to(rejected)},
	cancStaff:   {Reactivate: to(readyToSend), Anonymize: to(cancStaff)},
	cancPatron:  {Reactivate: to(readyToSend), Anonymize: to(cancPatron)},
	cancPartner: {Reactivate: to(readyToSend), Anonymize: to(cancPartner)},
	expired:     {Reactivate: to(readyToSend), Anonymize: to(expired)},
}

// anywhere are the actions every status allows; they never change the status.
var anywhere = []Action{AddNote, ResolveAttention}

// Next returns where action a leads from status s, and false when s does not allow it
// (including an unknown status or action).
func Next(s Status, a Action) (Target, bool) {
	row, ok := table[s]
	if !ok {
		return Target{}, false
	}
	if t, ok := row[a]; ok {
		return t, true
	}
	if slices.Contains(anywhere, a) {
		return to(s), true
	}
	return Target{}, false
}

// Allowed lists the actions status s allows, in enum order.
func Allowed(s Status) []Action {
	var out []Action
	for _, a := range Actions() {
		if _, ok := Next(s, a); ok {
			out = append(out, a)
		}
	}
	return out
}

// Actions lists every action, in enum order.
func Actions() []Action {
	values := requestsv1.Action(0).Descriptor().Values()
	out := make([]Action, 0, values.Len()-1)
	for i := range values.Len() {
		if n := values.Get(i).Number(); n != 0 {
			out = append(out, Action(n))
		}
	}
	return out
}

// Statuses lists every status, in enum order.
func Statuses() []Status {
	values := requestsv1.Status(0).Descriptor().Values()
	out := make([]Status, 0, values.Len()-1)
	for i := range values.Len() {
		if n := values.Get(i).Number(); n != 0 {
			out = append(out, Status(n))
		}
	}
	return out
}

// unmet names the request-level condition beside its status that rules out action a
// with target t, or "" when there is none: resolving attention needs a flag to resolve,
// and a copies-only target needs a copy.
func unmet(r *requestsv1.BorrowingRequest, a Action, t Target) string {
	switch {
	case a == ResolveAttention && !r.GetNeedsAttention():
		return "the request does not need attention; there is nothing to resolve"
	case t.CopiesOnly && r.GetMedia() != requestsv1.Media_MEDIA_COPY:
		return "only a copy is completed once received; a loan goes back to the partner first (returnToPartner), or is declared lost (declareLost)"
	}
	return ""
}

// AllowedFor lists the actions request r allows now, in enum order.
func AllowedFor(r *requestsv1.BorrowingRequest) []Action {
	var out []Action
	for _, a := range Allowed(r.GetStatus()) {
		if t, _ := Next(r.GetStatus(), a); unmet(r, a, t) == "" {
			out = append(out, a)
		}
	}
	return out
}

// Check returns the status action a moves request r to, or a *NotAllowedError.
func Check(r *requestsv1.BorrowingRequest, a Action) (Status, error) {
	t, ok := Next(r.GetStatus(), a)
	var why string
	if ok {
		why = unmet(r, a, t)
	}
	if !ok || why != "" {
		return 0, &NotAllowedError{Action: a, Status: r.GetStatus(), Allowed: AllowedFor(r), Why: why}
	}
	return Resolve(r, t), nil
}

// NoteRequired reports whether action a needs a note: a note is the point of
// ACTION_ADD_NOTE, and declaring an item lost must say what happened.
func NoteRequired(a Action) bool { return a == AddNote || a == DeclareLost }

// Resolve is the status target t means for request r.
func Resolve(r *requestsv1.BorrowingRequest, t Target) Status {
	if t.Restore {
		if from := r.GetClosedFromStatus(); from != requestsv1.Status_STATUS_UNSPECIFIED && !Final(from) {
			return from
		}
	}
	return t.Status
}

// ReceiveFor picks the receive action for a `receive` call that names no format: what
// the partner reported shipping, else the request's format, else physical (Libris's
// default medium is a loan).
func ReceiveFor(r *requestsv1.BorrowingRequest) Action {
	switch {
	case r.GetStatus() == shippedDig:
		return ReceiveDigitally
	case r.GetStatus() == shippedPhys:
		return ReceivePhysically
	case r.GetFormat() == requestsv1.Format_FORMAT_DIGITAL:
		return ReceiveDigitally
	}
	return ReceivePhysically
}

// Name is an action's name in the audit trail: the enum name in lower case without its
// prefix, e.g. `receive_physically`.
func Name(a Action) string {
	return strings.ToLower(strings.TrimPrefix(a.String(), "ACTION_"))
}

// methods names the custom method (`POST /v1/{name}:<method>`) of each action.
var methods = map[Action]string{
	MarkReadyToSend: "markReadyToSend", Send: "send",
	ReceivePhysically: "receive", ReceiveDigitally: "receive",
	LoanToPatron: "loanToPatron", ReturnByPatron: "returnByPatron", ReturnToPartner: "returnToPartner",
	Complete: "complete", CancelByStaff: "cancel", CancelByPatron: "cancel",
	Reject: "reject", Expire: "expire", Reactivate: "reactivate",
	AddNote: "addNote", ResolveAttention: "resolveAttention", Anonymize: "anonymize",
	DeclareLost: "declareLost",
}

// Method is the custom method that performs a.
func Method(a Action) string { return methods[a] }
