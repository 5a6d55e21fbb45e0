package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
)

// failOnce records one run's failure of ids (parkable) with ParkAfter 3.
func failOnce(t *testing.T, s *Store, profile string, now time.Time, ids ...string) map[string]*harvesterv1.RunEvent {
	t.Helper()
	r, _, err := s.CreateRun(profile, "", newRun)
	if err != nil {
		t.Fatal(err)
	}
	id := uint64(0)
	fmt.Sscanf(r.GetName(), "runs/%d", &id)
	b := Batch{RunID: id, Now: now, Profile: profile, ParkAfter: 3}
	out := map[string]*harvesterv1.RunEvent{}
	for _, x := range ids {
		e := &harvesterv1.RunEvent{ExternalId: x, ReasonCode: "PARTNER_UNKNOWN", Reason: "lender " + x + " unknown"}
		b.Events = append(b.Events, e)
		b.Retry = append(b.Retry, RetryEntry{ExternalID: x, Reason: e.ReasonCode, Message: e.Reason, Parkable: x != "W"})
		out[x] = e
	}
	if _, err := s.RecordBatch(b); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParkAfterAttemptsListAndRetry(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "h.db"))
	defer s.Close()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	// A and W fail three runs in a row; W's reason does not park. B starts a run later.
	failOnce(t, s, "p", t0, "A", "W")
	failOnce(t, s, "p", t0.Add(time.Hour), "A", "W", "B")
	ev := failOnce(t, s, "p", t0.Add(2*time.Hour), "A", "W", "B")
	if a, w := ev["A"], ev["W"]; !a.GetParked() || a.GetAttempt() != 3 || w.GetParked() || w.GetAttempt() != 3 || ev["B"].GetParked() {
		t.Fatalf("third run's events: %v", ev)
	}
	ev = failOnce(t, s, "p", t0.Add(3*time.Hour), "A", "B")
	if a, b := ev["A"], ev["B"]; a.GetParked() || a.GetAttempt() != 4 || !b.GetParked() || b.GetAttempt() != 3 {
		t.Fatalf("fourth run's events: %v", ev)
	}
	retry, err := s.Retry("p")
	if err != nil || len(retry) != 1 || retry[0].ExternalID != "W" || !retry[0].FirstTried.Equal(t0) {
		t.Fatalf("retry set %+v %v", retry, err)
	}
	// Longest parked first; A kept its park time and first run, its attempts went on.
	items, next, err := s.ListParked("p", nil, 1)
	if err != nil || len(items) != 1 || next == nil {
		t.Fatalf("first page %v %v %v", items, next, err)
	}
	a := items[0]
	if a.GetExternalId() != "A" || a.GetAttempts() != 4 || a.GetRun() != "runs/3" || !a.GetParkTime().AsTime().Equal(t0.Add(2*time.Hour)) ||
		!a.GetFirstFailureTime().AsTime().Equal(t0) || a.GetName() != "integrationProfiles/p/parkedItems/A" || a.GetReason() != "lender A unknown" {
		t.Fatalf("A parked as %v", a)
	}
	items, next, err = s.ListParked("p", next, 1)
	if err != nil || len(items) != 1 || items[0].GetExternalId() != "B" || next != nil {
		t.Fatalf("second page %v %v %v", items, next, err)
	}
	if other, _, _ := s.ListParked("q", nil, 10); len(other) != 0 {
		t.Fatalf("another profile lists %v", other)
	}

	// Retried: back in the retry set with no attempts, first in line; not parked twice.
	got, err := s.RetryParked("p", "A")
	if err != nil || got.GetExternalId() != "A" {
		t.Fatalf("RetryParked = %v, %v", got, err)
	}
	if _, err := s.RetryParked("p", "A"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second RetryParked = %v, want ErrNotFound", err)
	}
	retry, _ = s.Retry("p")
	if len(retry) != 2 || retry[0].ExternalID != "A" || retry[0].Attempts != 0 || !retry[0].FirstTried.Equal(t0) {
		t.Fatalf("retry set after RetryParked %+v", retry)
	}
	if n, _ := s.ParkedCount("p"); n != 1 {
		t.Fatalf("parked count %d, want 1", n)
	}

	// Imported: B leaves the parked list; gone: W leaves the retry set for the gone set.
	r, _, _ := s.CreateRun("p", "", newRun)
	var id uint64
	fmt.Sscanf(r.GetName(), "runs/%d", &id)
	_, err = s.RecordBatch(Batch{RunID: id, Profile: "p", Now: t0.Add(5 * time.Hour),
		Events: []*harvesterv1.RunEvent{{ExternalId: "B"}, {ExternalId: "W"}},
		Done:   []string{"B"}, Gone: []Gone{{ExternalID: "W", BorrowingRequest: "borrowingRequests/9"}}})
	if err != nil {
		t.Fatal(err)
	}
	if items, _, _ := s.ListParked("p", nil, 10); len(items) != 0 {
		t.Fatalf("parked after import %v", items)
	}
	gone, _ := s.GoneIDs("p")
	retry, _ = s.Retry("p")
	if len(gone) != 1 || !gone["W"] || len(retry) != 1 || retry[0].ExternalID != "A" {
		t.Fatalf("gone %v retry %+v", gone, retry)
	}
}
