package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newRun(id uint64) *harvesterv1.Run {
	return &harvesterv1.Run{Name: RunName(id), State: harvesterv1.RunState_RUN_STATE_RUNNING, Counters: &harvesterv1.RunCounters{}, Progress: &harvesterv1.Progress{}}
}

func TestRequestIDReturnsTheSameRun(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "h.db"))
	defer s.Close()
	a, created, err := s.CreateRun("p", "req", newRun)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	b, created, err := s.CreateRun("p", "req", newRun)
	if err != nil || created || b.GetName() != a.GetName() {
		t.Fatalf("retry: %v %v %v", b.GetName(), created, err)
	}
	got, ok, err := s.RunByRequest("req")
	if err != nil || !ok || got.GetName() != a.GetName() {
		t.Fatalf("RunByRequest: %v %v %v", got, ok, err)
	}
	if _, ok, _ := s.RunByRequest("other"); ok {
		t.Fatal("unknown request id found")
	}
}

func TestBatchEventsCountersRetryAndCursorSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s := open(t, path)
	r, _, _ := s.CreateRun("p", "", newRun)
	_, _, _ = s.CreateRun("q", "", newRun) // another run's events must not interleave
	id := uint64(1)
	_, err := s.RecordBatch(Batch{RunID: id, Profile: "p",
		Events: []*harvesterv1.RunEvent{{ExternalId: "A"}, {ExternalId: "B"}},
		Retry:  []RetryEntry{{ExternalID: "B", Reason: "PARTNER_UNKNOWN"}, {ExternalID: "C", Reason: "LIBRARY_UNMAPPED"}},
		Update: func(r *harvesterv1.Run) { r.Counters.Fetched += 2 }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordBatch(Batch{RunID: 2, Profile: "q", Events: []*harvesterv1.RunEvent{{ExternalId: "Z"}}}); err != nil {
		t.Fatal(err)
	}
	_, err = s.RecordBatch(Batch{RunID: id, Profile: "p", Events: []*harvesterv1.RunEvent{{ExternalId: "C"}}, Done: []string{"C"},
		Update: func(r *harvesterv1.Run) { r.Counters.Fetched++ }})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	if _, err := s.FinishRun(id, "p", false, day, "fp", func(r *harvesterv1.Run) { r.State = harvesterv1.RunState_RUN_STATE_FAILED }); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Cursor("p", "fp"); ok {
		t.Fatal("a failed run moved the cursor")
	}
	if _, err := s.FinishRun(id, "p", true, day, "fp", func(r *harvesterv1.Run) {}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, path)
	defer s.Close()
	got, err := s.GetRun(id)
	if err != nil || got.GetCounters().GetFetched() != 3 || got.GetName() != r.GetName() {
		t.Fatalf("run after reopen: %v %v", got, err)
	}
	evs, next, err := s.ListRunEvents(id, EventFilter{}, nil, 10)
	if err != nil || next != nil || len(evs) != 3 || evs[2].GetName() != "runs/1/events/3" || evs[2].GetExternalId() != "C" {
		t.Fatalf("events: %v %v %v", evs, next, err)
	}
	retry, _ := s.Retry("p")
	if len(retry) != 1 || retry[0].ExternalID != "B" || retry[0].Reason != "PARTNER_UNKNOWN" || retry[0].Attempts != 1 {
		t.Fatalf("retry set = %v", retry)
	}
	if cur, ok, _ := s.Cursor("p", "fp"); !ok || !cur.Equal(day) {
		t.Fatalf("cursor = %v %v", cur, ok)
	}
	if _, ok, _ := s.Cursor("p", "another source"); ok {
		t.Fatal("a cursor of another source applied")
	}
	active, _ := s.Active()
	if len(active) != 1 || active[0].GetName() != "runs/2" {
		t.Fatalf("active = %v", active)
	}
	if _, err := s.GetRun(99); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing run: %v", err)
	}
}

func TestPruneEventsKeepsRunSummaries(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "h.db"))
	defer s.Close()
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, end := range []time.Time{old, old.AddDate(0, 6, 0), {}} {
		_, _, err := s.CreateRun("p", "", newRun)
		if err != nil {
			t.Fatal(err)
		}
		id := uint64(i + 1)
		if _, err := s.RecordBatch(Batch{RunID: id, Events: []*harvesterv1.RunEvent{{ExternalId: "A"}, {ExternalId: "B"}}}); err != nil {
			t.Fatal(err)
		}
		if !end.IsZero() {
			if _, err := s.FinishRun(id, "p", false, end, "", func(r *harvesterv1.Run) { r.EndTime = timestamppb.New(end) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := s.PruneEvents(old.AddDate(0, 3, 0))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want the 2 events of the run that ended before", n, err)
	}
	for id, want := range map[uint64]int{1: 0, 2: 2, 3: 2} {
		evs, _, _ := s.ListRunEvents(id, EventFilter{}, nil, 10)
		if len(evs) != want {
			t.Fatalf("run %d has %d events, want %d", id, len(evs), want)
		}
		if _, err := s.GetRun(id); err != nil {
			t.Fatalf("run %d summary gone: %v", id, err)
		}
	}
}

// TestCursorFingerprintFields: a cursor recorded under a fingerprint with an empty field
// (each system once had a base-URL field of its own) applies to the same source spelled
// without it, and to no other source.
func TestCursorFingerprintFields(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "h.db"))
	defer s.Close()
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if _, _, err := s.CreateRun("p", "", newRun); err != nil {
		t.Fatal(err)
	}
	id := uint64(1) // the first run of a new store
	old := "EXTERNAL_SYSTEM_NETPUNKT||https://dbc.example/|710100|2026-01-01"
	if _, err := s.FinishRun(id, "p", true, day, old, func(*harvesterv1.Run) {}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fp   string
		want bool
	}{
		{old, true},
		{"EXTERNAL_SYSTEM_NETPUNKT|https://dbc.example/|710100|2026-01-01", true},
		{"EXTERNAL_SYSTEM_NETPUNKT|https://other.example/|710100|2026-01-01", false},
		{"EXTERNAL_SYSTEM_NETPUNKT|https://dbc.example/|710100|2026-01-02", false},
	} {
		if cur, ok, err := s.Cursor("p", tc.fp); err != nil || ok != tc.want || ok && !cur.Equal(day) {
			t.Errorf("Cursor(%q) = %v %v %v, want found=%v", tc.fp, cur, ok, err, tc.want)
		}
	}
}
