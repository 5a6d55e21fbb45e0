package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
)

// librisStatuses is the harvester's Libris mapping (its MapStatus table, the contract on
// the ingest stream): raw status → our status for a loan and for a copy.
var librisStatuses = []struct {
	raw        string
	loan, copy requestsv1.Status
}{
	{"Uteliggande", stSent, stSent},
	{"Remitterad", stSent, stSent},
	{"Läst", stSent, stSent},
	{"Kan reserveras", stSent, stSent},
	{"Reservation", stSent, stSent},
	{"Ej avbeställd!", stSent, stSent},
	{"Reserverad", requestsv1.Status_STATUS_WILL_SUPPLY, requestsv1.Status_STATUS_WILL_SUPPLY},
	{"Levererad", stShipped, requestsv1.Status_STATUS_SHIPPED_DIGITALLY},
	{"Negativt svar", requestsv1.Status_STATUS_REJECTED_BY_PARTNER, requestsv1.Status_STATUS_REJECTED_BY_PARTNER},
	{"Avbeställd", requestsv1.Status_STATUS_CANCELLED_BY_STAFF, requestsv1.Status_STATUS_CANCELLED_BY_STAFF},
	{"Makulerad", requestsv1.Status_STATUS_CANCELLED_BY_PARTNER, requestsv1.Status_STATUS_CANCELLED_BY_PARTNER},
}

// TestReconcileThroughIngest re-harvests every Libris status, as a loan and as a copy,
// onto a request in every local status, and checks what the ledger made of it: the status
// (the reconciliation table's verdict, checked cell by cell in package lifecycle), the
// attention flag and reason, the stored raw status, closed_from_status and the audit event.
func TestReconcileThroughIngest(t *testing.T) {
	s := newStore(t)
	lm := t0.Add(-time.Hour)
	n := 0
	for _, l := range librisStatuses {
		for _, media := range []requestsv1.Media{requestsv1.Media_MEDIA_LOAN, requestsv1.Media_MEDIA_COPY} {
			external := l.loan
			if media == requestsv1.Media_MEDIA_COPY {
				external = l.copy
			}
			for _, local := range lifecycle.Statuses() {
				n++
				ext := fmt.Sprint(n)
				now := t0.Add(time.Duration(n) * time.Minute)
				res := apply(t, s, now, item(ext, lm, func(it *requestsv1.IngestItem) { it.ExternalStatus, it.Media = local, media }))
				if res[0].Outcome != created {
					t.Fatalf("import: %v", res[0])
				}
				id, _ := idOfName(res[0].BorrowingRequest)
				res = apply(t, s, now.Add(time.Second), item(ext, lm.Add(time.Second), func(it *requestsv1.IngestItem) {
					it.ExternalStatus, it.Media, it.ExternalReference.StatusRaw = external, media, l.raw
				}))
				if res[0].Outcome != updated {
					t.Fatalf("update: %v", res[0])
				}
				r := get(t, s, id)
				verdict, _ := lifecycle.Reconcile(local, external)
				want := local
				if verdict == lifecycle.Apply {
					want = external
				}
				where := fmt.Sprintf("local %s, Libris %q (%s)", local, l.raw, media)
				if r.Status != want {
					t.Errorf("%s: status %s, want %s (%s)", where, r.Status, want, verdict)
				}
				if r.NeedsAttention != (verdict == lifecycle.Conflict) ||
					(verdict == lifecycle.Conflict && !strings.HasPrefix(r.AttentionReason, fmt.Sprintf("LIBRIS reported %q (%s) while the request is %s here: ", l.raw, external, local))) {
					t.Errorf("%s: attention %v %q", where, r.NeedsAttention, r.AttentionReason)
				}
				if r.ExternalReference.StatusRaw != l.raw {
					t.Errorf("%s: raw status %q not stored", where, r.ExternalReference.StatusRaw)
				}
				wantClosedFrom := requestsv1.Status_STATUS_UNSPECIFIED
				if verdict == lifecycle.Apply && lifecycle.Final(external) {
					wantClosedFrom = local
				}
				if r.ClosedFromStatus != wantClosedFrom {
					t.Errorf("%s: closed_from_status %s, want %s", where, r.ClosedFromStatus, wantClosedFrom)
				}
				evs, _, err := s.Events(id, nil, 10)
				noErr(t, err)
				if len(evs) != 2 {
					t.Fatalf("%s: %d events", where, len(evs))
				}
				imp, upd := evs[0], evs[1]
				if imp.Actor != ActorHarvester || imp.Action != EventImport || imp.ToStatus != local || imp.FromStatus != 0 ||
					imp.ExternalStatusRaw != "Beställd" || imp.Run != "runs/7" || !imp.Time.AsTime().Equal(now) {
					t.Errorf("%s: import event %v", where, imp)
				}
				if upd.Actor != "external:LIBRIS" || upd.Action != EventExternalUpdate || upd.FromStatus != local || upd.ToStatus != want ||
					upd.ExternalStatus != external || upd.ExternalStatusRaw != l.raw || upd.Run != "runs/7" ||
					upd.AttentionReason != r.AttentionReason || upd.Note != "" {
					t.Errorf("%s: update event %v", where, upd)
				}
			}
		}
	}
	checkIndexes(t, s)
}

// TestReconcileKeepsLocalSteps walks one request through local steps while Libris keeps
// reporting: forward news applies, lagging news is kept out, a conflict is flagged once
// and stays flagged (the later agreeing update does not hide it) until staff resolve it.
func TestReconcileKeepsLocalSteps(t *testing.T) {
	s := newStore(t)
	lm := t0.Add(-time.Hour)
	version := 0
	harvest := func(raw string, status requestsv1.Status) *requestsv1.BorrowingRequest {
		t.Helper()
		version++
		res := apply(t, s, t0.Add(time.Duration(version)*time.Minute), item("1", lm.Add(time.Duration(version)*time.Second), func(it *requestsv1.IngestItem) {
			it.ExternalStatus, it.ExternalReference.StatusRaw = status, raw
		}))
		if res[0].Outcome != created && res[0].Outcome != updated {
			t.Fatalf("harvest %s: %v", raw, res[0])
		}
		return get(t, s, 1)
	}
	act := func(a requestsv1.Action) {
		t.Helper()
		version++
		_, err := s.Act(1, "", Command{Action: a, Actor: "anonymous"}, t0.Add(time.Duration(version)*time.Minute))
		noErr(t, err)
	}
	steps := []struct {
		do        func() *requestsv1.BorrowingRequest
		status    requestsv1.Status
		attention bool
	}{
		{func() *requestsv1.BorrowingRequest { return harvest("Uteliggande", stSent) }, stSent, false},
		{func() *requestsv1.BorrowingRequest {
			return harvest("Reserverad", requestsv1.Status_STATUS_WILL_SUPPLY)
		}, requestsv1.Status_STATUS_WILL_SUPPLY, false},
		{func() *requestsv1.BorrowingRequest { return harvest("Levererad", stShipped) }, stShipped, false},
		{func() *requestsv1.BorrowingRequest {
			act(lifecycle.ReceivePhysically)
			return harvest("Levererad", stShipped) // Libris lags behind: received stays received
		}, requestsv1.Status_STATUS_RECEIVED_PHYSICALLY, false},
		{func() *requestsv1.BorrowingRequest {
			act(lifecycle.LoanToPatron)
			return harvest("Uteliggande", stSent) // far behind: loaned stays loaned
		}, requestsv1.Status_STATUS_LOANED_TO_PATRON, false},
		{func() *requestsv1.BorrowingRequest {
			return harvest("Makulerad", requestsv1.Status_STATUS_CANCELLED_BY_PARTNER)
		}, requestsv1.Status_STATUS_LOANED_TO_PATRON, true},
		{func() *requestsv1.BorrowingRequest { return harvest("Levererad", stShipped) }, requestsv1.Status_STATUS_LOANED_TO_PATRON, true},
		{func() *requestsv1.BorrowingRequest { act(lifecycle.ResolveAttention); return get(t, s, 1) }, requestsv1.Status_STATUS_LOANED_TO_PATRON, false},
	}
	for i, st := range steps {
		r := st.do()
		if r.Status != st.status || r.NeedsAttention != st.attention {
			t.Fatalf("step %d: %s attention %v (%q), want %s attention %v", i, r.Status, r.NeedsAttention, r.AttentionReason, st.status, st.attention)
		}
	}
	evs, _, err := s.Events(1, nil, 100)
	noErr(t, err)
	var trail []string
	for _, ev := range evs {
		trail = append(trail, fmt.Sprintf("%s:%s", ev.Action, strings.TrimPrefix(ev.ToStatus.String(), "STATUS_")))
	}
	want := "import:REQUEST_SENT external_update:WILL_SUPPLY external_update:SHIPPED_PHYSICALLY receive_physically:RECEIVED_PHYSICALLY " +
		"external_update:RECEIVED_PHYSICALLY loan_to_patron:LOANED_TO_PATRON external_update:LOANED_TO_PATRON " +
		"external_update:LOANED_TO_PATRON external_update:LOANED_TO_PATRON resolve_attention:LOANED_TO_PATRON"
	if got := strings.Join(trail, " "); got != want {
		t.Errorf("trail\n got %s\nwant %s", got, want)
	}
	if evs[7].AttentionReason == "" || evs[8].AttentionReason != "" {
		t.Errorf("only the conflicting update carries a reason: %q, %q", evs[7].AttentionReason, evs[8].AttentionReason)
	}
	checkIndexes(t, s)
}

// TestReconcileUnknownSystem: an item without a system is audited as "external".
func TestReconcileUnknownSystem(t *testing.T) {
	s := newStore(t)
	apply(t, s, t0, item("1", t0.Add(-time.Hour)))
	it := item("1", t0, func(it *requestsv1.IngestItem) {
		it.ExternalReference.System = 0
		it.ExternalStatus = requestsv1.Status_STATUS_REJECTED_BY_PARTNER
	})
	it.ExternalReference.LastModifiedTime = timestamppb.New(t0)
	apply(t, s, t0.Add(time.Minute), it)
	evs, _, err := s.Events(1, nil, 10)
	noErr(t, err)
	if len(evs) != 2 || evs[1].Actor != "external" || evs[1].ToStatus != requestsv1.Status_STATUS_REJECTED_BY_PARTNER {
		t.Errorf("events %v", evs)
	}
}
