package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
)

// clock hands out a new time per call, a second apart.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func do(t *testing.T, s *Store, id uint64, c Command, now time.Time) *requestsv1.BorrowingRequest {
	t.Helper()
	if c.Actor == "" {
		c.Actor = "anonymous"
	}
	r, err := s.Act(id, "", c, now)
	noErr(t, err)
	return r
}

// TestActLifecycle walks a loan through its whole life and back, checking each stored
// request, its history and the indexes.
func TestActLifecycle(t *testing.T) {
	s := newStore(t)
	clk := &clock{t: t0}
	apply(t, s, clk.now(), item("1", t0.Add(-time.Hour), func(it *requestsv1.IngestItem) { it.Partner = "" }))

	r := do(t, s, 1, Command{Action: lifecycle.MarkReadyToSend, Note: "checked the citation"}, clk.now())
	if r.Status != requestsv1.Status_STATUS_READY_TO_SEND {
		t.Fatalf("mark ready: %v", r.Status)
	}
	// Sending needs a partner: none stored, none given.
	before := dump(t, s)
	if _, err := s.Act(1, "", Command{Action: lifecycle.Send}, clk.now()); !errors.Is(err, ErrPartnerRequired) {
		t.Fatalf("send without a partner: %v", err)
	}
	if after := dump(t, s); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Error("a refused send wrote something")
	}
	r = do(t, s, 1, Command{Action: lifecycle.Send, Partner: "partners/XYZ"}, clk.now())
	if r.Status != stSent || r.Partner != "partners/XYZ" {
		t.Fatalf("send: %v %v", r.Status, r.Partner)
	}
	r = do(t, s, 1, Command{Choose: lifecycle.ReceiveFor}, clk.now()) // physical: the item's format
	for _, step := range []struct {
		a    requestsv1.Action
		want requestsv1.Status
	}{
		{lifecycle.LoanToPatron, requestsv1.Status_STATUS_LOANED_TO_PATRON},
		{lifecycle.ReturnByPatron, requestsv1.Status_STATUS_RETURNED_BY_PATRON},
		{lifecycle.ReturnToPartner, requestsv1.Status_STATUS_RETURNED_TO_PARTNER},
		{lifecycle.Complete, stCompleted},
	} {
		prev := r
		r = do(t, s, 1, Command{Action: step.a}, clk.now())
		if r.Status != step.want || r.Etag == prev.Etag || !r.UpdateTime.AsTime().After(prev.UpdateTime.AsTime()) {
			t.Fatalf("%s: %v (etag %s → %s)", step.a, r.Status, prev.Etag, r.Etag)
		}
		checkEtag(t, r)
	}
	if r.ClosedFromStatus != requestsv1.Status_STATUS_RETURNED_TO_PARTNER {
		t.Errorf("closed from %s", r.ClosedFromStatus)
	}
	// Closed: read-only but for notes, reactivate and anonymize.
	if _, err := s.Act(1, "", Command{Action: lifecycle.ReturnToPartner}, clk.now()); !isNotAllowed(err) {
		t.Errorf("return after completion: %v", err)
	}
	r = do(t, s, 1, Command{Action: lifecycle.AddNote, Note: "invoice paid"}, clk.now())
	if r.Status != stCompleted {
		t.Errorf("note changed the status: %v", r.Status)
	}
	r = do(t, s, 1, Command{Action: lifecycle.Reactivate, Note: "completed by mistake"}, clk.now())
	if r.Status != requestsv1.Status_STATUS_RETURNED_TO_PARTNER || r.ClosedFromStatus != 0 {
		t.Errorf("reactivated: %v closed from %v", r.Status, r.ClosedFromStatus)
	}

	evs, _, err := s.Events(1, nil, 100)
	noErr(t, err)
	var trail []string
	for _, ev := range evs {
		trail = append(trail, fmt.Sprintf("%s/%s/%s", ev.Actor, ev.Action, ev.Note))
	}
	want := "harvester/import/ anonymous/mark_ready_to_send/checked the citation anonymous/send/ anonymous/receive_physically/ " +
		"anonymous/loan_to_patron/ anonymous/return_by_patron/ anonymous/return_to_partner/ anonymous/complete/ " +
		"anonymous/add_note/invoice paid anonymous/reactivate/completed by mistake"
	if got := strings.Join(trail, " "); got != want {
		t.Errorf("trail\n got %s\nwant %s", got, want)
	}
	if evs[2].Partner != "partners/XYZ" {
		t.Errorf("send event: %v", evs[2])
	}
	checkIndexes(t, s)
}

func isNotAllowed(err error) bool {
	var nae *lifecycle.NotAllowedError
	return errors.As(err, &nae)
}

// TestActRefusals: a missing request, a stale etag and an action the status does not
// allow each fail and write nothing; the refusal carries what the caller needs.
func TestActRefusals(t *testing.T) {
	s := newStore(t)
	apply(t, s, t0, item("1", t0, func(it *requestsv1.IngestItem) { it.ExternalStatus = stSent }))
	cur := get(t, s, 1)
	before := dump(t, s)

	if _, err := s.Act(2, "", Command{Action: lifecycle.AddNote, Note: "x"}, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	_, err := s.Act(1, "stale", Command{Action: lifecycle.Complete}, t0)
	if e, ok := apierr.As(err); !ok || e.Kind != apierr.KindAborted || e.Reason != "ETAG_MISMATCH" {
		t.Errorf("stale etag: %v", err)
	}
	_, err = s.Act(1, cur.Etag, Command{Action: lifecycle.LoanToPatron}, t0)
	var nae *lifecycle.NotAllowedError
	if !errors.As(err, &nae) || nae.Status != stSent || !strings.Contains(nae.AllowedList(), "ACTION_RECEIVE_PHYSICALLY") {
		t.Errorf("not allowed: %v", err)
	}
	if _, err := s.Act(1, "", Command{Action: lifecycle.ResolveAttention}, t0); !isNotAllowed(err) {
		t.Errorf("resolve without a flag: %v", err)
	}
	if after := dump(t, s); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Error("a refused action wrote something")
	}
	// The right etag works.
	if r := do(t, s, 1, Command{Action: lifecycle.Reject}, t0.Add(time.Second)); r.Status != requestsv1.Status_STATUS_REJECTED_BY_PARTNER {
		t.Errorf("reject: %v", r.Status)
	}
}

// TestActEtagRace runs two actions with the same etag at once, many times: exactly one
// wins, the other is ABORTED, and the history has exactly one of them.
func TestActEtagRace(t *testing.T) {
	s := newStore(t)
	clk := &clock{t: t0}
	for round := range 50 {
		ext := fmt.Sprint(round + 1)
		res := apply(t, s, clk.now(), item(ext, t0, func(it *requestsv1.IngestItem) { it.ExternalStatus = stSent }))
		id, _ := idOfName(res[0].BorrowingRequest)
		etag := get(t, s, id).Etag
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, a := range []requestsv1.Action{lifecycle.CancelByStaff, lifecycle.ReceivePhysically} {
			wg.Go(func() { _, errs[i] = s.Act(id, etag, Command{Action: a, Actor: "anonymous"}, clk.now()) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else if e, ok := apierr.As(err); !ok || e.Kind != apierr.KindAborted {
				t.Fatalf("round %d: loser got %v, want ABORTED", round, err)
			}
		}
		evs, _, err := s.Events(id, nil, 10)
		noErr(t, err)
		if won != 1 || len(evs) != 2 {
			t.Fatalf("round %d: %d won, %d events", round, won, len(evs))
		}
	}
	checkIndexes(t, s)
}

// TestAnonymize removes the patron's identity and message and every note of the trail,
// keeps the request and its history, and keeps them removed when Libris sends the
// request again; a note added later makes the request eligible again.
func TestAnonymize(t *testing.T) {
	s := newStore(t)
	clk := &clock{t: t0}
	apply(t, s, clk.now(), item("1", t0.Add(-time.Hour), func(it *requestsv1.IngestItem) { it.ExternalStatus = stSent }))
	do(t, s, 1, Command{Action: lifecycle.AddNote, Note: "Ada Lovelace called"}, clk.now())
	if _, err := s.Act(1, "", Command{Action: lifecycle.Anonymize}, clk.now()); !isNotAllowed(err) {
		t.Fatalf("anonymize an open request: %v", err)
	}
	do(t, s, 1, Command{Action: lifecycle.CancelByPatron, Note: "patron Ada no longer needs it"}, clk.now())
	if !identifiable(get(t, s, 1)) {
		t.Fatal("a cancelled request with a patron is not a candidate")
	}
	at := clk.now()
	r := do(t, s, 1, Command{Action: lifecycle.Anonymize, Note: "retention rule"}, at)
	if r.Requester.GetPatronId() != "" || r.Requester.GetName() != "" || !r.Requester.GetApproved() || r.Note != "" ||
		!r.AnonymizeTime.AsTime().Equal(at) || r.Status != requestsv1.Status_STATUS_CANCELLED_BY_PATRON || identifiable(r) {
		t.Fatalf("anonymized: %v", r)
	}
	if r.Bibliographic.GetTitle() == "" || r.ExternalReference.GetExternalId() != "1" {
		t.Errorf("anonymizing lost the request: %v", r)
	}
	evs, _, err := s.Events(1, nil, 100)
	noErr(t, err)
	var actions []string
	for _, ev := range evs {
		actions = append(actions, ev.Action)
		if ev.Note != "" && ev.Action != "anonymize" {
			t.Errorf("event %s kept its note %q", ev.Name, ev.Note)
		}
	}
	if strings.Join(actions, " ") != "import add_note cancel_by_patron anonymize" || evs[3].Note != "retention rule" {
		t.Errorf("history: %v", evs)
	}
	// Nothing of the patron is left anywhere in the file, the change log included.
	for k, v := range dump(t, s) {
		if strings.Contains(v, "Ada") || strings.Contains(v, "Tack!") {
			t.Errorf("%q still holds patron data", k)
		}
	}
	// Libris still has the patron; a newer version must not bring them back.
	apply(t, s, clk.now(), item("1", t0, func(it *requestsv1.IngestItem) { it.ExternalStatus = stSent }))
	r = get(t, s, 1)
	if r.Requester.GetName() != "" || r.Requester.GetPatronId() != "" || r.Note != "" || r.AnonymizeTime == nil {
		t.Errorf("re-harvest restored personal data: %v", r)
	}
	if identifiable(r) {
		t.Error("a re-harvest that brought no personal data made the request a candidate")
	}
	// A note may hold anything: the request is a candidate again until anonymized anew.
	do(t, s, 1, Command{Action: lifecycle.AddNote, Note: "Ada called again"}, clk.now())
	if !identifiable(get(t, s, 1)) {
		t.Error("a note added after anonymization must make the request a candidate again")
	}
	do(t, s, 1, Command{Action: lifecycle.Anonymize}, clk.now())
	evs, _, err = s.Events(1, nil, 100)
	noErr(t, err)
	for _, ev := range evs {
		if strings.Contains(ev.Note, "Ada") {
			t.Errorf("event %s kept %q", ev.Name, ev.Note)
		}
	}
	checkIndexes(t, s)
}

// TestAnonymizeOld anonymizes closed requests older than the cutoff, oldest first, in
// calls of at most `limit`, for one owner or all; a dry run writes nothing.
func TestAnonymizeOld(t *testing.T) {
	s := newStore(t)
	day := 24 * time.Hour
	// Requests 1-6 closed 10, 9, ... 5 days before t0 (odd ones GUB, even ones KB); 7 open
	// and old; 8 closed yesterday.
	for i := range 8 {
		status := stCompleted
		if i == 6 {
			status = stSent
		}
		owner := "GUB"
		if i%2 == 1 {
			owner = "KB"
		}
		at := t0.Add(-time.Duration(10-i) * day)
		if i == 7 {
			at = t0.Add(-day)
		}
		apply(t, s, at, item(fmt.Sprint(i+1), at.Add(-time.Hour), func(it *requestsv1.IngestItem) { it.ExternalStatus, it.Owner = status, owner }))
	}
	cutoff := t0.Add(-3 * day)
	before := dump(t, s)
	names, more, err := s.AnonymizeOld(cutoff, "", 100, "anonymous", t0, true)
	noErr(t, err)
	if strings.Join(names, " ") != "borrowingRequests/1 borrowingRequests/2 borrowingRequests/3 borrowingRequests/4 borrowingRequests/5 borrowingRequests/6" || more {
		t.Fatalf("dry run: %v %v", names, more)
	}
	if fmt.Sprint(dump(t, s)) != fmt.Sprint(before) {
		t.Fatal("a dry run wrote something")
	}
	names, more, err = s.AnonymizeOld(cutoff, "KB", 2, "anonymous", t0, false)
	noErr(t, err)
	if strings.Join(names, " ") != "borrowingRequests/2 borrowingRequests/4" || !more {
		t.Fatalf("KB, 2 at a time: %v %v", names, more)
	}
	names, more, err = s.AnonymizeOld(cutoff, "", 100, "anonymous", t0, false)
	noErr(t, err)
	if strings.Join(names, " ") != "borrowingRequests/1 borrowingRequests/3 borrowingRequests/5 borrowingRequests/6" || more {
		t.Fatalf("the rest: %v %v", names, more)
	}
	// Anonymized requests are no candidates any more, however old they get.
	names, _, err = s.AnonymizeOld(t0.Add(365*day), "", 100, "anonymous", t0.Add(time.Hour), false)
	noErr(t, err)
	if strings.Join(names, " ") != "borrowingRequests/8" {
		t.Errorf("a year later: %v", names)
	}
	for id := uint64(1); id <= 8; id++ {
		if r := get(t, s, id); (r.AnonymizeTime != nil) != (id != 7) {
			t.Errorf("request %d anonymized at %v", id, r.AnonymizeTime)
		}
	}
	// An owner without candidates: nothing, and nothing more.
	apply(t, s, t0, item("9", t0.Add(-time.Hour), func(it *requestsv1.IngestItem) { it.ExternalStatus = stCompleted }))
	names, more, err = s.AnonymizeOld(t0.Add(time.Hour), "NONE", 10, "anonymous", t0.Add(2*time.Hour), false)
	noErr(t, err)
	if len(names) != 0 || more {
		t.Errorf("nothing of NONE: %v %v", names, more)
	}
	checkIndexes(t, s)
}

// TestAnonymizeOldOwnerMakesProgress: one library's bulk anonymization is not held up by
// other libraries' older candidates. Scaled down (calls of 3 behind 50 older candidates
// of another owner; in production 1000 behind any number): every call anonymizes a full
// batch of the owner's own until none are left, then answers more=false.
func TestAnonymizeOldOwnerMakesProgress(t *testing.T) {
	s := newStore(t)
	day := 24 * time.Hour
	var batch []*requestsv1.IngestItem
	for i := range 50 { // KB's, all older than any of GUB's
		batch = append(batch, item(fmt.Sprint("kb", i), t0.Add(-31*day), func(it *requestsv1.IngestItem) {
			it.ExternalStatus, it.Owner = stCompleted, "KB"
		}))
	}
	if res := apply(t, s, t0.Add(-30*day), batch...); res[49].Outcome != created {
		t.Fatalf("KB's: %v", res[49])
	}
	batch = nil
	for i := range 7 {
		batch = append(batch, item(fmt.Sprint("gub", i), t0.Add(-21*day), func(it *requestsv1.IngestItem) {
			it.ExternalStatus, it.Owner = stCompleted, "GUB"
		}))
	}
	apply(t, s, t0.Add(-20*day), batch...)

	cutoff := t0.Add(-10 * day)
	var got []string
	for i, want := range []struct {
		n    int
		more bool
	}{{3, true}, {3, true}, {1, false}} {
		names, more, err := s.AnonymizeOld(cutoff, "GUB", 3, "anonymous", t0, false)
		noErr(t, err)
		if len(names) != want.n || more != want.more {
			t.Fatalf("call %d: %v more=%v, want %d more=%v", i+1, names, more, want.n, want.more)
		}
		got = append(got, names...)
	}
	for _, name := range got {
		id, _ := idOfName(name)
		if r := get(t, s, id); r.Owner != "GUB" || r.AnonymizeTime == nil {
			t.Errorf("%s: owner %s, anonymized %v", name, r.Owner, r.AnonymizeTime)
		}
	}
	if len(got) != 7 {
		t.Errorf("anonymized %d of GUB's 7", len(got))
	}
	// KB's were left alone, and all owners' candidates are still found oldest first.
	names, more, err := s.AnonymizeOld(cutoff, "", 60, "anonymous", t0, true)
	noErr(t, err)
	if len(names) != 50 || more {
		t.Errorf("all owners: %d more=%v", len(names), more)
	}
	for _, name := range names {
		if r := get(t, s, mustID(t, name)); r.Owner != "KB" || r.AnonymizeTime != nil {
			t.Errorf("%s: %s anonymized %v", name, r.Owner, r.AnonymizeTime)
		}
	}
	checkIndexes(t, s)
}

// TestActBatch acts on named requests in one transaction: each succeeds or fails alone,
// a dry run reports without writing, and a storage failure writes nothing at all.
func TestActBatch(t *testing.T) {
	s := newStore(t)
	apply(t, s, t0, item("1", t0, func(it *requestsv1.IngestItem) { it.ExternalStatus = stSent }),
		item("2", t0, func(it *requestsv1.IngestItem) { it.ExternalStatus = stCompleted }),
		item("3", t0, func(it *requestsv1.IngestItem) { it.ExternalStatus = stSent }))
	etag3 := get(t, s, 3).Etag
	targets := []Target{{ID: 1}, {ID: 2}, {ID: 9}, {ID: 3, Etag: "stale"}}
	cmd := Command{Action: lifecycle.CancelByStaff, Note: "budget cut", Actor: "anonymous"}

	before := dump(t, s)
	res, err := s.ActBatch(targets, cmd, t0.Add(time.Minute), true)
	noErr(t, err)
	if fmt.Sprint(dump(t, s)) != fmt.Sprint(before) {
		t.Fatal("a dry run wrote something")
	}
	check := func(res []ActResult, dry bool) {
		t.Helper()
		if len(res) != 4 {
			t.Fatalf("%d results", len(res))
		}
		if res[0].Err != nil || res[0].Request.Status != requestsv1.Status_STATUS_CANCELLED_BY_STAFF || (res[0].Request.Etag == "") != dry {
			t.Errorf("1: %v %v", res[0].Request, res[0].Err)
		}
		if !isNotAllowed(res[1].Err) || res[1].Request.GetStatus() != stCompleted {
			t.Errorf("2: %v", res[1].Err)
		}
		if !errors.Is(res[2].Err, ErrNotFound) || res[2].Request != nil || res[2].ID != 9 {
			t.Errorf("9: %v", res[2])
		}
		if e, ok := apierr.As(res[3].Err); !ok || e.Reason != "ETAG_MISMATCH" {
			t.Errorf("3: %v", res[3].Err)
		}
	}
	check(res, true)
	res, err = s.ActBatch(targets, cmd, t0.Add(time.Minute), false)
	noErr(t, err)
	check(res, false)
	if get(t, s, 1).Status != requestsv1.Status_STATUS_CANCELLED_BY_STAFF || get(t, s, 3).Etag != etag3 {
		t.Error("batch results not stored as reported")
	}

	// A storage failure inside the batch (the file closed under it) fails it whole.
	boom := errors.New("disk on fire")
	before = dump(t, s)
	err = s.update(false, maxRecentTimesAny, func(tx *bolt.Tx) error {
		if _, err := s.actOne(tx, 3, "", cmd, t0.Add(2*time.Minute), false); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || fmt.Sprint(dump(t, s)) != fmt.Sprint(before) {
		t.Errorf("failed batch: %v, file changed: %v", err, fmt.Sprint(dump(t, s)) != fmt.Sprint(before))
	}
	checkIndexes(t, s)
}

// TestActFilter acts on the requests a filter matches, page by page: acted-on requests
// move ahead of the cursor and are not visited again, even for an action that keeps
// them matching (a note).
func TestActFilter(t *testing.T) {
	s := newStore(t)
	for i := range 7 {
		status := stSent
		if i == 3 {
			status = stCompleted
		}
		apply(t, s, t0.Add(time.Duration(i)*time.Second), item(fmt.Sprint(i+1), t0, func(it *requestsv1.IngestItem) { it.ExternalStatus = status }))
	}
	clk := &clock{t: t0.Add(time.Hour)}
	f := Filter{Owner: "GUB"}
	var after []byte
	var got []string
	for calls := 0; ; calls++ {
		res, next, err := s.ActFilter(f, after, 2, 0, Command{Action: lifecycle.AddNote, Note: "audit 2026", Actor: "anonymous"}, clk.now(), false)
		noErr(t, err)
		for _, r := range res {
			if r.Err != nil {
				t.Errorf("%d: %v", r.ID, r.Err)
			}
			got = append(got, fmt.Sprint(r.ID))
		}
		if after = next; next == nil || calls > 10 {
			break
		}
	}
	if strings.Join(got, " ") != "7 6 5 4 3 2 1" {
		t.Errorf("noted %v", got)
	}
	// Cancel the open ones; the completed one fails alone.
	res, next, err := s.ActFilter(Filter{Owner: "GUB"}, nil, 100, 0, Command{Action: lifecycle.CancelByStaff, Actor: "anonymous"}, clk.now(), false)
	noErr(t, err)
	failed := 0
	for _, r := range res {
		if r.Err != nil {
			failed++
			if r.ID != 4 || !isNotAllowed(r.Err) {
				t.Errorf("%d: %v", r.ID, r.Err)
			}
		}
	}
	if len(res) != 7 || failed != 1 || next != nil {
		t.Errorf("cancel: %d results, %d failed, next %x", len(res), failed, next)
	}
	c, err := s.Count("")
	noErr(t, err)
	if c.ByStatus[requestsv1.Status_STATUS_CANCELLED_BY_STAFF] != 6 || c.Open != 0 {
		t.Errorf("counts %+v", c)
	}
	checkIndexes(t, s)
}

// TestCount compares the counters with counts computed from the records after a mix of
// imports, updates, actions and conflicts.
func TestCount(t *testing.T) {
	s := newStore(t)
	clk := &clock{t: t0}
	for i := range 30 {
		owner := []string{"GUB", "KB", "UUB"}[i%3]
		status := lifecycle.Statuses()[i%17]
		apply(t, s, clk.now(), item(fmt.Sprint(i), t0, func(it *requestsv1.IngestItem) { it.ExternalStatus, it.Owner = status, owner }))
	}
	for i := range 30 { // Libris cancels everything: conflicts, closings, kept statuses
		apply(t, s, clk.now(), item(fmt.Sprint(i), t0.Add(time.Second), func(it *requestsv1.IngestItem) {
			it.ExternalStatus, it.Owner = requestsv1.Status_STATUS_CANCELLED_BY_PARTNER, []string{"GUB", "KB", "UUB"}[i%3]
			if i%5 == 0 {
				it.Owner = "KB" // and moves some to another owner
			}
		}))
	}
	_, err := s.ActBatch([]Target{{ID: 3}, {ID: 4}}, Command{Action: lifecycle.Reactivate, Actor: "anonymous"}, clk.now(), false)
	noErr(t, err)
	all, _, err := s.List(Filter{}, nil, 1000, 0)
	noErr(t, err)
	for _, owner := range []string{"", "GUB", "KB", "UUB", "NONE"} {
		want := Counts{ByStatus: map[requestsv1.Status]uint64{}}
		for _, st := range lifecycle.Statuses() {
			want.ByStatus[st] = 0
		}
		for _, r := range all {
			if owner != "" && r.Owner != owner {
				continue
			}
			want.Total++
			want.ByStatus[r.Status]++
			if !lifecycle.Final(r.Status) {
				want.Open++
			}
			if r.NeedsAttention {
				want.NeedsAttention++
			}
		}
		got, err := s.Count(owner)
		noErr(t, err)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("owner %q: counts\n got %+v\nwant %+v", owner, got, want)
		}
		if owner == "" && (want.NeedsAttention == 0 || want.Open == 0) {
			t.Errorf("the mix has no conflicts or no open requests: %+v", want)
		}
	}
	checkIndexes(t, s)
}

// TestStripEventNotesOnlyTouchesItsRequest: anonymizing one request leaves the notes of
// its neighbours (whose event keys share no prefix but sort next to it) alone.
func TestStripEventNotesOnlyTouchesItsRequest(t *testing.T) {
	s := newStore(t)
	clk := &clock{t: t0}
	for i := range 3 {
		apply(t, s, clk.now(), item(fmt.Sprint(i), t0, func(it *requestsv1.IngestItem) { it.ExternalStatus = stCompleted }))
	}
	for id := uint64(1); id <= 3; id++ {
		do(t, s, id, Command{Action: lifecycle.AddNote, Note: fmt.Sprint("note ", id)}, clk.now())
	}
	do(t, s, 2, Command{Action: lifecycle.Anonymize}, clk.now())
	for id, want := range map[uint64]string{1: "note 1", 2: "", 3: "note 3"} {
		evs, _, err := s.Events(id, nil, 10)
		noErr(t, err)
		if evs[1].Note != want {
			t.Errorf("request %d: note %q, want %q", id, evs[1].Note, want)
		}
	}
	if r := get(t, s, 1); !proto.Equal(r.Requester, &requestsv1.Requester{PatronId: "P1", Name: "Ada", Approved: true}) {
		t.Errorf("neighbour lost its requester: %v", r.Requester)
	}
}

// TestLostAndCopies: a received loan cannot be completed without going back (a received
// copy can); an item lost by the patron is declared lost with a required note, which
// closes the request and is audited, and reactivating it (the item turned up) returns to
// where it was lost.
func TestLostAndCopies(t *testing.T) {
	s := newStore(t)
	clk := &clock{t: t0}
	apply(t, s, clk.now(), item("loan", t0.Add(-time.Hour), func(it *requestsv1.IngestItem) { it.ExternalStatus = stSent }),
		item("copy", t0.Add(-time.Hour), func(it *requestsv1.IngestItem) {
			it.ExternalStatus, it.Media = stSent, requestsv1.Media_MEDIA_COPY
		}))
	for id := uint64(1); id <= 2; id++ {
		do(t, s, id, Command{Action: lifecycle.ReceivePhysically}, clk.now())
	}
	var nae *lifecycle.NotAllowedError
	if _, err := s.Act(1, "", Command{Action: lifecycle.Complete}, clk.now()); !errors.As(err, &nae) || nae.Why == "" {
		t.Fatalf("complete a received loan: %v", err)
	}
	if r := do(t, s, 2, Command{Action: lifecycle.Complete}, clk.now()); r.Status != stCompleted {
		t.Fatalf("complete a received copy: %s", r.Status)
	}

	do(t, s, 1, Command{Action: lifecycle.LoanToPatron}, clk.now())
	before := dump(t, s)
	for _, note := range []string{"", " \n"} {
		_, err := s.Act(1, "", Command{Action: lifecycle.DeclareLost, Note: note}, clk.now())
		if e, ok := apierr.As(err); !ok || e.Kind != apierr.KindInvalidArgument || e.Violations[0].Field != "note" {
			t.Errorf("declare lost with note %q: %v", note, err)
		}
	}
	if fmt.Sprint(dump(t, s)) != fmt.Sprint(before) {
		t.Error("a refused declaration wrote something")
	}
	r := do(t, s, 1, Command{Action: lifecycle.DeclareLost, Note: "never returned; fee invoiced"}, clk.now())
	if r.Status != stCompleted || r.ClosedFromStatus != requestsv1.Status_STATUS_LOANED_TO_PATRON {
		t.Fatalf("declared lost: %s from %s", r.Status, r.ClosedFromStatus)
	}
	evs, _, err := s.Events(1, nil, 100)
	noErr(t, err)
	if ev := evs[len(evs)-1]; ev.Action != "declare_lost" || ev.Note != "never returned; fee invoiced" ||
		ev.FromStatus != requestsv1.Status_STATUS_LOANED_TO_PATRON || ev.ToStatus != stCompleted {
		t.Errorf("event %v", ev)
	}
	if r := do(t, s, 1, Command{Action: lifecycle.Reactivate, Note: "found it"}, clk.now()); r.Status != requestsv1.Status_STATUS_LOANED_TO_PATRON {
		t.Errorf("reactivated: %s", r.Status)
	}
	checkIndexes(t, s)
}
