package lifecycle

import (
	"strings"
	"testing"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
)

// abbrev names each status in the expectation grids below.
var abbrev = map[string]Status{
	"CRE": created, "RDY": readyToSend, "SNT": sent, "WSP": willSupply,
	"SHP": shippedPhys, "SHD": shippedDig, "RCP": receivedPhys, "RCD": receivedDig,
	"LNP": loaned, "RBP": returnedByP, "RTP": returnedToP, "CMP": completed,
	"REJ": rejected, "CXS": cancStaff, "CXU": cancPatron, "CXP": cancPartner, "EXP": expired,
	"UNS": requestsv1.Status_STATUS_UNSPECIFIED,
}

// transitions is the expected transition table, written out by hand from the design
// (docs/lifecycle.md), not derived from the code. Columns are the actions in enum order;
// a cell is the status the action leads to ("CMP*": only for a copy, media COPY), "=" for
// the same status, "<" for "back to the status it was completed from" and "-" for not
// allowed. The last row is a status the table does not know.
//
// Two rules worth knowing: a received loan is never completed without going back
// (RCP × CMP is copies only), and a physical item that will never come back is declared
// lost (LST) in transit, here or by the patron.
const transitions = `
      MRS SND RCP RCD LNP RBP RTP CMP  CXS CXU REJ EXP REA NOT RES ANO LST
CRE   RDY SNT  -   -   -   -   -   -   CXS CXU  -  EXP  -   =   =   -   -
RDY    -  SNT  -   -   -   -   -   -   CXS CXU  -  EXP  -   =   =   -   -
SNT    -  SNT RCP RCD  -   -   -   -   CXS CXU REJ EXP  -   =   =   -   -
WSP    -   -  RCP RCD  -   -   -   -   CXS CXU REJ EXP  -   =   =   -   -
SHP    -   -  RCP  -   -   -   -   -    -   -   -   -   -   =   =   -  CMP
SHD    -   -   -  RCD  -   -   -  CMP   -   -   -   -   -   =   =   -   -
RCP    -   -   -   -  LNP  -  RTP CMP*  -   -   -   -   -   =   =   -  CMP
RCD    -   -   -   -   -   -   -  CMP   -   -   -   -   -   =   =   -   -
LNP    -   -   -   -   -  RBP  -   -    -   -   -   -   -   =   =   -  CMP
RBP    -   -   -   -   -   -  RTP  -    -   -   -   -   -   =   =   -  CMP
RTP    -   -   -   -   -   -   -  CMP   -   -   -   -   -   =   =   -   -
CMP    -   -   -   -   -   -   -   -    -   -   -   -   <   =   =   =   -
REJ    -   -   -   -   -   -   -   -    -   -   -   -  RDY  =   =   =   -
CXS    -   -   -   -   -   -   -   -    -   -   -   -  RDY  =   =   =   -
CXU    -   -   -   -   -   -   -   -    -   -   -   -  RDY  =   =   =   -
CXP    -   -   -   -   -   -   -   -    -   -   -   -  RDY  =   =   =   -
EXP    -   -   -   -   -   -   -   -    -   -   -   -  RDY  =   =   =   -
UNS    -   -   -   -   -   -   -   -    -   -   -   -   -   -   -   -   -
`

// grid parses an expectation grid: the header's column count and, per row label, the cells.
func grid(t *testing.T, text string) (int, map[string][]string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	cols := len(strings.Fields(lines[0]))
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != cols+1 {
			t.Fatalf("grid row %q has %d cells, want %d", l, len(f)-1, cols)
		}
		rows[f[0]] = f[1:]
	}
	return cols, rows
}

// TestTransitionTable checks every (status, action) pair, including an unknown status
// and action, against the grid.
func TestTransitionTable(t *testing.T) {
	cols, rows := grid(t, transitions)
	actions := Actions()
	if len(actions) != cols {
		t.Fatalf("%d actions, the grid has %d columns: extend the grid", len(actions), cols)
	}
	if len(rows) != len(Statuses())+1 {
		t.Fatalf("the grid has %d rows for %d statuses + unspecified", len(rows), len(Statuses()))
	}
	pairs := 0
	for label, cells := range rows {
		s, ok := abbrev[label]
		if !ok {
			t.Fatalf("unknown row %s", label)
		}
		for i, a := range actions {
			pairs++
			got, allowed := Next(s, a)
			switch want := cells[i]; want {
			case "-":
				if allowed {
					t.Errorf("%s × %s: allowed (→ %v), want illegal", s, a, got)
				}
			case "=":
				if !allowed || got.Status != s || got.Restore {
					t.Errorf("%s × %s: %v %v, want the same status", s, a, got, allowed)
				}
			case "<":
				if !allowed || !got.Restore || got.Status != readyToSend || got.CopiesOnly {
					t.Errorf("%s × %s: %v %v, want restore (fallback READY_TO_SEND)", s, a, got, allowed)
				}
			default:
				status, copies := strings.CutSuffix(want, "*")
				if !allowed || got.Status != abbrev[status] || got.Restore || got.CopiesOnly != copies {
					t.Errorf("%s × %s: %+v %v, want %s", s, a, got, allowed, want)
				}
			}
		}
		// An action the enum does not define is never allowed.
		if _, ok := Next(s, Action(99)); ok {
			t.Errorf("%s allows an unknown action", s)
		}
		if _, ok := Next(s, requestsv1.Action_ACTION_UNSPECIFIED); ok {
			t.Errorf("%s allows ACTION_UNSPECIFIED", s)
		}
	}
	if _, ok := Next(Status(99), AddNote); ok {
		t.Error("an unknown status allows notes")
	}
	if pairs != 18*17 {
		t.Errorf("checked %d pairs", pairs)
	}
}

// TestFinalStatusesAreReadOnly: a closed status allows nothing that changes the request
// beyond reactivate (which reopens it) and the status-keeping actions.
func TestFinalStatusesAreReadOnly(t *testing.T) {
	for _, s := range Statuses() {
		for _, a := range Allowed(s) {
			target, _ := Next(s, a)
			if Final(s) && a != Reactivate && target.Status != s {
				t.Errorf("closed %s: %s leads to %s", s, a, target.Status)
			}
			if a == Reactivate && (!Final(s) || Final(target.Status)) {
				t.Errorf("reactivate from %s leads to %s", s, target.Status)
			}
		}
		if !Final(s) && len(Allowed(s)) < 3 {
			t.Errorf("open %s allows only %v: a request would be stuck", s, Allowed(s))
		}
	}
	var closed []string
	for _, s := range Statuses() {
		if Final(s) {
			closed = append(closed, s.String())
		}
	}
	if got := strings.Join(closed, " "); got != "STATUS_COMPLETED STATUS_REJECTED_BY_PARTNER STATUS_CANCELLED_BY_STAFF STATUS_CANCELLED_BY_PATRON STATUS_CANCELLED_BY_PARTNER STATUS_EXPIRED" {
		t.Errorf("final statuses: %s", got)
	}
}

func TestCheck(t *testing.T) {
	r := &requestsv1.BorrowingRequest{Status: sent}
	if to, err := Check(r, ReceiveDigitally); err != nil || to != receivedDig {
		t.Errorf("receive digitally from sent: %v %v", to, err)
	}
	_, err := Check(r, LoanToPatron)
	nae, ok := err.(*NotAllowedError)
	if !ok || nae.Status != sent || nae.Action != LoanToPatron ||
		nae.AllowedList() != "ACTION_SEND,ACTION_RECEIVE_PHYSICALLY,ACTION_RECEIVE_DIGITALLY,ACTION_CANCEL_BY_STAFF,ACTION_CANCEL_BY_PATRON,ACTION_REJECT,ACTION_EXPIRE,ACTION_ADD_NOTE" {
		t.Fatalf("loan from sent: %#v", err)
	}
	if !strings.Contains(err.Error(), "ACTION_LOAN_TO_PATRON is not allowed in status STATUS_REQUEST_SENT") || nae.Why != "" {
		t.Errorf("message: %s (why %q)", err, nae.Why)
	}
	// Resolving attention needs a flag; with one, it is allowed and keeps the status.
	if _, err := Check(r, ResolveAttention); err == nil || !strings.Contains(err.Error(), "nothing to resolve") {
		t.Errorf("resolve without a flag: %v", err)
	}
	r.NeedsAttention = true
	if to, err := Check(r, ResolveAttention); err != nil || to != sent {
		t.Errorf("resolve with a flag: %v %v", to, err)
	}
	if got := AllowedFor(r); got[len(got)-1] != ResolveAttention {
		t.Errorf("allowed with a flag: %v", got)
	}
}

// TestCompleteReceivedNeedsACopy: a received copy is completed (it is not returned); a
// received loan, or an item of unknown media (a loan by default), goes back to the
// partner first or is declared lost, and the refusal says so.
func TestCompleteReceivedNeedsACopy(t *testing.T) {
	for _, tc := range []struct {
		media   requestsv1.Media
		allowed string
	}{
		{requestsv1.Media_MEDIA_COPY, "ACTION_LOAN_TO_PATRON,ACTION_RETURN_TO_PARTNER,ACTION_COMPLETE,ACTION_ADD_NOTE,ACTION_DECLARE_LOST"},
		{requestsv1.Media_MEDIA_LOAN, "ACTION_LOAN_TO_PATRON,ACTION_RETURN_TO_PARTNER,ACTION_ADD_NOTE,ACTION_DECLARE_LOST"},
		{requestsv1.Media_MEDIA_UNSPECIFIED, "ACTION_LOAN_TO_PATRON,ACTION_RETURN_TO_PARTNER,ACTION_ADD_NOTE,ACTION_DECLARE_LOST"},
	} {
		r := &requestsv1.BorrowingRequest{Status: receivedPhys, Media: tc.media}
		to, err := Check(r, Complete)
		nae, _ := err.(*NotAllowedError)
		switch {
		case tc.media == requestsv1.Media_MEDIA_COPY && (err != nil || to != completed):
			t.Errorf("%s: complete = %v, %v", tc.media, to, err)
		case tc.media != requestsv1.Media_MEDIA_COPY && (nae == nil || !strings.Contains(err.Error(), "goes back to the partner first")):
			t.Errorf("%s: complete = %v, %v", tc.media, to, err)
		case nae != nil && nae.AllowedList() != tc.allowed:
			t.Errorf("%s: allowed in the refusal %s", tc.media, nae.AllowedList())
		}
		var got []string
		for _, a := range AllowedFor(r) {
			got = append(got, a.String())
		}
		if strings.Join(got, ",") != tc.allowed {
			t.Errorf("%s: allowed %v, want %s", tc.media, got, tc.allowed)
		}
	}
	// Elsewhere complete does not depend on the media.
	for _, s := range []Status{shippedDig, receivedDig, returnedToP} {
		if to, err := Check(&requestsv1.BorrowingRequest{Status: s, Media: requestsv1.Media_MEDIA_LOAN}, Complete); err != nil || to != completed {
			t.Errorf("complete a loan from %s: %v %v", s, to, err)
		}
	}
}

// TestDeclareLost: an item lost in transit, here or by the patron closes as completed,
// and reactivating it (the item turned up) returns to where it was lost; the action
// needs a note.
func TestDeclareLost(t *testing.T) {
	for _, from := range []Status{shippedPhys, receivedPhys, loaned, returnedByP} {
		r := &requestsv1.BorrowingRequest{Status: from, Media: requestsv1.Media_MEDIA_LOAN}
		to, err := Check(r, DeclareLost)
		if err != nil || to != completed {
			t.Fatalf("declare lost from %s: %v %v", from, to, err)
		}
		back, err := Check(&requestsv1.BorrowingRequest{Status: completed, ClosedFromStatus: from}, Reactivate)
		if err != nil || back != from {
			t.Errorf("reactivate a request lost in %s: %v %v", from, back, err)
		}
	}
	for a, want := range map[Action]bool{DeclareLost: true, AddNote: true, Complete: false, CancelByStaff: false, ResolveAttention: false} {
		if NoteRequired(a) != want {
			t.Errorf("NoteRequired(%s) = %v", a, !want)
		}
	}
}

// TestReactivateRestores: a completed request returns to the status it was completed
// from; without one (imported as completed) it starts again at READY_TO_SEND.
func TestReactivateRestores(t *testing.T) {
	for _, tc := range []struct{ status, from, want Status }{
		{completed, returnedToP, returnedToP},
		{completed, receivedDig, receivedDig},
		{completed, requestsv1.Status_STATUS_UNSPECIFIED, readyToSend},
		{completed, cancStaff, readyToSend}, // a closed status is never restored
		{cancStaff, sent, readyToSend},
		{rejected, willSupply, readyToSend},
	} {
		got, err := Check(&requestsv1.BorrowingRequest{Status: tc.status, ClosedFromStatus: tc.from}, Reactivate)
		if err != nil || got != tc.want {
			t.Errorf("reactivate %s (closed from %s) = %s, %v; want %s", tc.status, tc.from, got, err, tc.want)
		}
	}
}

func TestReceiveFor(t *testing.T) {
	dig, phys := requestsv1.Format_FORMAT_DIGITAL, requestsv1.Format_FORMAT_PHYSICAL
	for _, tc := range []struct {
		status Status
		format requestsv1.Format
		want   Action
	}{
		{shippedDig, phys, ReceiveDigitally}, // what was shipped wins over the format asked for
		{shippedPhys, dig, ReceivePhysically},
		{sent, dig, ReceiveDigitally},
		{willSupply, phys, ReceivePhysically},
		{sent, requestsv1.Format_FORMAT_UNSPECIFIED, ReceivePhysically},
	} {
		if got := ReceiveFor(&requestsv1.BorrowingRequest{Status: tc.status, Format: tc.format}); got != tc.want {
			t.Errorf("%s %s: %s, want %s", tc.status, tc.format, got, tc.want)
		}
	}
}

func TestNamesAndMethods(t *testing.T) {
	if Name(ReceivePhysically) != "receive_physically" || Name(AddNote) != "add_note" || Name(DeclareLost) != "declare_lost" {
		t.Errorf("names: %s %s %s", Name(ReceivePhysically), Name(AddNote), Name(DeclareLost))
	}
	for _, a := range Actions() {
		if Method(a) == "" {
			t.Errorf("%s has no custom method", a)
		}
	}
}

// libris is the harvester's Libris status mapping (its MapStatus table, the contract on
// the ingest stream): raw status → our status for a loan and for a copy.
var libris = []struct {
	raw        string
	loan, copy Status
}{
	{"Uteliggande", sent, sent},
	{"Remitterad", sent, sent},
	{"Läst", sent, sent},
	{"Kan reserveras", sent, sent},
	{"Reservation", sent, sent},
	{"Ej avbeställd!", sent, sent},
	{"Reserverad", willSupply, willSupply},
	{"Levererad", shippedPhys, shippedDig},
	{"Negativt svar", rejected, rejected},
	{"Avbeställd", cancStaff, cancStaff},
	{"Makulerad", cancPartner, cancPartner},
}

// reconciliation is the expected reconciliation table for the statuses Libris statuses
// map to (columns) against every local status (rows), written out by hand: A applies the
// external status, k keeps the local one, C keeps it and flags a conflict.
const reconciliation = `
      SNT WSP SHP SHD REJ CXS CXP
CRE    A   A   A   A   A   A   A
RDY    A   A   A   A   A   A   A
SNT    k   A   A   A   A   A   A
WSP    k   k   A   A   A   A   A
SHP    k   k   k   A   C   C   C
SHD    k   k   A   k   C   C   C
RCP    k   k   k   k   C   C   C
RCD    k   k   k   k   C   C   C
LNP    k   k   k   k   C   C   C
RBP    k   k   k   k   C   C   C
RTP    k   k   k   k   C   C   C
CMP    k   k   k   k   C   C   C
REJ    C   C   C   C   k   k   k
CXS    C   C   C   C   k   k   k
CXU    C   C   C   C   k   k   k
CXP    C   C   C   C   k   k   k
EXP    C   C   C   C   k   k   k
`

// expectedReconcile reads the hand-written table: the verdict for a local status and an
// external status that a Libris status maps to.
func expectedReconcile(t *testing.T, local, external Status) Verdict {
	t.Helper()
	_, rows := grid(t, reconciliation)
	header := strings.Fields(strings.Split(strings.TrimSpace(reconciliation), "\n")[0])
	for label, cells := range rows {
		if abbrev[label] != local {
			continue
		}
		for i, h := range header {
			if abbrev[h] == external {
				return map[string]Verdict{"A": Apply, "k": Keep, "C": Conflict}[cells[i]]
			}
		}
	}
	t.Fatalf("no expectation for %s × %s", local, external)
	return 0
}

// TestReconcileLibris checks every Libris status, as a loan and as a copy, against every
// local status.
func TestReconcileLibris(t *testing.T) {
	_, rows := grid(t, reconciliation)
	if len(rows) != len(Statuses()) {
		t.Fatalf("the grid has %d rows for %d statuses", len(rows), len(Statuses()))
	}
	for _, l := range libris {
		for _, external := range []Status{l.loan, l.copy} {
			for _, local := range Statuses() {
				got, hint := Reconcile(local, external)
				if want := expectedReconcile(t, local, external); got != want {
					t.Errorf("local %s, Libris %q (%s): %s, want %s", local, l.raw, external, got, want)
				}
				if (got == Conflict) != (hint != "") {
					t.Errorf("local %s, external %s: verdict %s with hint %q", local, external, got, hint)
				}
			}
		}
	}
}

// TestReconcileNeverGoesBack holds for every pair of statuses, not only Libris's: an
// applied external status is never behind the local one on the main path, never leaves a
// closed status, and never ends a request that was shipped or received here.
func TestReconcileNeverGoesBack(t *testing.T) {
	all := append(Statuses(), requestsv1.Status_STATUS_UNSPECIFIED)
	for _, local := range all {
		for _, external := range all {
			v, _ := Reconcile(local, external)
			if v != Apply {
				continue
			}
			switch {
			case local == external:
				t.Errorf("%s → itself applied", local)
			case Final(local):
				t.Errorf("closed %s moved to %s", local, external)
			case local == requestsv1.Status_STATUS_UNSPECIFIED || external == requestsv1.Status_STATUS_UNSPECIFIED:
				t.Errorf("unspecified in %s → %s", local, external)
			case negative(external) && rank[local] > rank[willSupply]:
				t.Errorf("%s (shipped or received) ended by %s", local, external)
			case !negative(external) && rank[external] < rank[local]:
				t.Errorf("%s moved back to %s", local, external)
			}
		}
	}
	if v, _ := Reconcile(receivedPhys, receivedDig); v != Conflict {
		t.Errorf("received physically, external received digitally: %s", v)
	}
	if v, _ := Reconcile(sent, completed); v != Apply {
		t.Errorf("sent, external completed: %s", v)
	}
}
