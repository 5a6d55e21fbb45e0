package store

import (
	"bytes"
	"context"
	"testing"
	"time"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
)

// TestValidateBatch: a validate-only batch answers per item what ApplyBatch then does —
// created (without a name), updated, unchanged, rejected — and writes nothing: a backup
// of the file is byte for byte the same before and after it.
func TestValidateBatch(t *testing.T) {
	s := newStore(t)
	now := time.Now()
	apply(t, s, now, item("A", now.Add(-time.Hour)), item("B", now.Add(-time.Hour)))
	batch := []*requestsv1.IngestItem{
		item("A", now.Add(-time.Hour)),     // unchanged
		item("B", now),                     // updated
		item("C", now),                     // created
		item("D", now.Add(72*time.Hour)),   // rejected: ahead of the clock
		item("C", now.Add(-2*time.Minute)), // rejected: a repeat in the batch
	}
	var before, after bytes.Buffer
	_, err := s.Backup(&before)
	noErr(t, err)
	got, err := s.ValidateBatch(context.Background(), batch, now)
	noErr(t, err)
	_, err = s.Backup(&after)
	noErr(t, err)
	if !bytes.Equal(before.Bytes(), after.Bytes()) {
		t.Fatal("a validate-only batch changed the file")
	}
	want := apply(t, s, now, batch...)
	for i := range want {
		g, w := got[i], want[i]
		if g.GetOutcome() != w.GetOutcome() || g.GetReason() != w.GetReason() {
			t.Errorf("item %d: validated %s %q, applied %s %q", i, g.GetOutcome(), g.GetReason(), w.GetOutcome(), w.GetReason())
		}
		if w.GetOutcome() == outcomeCreated {
			if g.GetBorrowingRequest() != "" {
				t.Errorf("item %d: a request to be created is named %q", i, g.GetBorrowingRequest())
			}
		} else if g.GetBorrowingRequest() != w.GetBorrowingRequest() {
			t.Errorf("item %d: validated %q, applied %q", i, g.GetBorrowingRequest(), w.GetBorrowingRequest())
		}
	}
}
