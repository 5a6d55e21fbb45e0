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

// step is one step of a reconciliation scenario: an external update (raw status and
// what it maps to, with further changes to the item) or a staff action, and what the
// request looks like after it.
type step struct {
	raw       string
	external  requestsv1.Status
	mods      []func(*requestsv1.IngestItem)
	act       requestsv1.Action
	partner   string // for act Send: the partner to send to
	status    requestsv1.Status
	attention string // "" for no flag, else a substring of the reason
}

// harvested is an external update step.
func harvested(raw string, external requestsv1.Status, status requestsv1.Status, attention string, mods ...func(*requestsv1.IngestItem)) step {
	return step{raw: raw, external: external, mods: mods, status: status, attention: attention}
}

// acted is a staff action step.
func acted(a requestsv1.Action, status requestsv1.Status) step { return step{act: a, status: status} }

func retitled(title string) func(*requestsv1.IngestItem) {
	return func(it *requestsv1.IngestItem) { it.Bibliographic.Title = title }
}

func lender(p string) func(*requestsv1.IngestItem) {
	return func(it *requestsv1.IngestItem) { it.Partner = p }
}

// runSteps plays steps on request ext of a fresh store; the first step imports it. Each
// external update is a newer version (a Libris edit), so every one is UPDATED.
func runSteps(t *testing.T, steps []step) (*Store, *requestsv1.BorrowingRequest) {
	t.Helper()
	s := newStore(t)
	clk := &clock{t: t0}
	var r *requestsv1.BorrowingRequest
	for i, st := range steps {
		now := clk.now()
		if st.act == 0 {
			mods := append([]func(*requestsv1.IngestItem){func(it *requestsv1.IngestItem) {
				it.ExternalStatus, it.ExternalReference.StatusRaw = st.external, st.raw
			}}, st.mods...)
			res := apply(t, s, now, item("1", t0.Add(-time.Hour+time.Duration(i)*time.Second), mods...))
			if res[0].Outcome != created && res[0].Outcome != updated {
				t.Fatalf("step %d: %v", i, res[0])
			}
		} else {
			note := ""
			if lifecycle.NoteRequired(st.act) {
				note = "step note"
			}
			if _, err := s.Act(1, "", Command{Action: st.act, Partner: st.partner, Note: note, Actor: "anonymous"}, now); err != nil {
				t.Fatalf("step %d: %s: %v", i, st.act, err)
			}
		}
		r = get(t, s, 1)
		if r.Status != st.status || r.NeedsAttention != (st.attention != "") || !strings.Contains(r.AttentionReason, st.attention) {
			what := st.raw
			if st.act != 0 {
				what = st.act.String()
			}
			t.Fatalf("step %d (%s): %s attention %v %q; want %s attention %q",
				i, what, r.Status, r.NeedsAttention, r.AttentionReason, st.status, st.attention)
		}
	}
	checkIndexes(t, s)
	return s, r
}

// TestReconcileOnlyNews: an external update whose status the ledger has already seen
// refreshes the description only. It never undoes a local step (a request rejected or
// cancelled there, then reactivated and sent here, stays sent) and never raises again a
// conflict staff resolved; a status that did change is reconciled as always.
func TestReconcileOnlyNews(t *testing.T) {
	rejected := requestsv1.Status_STATUS_REJECTED_BY_PARTNER
	ready := requestsv1.Status_STATUS_READY_TO_SEND
	loaned := requestsv1.Status_STATUS_LOANED_TO_PATRON
	received := requestsv1.Status_STATUS_RECEIVED_PHYSICALLY
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		// (a) A closing status, then local steps: the same status again is no news.
		{"rejected, reactivated, sent", []step{
			harvested("Negativt svar", rejected, rejected, ""),
			acted(lifecycle.Reactivate, ready),
			acted(lifecycle.Send, stSent),
			harvested("Negativt svar", rejected, stSent, "", retitled("Hemsöborna")),
			harvested("Negativt svar", rejected, stSent, "", retitled("Inferno")),
			// News is news: Libris moves on, then says no again.
			harvested("Remitterad", stSent, stSent, ""),
			harvested("Negativt svar", rejected, rejected, ""),
		}},
		{"cancelled by staff there, reactivated, sent", []step{
			harvested("Avbeställd", requestsv1.Status_STATUS_CANCELLED_BY_STAFF, requestsv1.Status_STATUS_CANCELLED_BY_STAFF, ""),
			acted(lifecycle.Reactivate, ready),
			acted(lifecycle.Send, stSent),
			harvested("Avbeställd", requestsv1.Status_STATUS_CANCELLED_BY_STAFF, stSent, "", retitled("Hemsöborna")),
		}},
		{"cancelled by partner, reactivated, received", []step{
			harvested("Uteliggande", stSent, stSent, ""),
			harvested("Makulerad", requestsv1.Status_STATUS_CANCELLED_BY_PARTNER, requestsv1.Status_STATUS_CANCELLED_BY_PARTNER, ""),
			acted(lifecycle.Reactivate, ready),
			acted(lifecycle.Send, stSent),
			acted(lifecycle.ReceivePhysically, received),
			harvested("Makulerad", requestsv1.Status_STATUS_CANCELLED_BY_PARTNER, received, "", retitled("Hemsöborna")),
		}},
		// (b) A resolved conflict stays resolved through unrelated edits.
		{"conflict resolved, then unrelated edits", []step{
			harvested("Levererad", stShipped, stShipped, ""),
			acted(lifecycle.ReceivePhysically, received),
			acted(lifecycle.LoanToPatron, loaned),
			harvested("Makulerad", requestsv1.Status_STATUS_CANCELLED_BY_PARTNER, loaned, `LIBRIS reported "Makulerad"`),
			acted(lifecycle.ResolveAttention, loaned),
			harvested("Makulerad", requestsv1.Status_STATUS_CANCELLED_BY_PARTNER, loaned, "", retitled("Hemsöborna")),
			harvested("Makulerad", requestsv1.Status_STATUS_CANCELLED_BY_PARTNER, loaned, "", func(it *requestsv1.IngestItem) { it.Note = "ring mig" }),
			// Another closing status is news, and a conflict again.
			harvested("Avbeställd", requestsv1.Status_STATUS_CANCELLED_BY_STAFF, loaned, `LIBRIS reported "Avbeställd"`),
		}},
		{"conflict on a closed request resolved", []step{
			harvested("Uteliggande", stSent, stSent, ""),
			acted(lifecycle.CancelByStaff, requestsv1.Status_STATUS_CANCELLED_BY_STAFF),
			harvested("Läst", stSent, requestsv1.Status_STATUS_CANCELLED_BY_STAFF, "still active in the external system"),
			acted(lifecycle.ResolveAttention, requestsv1.Status_STATUS_CANCELLED_BY_STAFF),
			harvested("Läst", stSent, requestsv1.Status_STATUS_CANCELLED_BY_STAFF, "", retitled("Hemsöborna")),
			// A raw status that maps the same is still news: the cancellation was refused.
			harvested("Ej avbeställd!", stSent, requestsv1.Status_STATUS_CANCELLED_BY_STAFF, `"Ej avbeställd!"`),
		}},
		// The same raw status mapped differently (a loan turned copy) is news.
		{"same raw status, other mapping", []step{
			harvested("Levererad", stShipped, stShipped, ""),
			harvested("Levererad", requestsv1.Status_STATUS_SHIPPED_DIGITALLY, requestsv1.Status_STATUS_SHIPPED_DIGITALLY, "",
				func(it *requestsv1.IngestItem) { it.Media = requestsv1.Media_MEDIA_COPY }),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, r := runSteps(t, tc.steps)
			last := tc.steps[len(tc.steps)-1]
			if r.ExternalReference.StatusRaw != last.raw || r.ExternalStatus != last.external {
				t.Errorf("external status on record: %q %s", r.ExternalReference.StatusRaw, r.ExternalStatus)
			}
			// Every update is audited, news or not.
			evs, _, err := s.Events(1, nil, 100)
			noErr(t, err)
			if len(evs) != len(tc.steps) {
				t.Errorf("%d events for %d steps", len(evs), len(tc.steps))
			}
			if ev := evs[len(evs)-1]; ev.ExternalStatusRaw != last.raw || ev.ExternalStatus != last.external || ev.AttentionReason != r.AttentionReason {
				t.Errorf("last event %v", ev)
			}
		})
	}
	// The description is refreshed by an update that is no news.
	_, r := runSteps(t, []step{
		harvested("Negativt svar", rejected, rejected, ""),
		acted(lifecycle.Reactivate, ready),
		harvested("Negativt svar", rejected, ready, "", retitled("Hemsöborna")),
	})
	if r.Bibliographic.Title != "Hemsöborna" {
		t.Errorf("title %q", r.Bibliographic.Title)
	}
}

// TestReconcilePartner: the external system names the lender, and the ledger takes it
// over, until staff send the request to another partner here. Then the ledger keeps
// ours, and flags the request when the external lender differs from ours: at the first
// update after the send, and whenever the external lender changes again (an unchanged
// one was flagged already). When the external system names our partner, the two agree
// and its lenders are taken over again.
func TestReconcilePartner(t *testing.T) {
	const a, b, c, d = "partners/A", "partners/B", "partners/C", "partners/D"
	send := func(p string) step { return step{act: lifecycle.Send, partner: p, status: stSent} }
	libris := func(p, attention string, mods ...func(*requestsv1.IngestItem)) step {
		return harvested("Läst", stSent, stSent, attention, append([]func(*requestsv1.IngestItem){lender(p)}, mods...)...)
	}
	type want struct{ partner, external string }
	for _, tc := range []struct {
		name  string
		steps []step
		want  []want // after each step
	}{
		{"followed, sent elsewhere, agreed, followed again", []step{
			libris(a, ""),
			libris(b, ""), // Libris moved on by itself: taken over
			send(c),
			libris(b, "LIBRIS names partners/B as the active lender while the request was sent to partners/C here", retitled("x")),
			acted(lifecycle.ResolveAttention, stSent),
			libris(b, "", retitled("y")), // the same lender, already flagged
			libris(d, "LIBRIS names partners/D as the active lender while the request was sent to partners/C here"),
			acted(lifecycle.ResolveAttention, stSent),
			libris(c, ""), // Libris caught up: ours again is theirs
			libris(a, ""), // followed again
		}, []want{{a, a}, {b, b}, {c, b}, {c, b}, {c, b}, {c, b}, {c, d}, {c, d}, {c, c}, {a, a}}},
		{"sent elsewhere, Libris already agrees", []step{
			libris(a, ""),
			send(b),
			libris(b, ""),
		}, []want{{a, a}, {b, a}, {b, b}}},
		{"sent back to the external lender", []step{
			libris(a, ""),
			send(b),
			send(a),
			libris(a, "", retitled("x")),
			libris(c, ""),
		}, []want{{a, a}, {b, a}, {a, a}, {a, a}, {c, c}}},
		{"sent without naming a partner keeps following", []step{
			libris(a, ""),
			send(""),
			libris(b, ""),
		}, []want{{a, a}, {a, a}, {b, b}}},
		{"Libris names no lender", []step{
			libris("", ""),
			send(a),
			libris("", "LIBRIS names no active lender while the request was sent to partners/A here"),
		}, []want{{"", ""}, {a, ""}, {a, ""}}},
		{"a status conflict and a lender conflict together", []step{
			libris(a, ""),
			send(b),
			acted(lifecycle.CancelByStaff, requestsv1.Status_STATUS_CANCELLED_BY_STAFF),
			harvested("Remitterad", stSent, requestsv1.Status_STATUS_CANCELLED_BY_STAFF,
				`LIBRIS reported "Remitterad" (STATUS_REQUEST_SENT) while the request is STATUS_CANCELLED_BY_STAFF here: the request is still active in the external system but closed here: close it there too, or reactivate it here. Also: LIBRIS names partners/C`, lender(c)),
		}, []want{{a, a}, {b, a}, {b, a}, {b, c}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for n := 1; n <= len(tc.steps); n++ {
				_, r := runSteps(t, tc.steps[:n])
				if w := tc.want[n-1]; r.Partner != w.partner || r.ExternalPartner != w.external {
					t.Fatalf("after step %d: partner %q external %q, want %q %q", n-1, r.Partner, r.ExternalPartner, w.partner, w.external)
				}
			}
		})
	}
	// The flagging update is audited with the lender Libris named and the reason.
	s, _ := runSteps(t, []step{libris(a, ""), send(b), libris(a, "partners/A as the active lender")})
	evs, _, err := s.Events(1, nil, 10)
	noErr(t, err)
	if ev := evs[2]; ev.Action != EventExternalUpdate || ev.Partner != a || !strings.Contains(ev.AttentionReason, "sent to partners/B here") {
		t.Errorf("flagging event %v", ev)
	}
	if ev := evs[1]; ev.Action != "send" || ev.Partner != b {
		t.Errorf("send event %v", ev)
	}
}
