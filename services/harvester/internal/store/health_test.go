package store

import (
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
)

// TestLastRunsByProfile: each profile's newest ended run and newest completed one, read
// past a run still active and past failures, and the same after reopening the file; a
// profile whose runs never ended has neither.
func TestLastRunsByProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s := open(t, path)
	t0 := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	add := func(profile string, state harvesterv1.RunState, end time.Time) {
		t.Helper()
		r, _, err := s.CreateRun(profile, "", func(id uint64) *harvesterv1.Run {
			r := newRun(id)
			r.State = state
			if !end.IsZero() {
				r.EndTime = timestamppb.New(end)
			}
			return r
		})
		if err != nil {
			t.Fatal(err, r)
		}
	}
	add("a", harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS, t0)
	add("b", harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_ERRORS, t0.Add(time.Minute))
	add("a", harvesterv1.RunState_RUN_STATE_COMPLETED_NO_RECORDS, t0.Add(time.Hour))
	add("a", harvesterv1.RunState_RUN_STATE_FAILED, t0.Add(2*time.Hour))
	add("a", harvesterv1.RunState_RUN_STATE_ABORTED, t0.Add(3*time.Hour))
	add("a", harvesterv1.RunState_RUN_STATE_RUNNING, time.Time{})
	add("b", harvesterv1.RunState_RUN_STATE_FAILED, t0.Add(4*time.Hour))
	add("c", harvesterv1.RunState_RUN_STATE_PENDING, time.Time{})

	check := func() {
		t.Helper()
		got, err := s.LastRunsByProfile()
		if err != nil {
			t.Fatal(err)
		}
		for code, want := range map[string]struct {
			ended     harvesterv1.RunState
			endedAt   time.Time
			completed time.Time
		}{
			"a": {harvesterv1.RunState_RUN_STATE_ABORTED, t0.Add(3 * time.Hour), t0.Add(time.Hour)},
			"b": {harvesterv1.RunState_RUN_STATE_FAILED, t0.Add(4 * time.Hour), t0.Add(time.Minute)},
			"c": {},
		} {
			l := got[code]
			if l.Ended.GetState() != want.ended || (l.Ended != nil && !l.Ended.GetEndTime().AsTime().Equal(want.endedAt)) || !l.Completed.Equal(want.completed) {
				t.Errorf("%s: ended %v at %v, completed %v; want %v at %v, %v", code, l.Ended.GetState(), l.Ended.GetEndTime().AsTime(), l.Completed, want.ended, want.endedAt, want.completed)
			}
		}
		if len(got) != 3 {
			t.Errorf("profiles %d, want 3", len(got))
		}
	}
	check()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	defer s.Close()
	check()
}

// TestBacklogs: the retry set and the parked list counted per profile, as RecordBatch
// fills and moves them.
func TestBacklogs(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "h.db"))
	defer s.Close()
	for _, p := range []string{"a", "ab"} {
		if _, _, err := s.CreateRun(p, "", newRun); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	record := func(id uint64, profile string, retry ...RetryEntry) {
		t.Helper()
		if _, err := s.RecordBatch(Batch{RunID: id, Profile: profile, Now: now, Retry: retry, ParkAfter: 2}); err != nil {
			t.Fatal(err)
		}
	}
	record(1, "a", RetryEntry{ExternalID: "1", Parkable: true}, RetryEntry{ExternalID: "2", Parkable: true}, RetryEntry{ExternalID: "3"})
	record(2, "ab", RetryEntry{ExternalID: "1"})
	record(1, "a", RetryEntry{ExternalID: "1", Parkable: true}) // second failure: parked
	got, err := s.Backlogs()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Backlog{"a": {Retry: 2, Parked: 1}, "ab": {Retry: 1}}
	if len(got) != len(want) || got["a"] != want["a"] || got["ab"] != want["ab"] {
		t.Errorf("got %v, want %v", got, want)
	}
}
