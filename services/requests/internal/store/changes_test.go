package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
)

func everything(ChangeInfo) bool { return true }

// TestChangeLog: every change (import, external update, action, note) takes the next
// position, in commit order, and the log reads back exactly those, filtered and in
// bounded steps; an unchanged item makes no change.
func TestChangeLog(t *testing.T) {
	s := newStore(t)
	clk := &clock{t: t0}
	if pos, err := s.Position(); err != nil || pos != 0 {
		t.Fatalf("empty ledger: position %d, %v", pos, err)
	}
	wake := s.Changed()
	apply(t, s, clk.now(), item("1", t0), item("2", t0, func(it *requestsv1.IngestItem) { it.Owner = "KB" })) // 1, 2
	select {
	case <-wake:
	default:
		t.Fatal("a commit did not wake watchers")
	}
	wake = s.Changed()
	apply(t, s, clk.now(), item("1", t0)) // unchanged: no change
	if _, err := s.Act(1, "stale", Command{Action: lifecycle.Send}, clk.now()); err == nil {
		t.Fatal("stale etag accepted")
	}
	select {
	case <-wake:
		t.Fatal("a write without a change woke watchers")
	default:
	}
	apply(t, s, clk.now(), item("1", t0.Add(time.Second), func(it *requestsv1.IngestItem) { it.ExternalStatus = stSent })) // 3
	do(t, s, 2, Command{Action: lifecycle.AddNote, Note: "n"}, clk.now())                                                  // 4
	do(t, s, 1, Command{Action: lifecycle.ReceivePhysically}, clk.now())                                                   // 5
	if pos, _ := s.Position(); pos != 5 {
		t.Fatalf("position %d, want 5", pos)
	}

	changes, last, err := s.ReadChanges(0, 100, everything)
	noErr(t, err)
	var got []string
	for i, c := range changes {
		if c.Position != uint64(i+1) || c.Event.Name != EventName(mustID(t, c.Request.Name), c.Position) {
			t.Errorf("change %d: position %d, event %s", i, c.Position, c.Event.Name)
		}
		got = append(got, fmt.Sprintf("%s:%s", strings.TrimPrefix(c.Request.Name, "borrowingRequests/"), c.Event.Action))
	}
	if strings.Join(got, " ") != "1:import 2:import 1:external_update 2:add_note 1:receive_physically" || last != 5 {
		t.Errorf("log %v, last %d", got, last)
	}
	// The request is as it is now, the event as it was then.
	if changes[0].Request.Status != requestsv1.Status_STATUS_RECEIVED_PHYSICALLY || changes[0].Event.ToStatus != stCreated {
		t.Errorf("first change: request %s, event to %s", changes[0].Request.Status, changes[0].Event.ToStatus)
	}
	// Bounded steps: scan 2 from position 1 examines 2 and 3.
	changes, last, err = s.ReadChanges(1, 2, everything)
	noErr(t, err)
	if len(changes) != 2 || changes[0].Position != 2 || last != 3 {
		t.Errorf("scan 2 after 1: %d changes, last %d", len(changes), last)
	}
	// A filter skips but still advances the position.
	changes, last, err = s.ReadChanges(0, 100, func(c ChangeInfo) bool { return c.OwnerAfter == "KB" })
	noErr(t, err)
	if len(changes) != 2 || changes[0].Position != 2 || changes[1].Position != 4 || last != 5 {
		t.Errorf("KB: %v, last %d", changes, last)
	}
	// Caught up: nothing, position unchanged.
	changes, last, err = s.ReadChanges(5, 100, everything)
	noErr(t, err)
	if len(changes) != 0 || last != 5 {
		t.Errorf("caught up: %v, last %d", changes, last)
	}
	var ahead *PositionAheadError
	if _, _, err := s.ReadChanges(6, 100, everything); !errors.As(err, &ahead) || ahead.Latest != 5 {
		t.Errorf("ahead: %v", err)
	}
	checkIndexes(t, s)
}

func mustID(t *testing.T, name string) uint64 {
	t.Helper()
	id, ok := idOfName(name)
	if !ok {
		t.Fatalf("bad name %q", name)
	}
	return id
}

// TestChangeRetention: changes older than the retention are pruned as new ones arrive,
// never the latest; a position before the oldest kept one is expired, and the oldest
// kept position itself still resumes.
func TestChangeRetention(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "requests.db"), Options{ChangeRetention: time.Hour})
	// Ten changes a minute apart, then one two hours later.
	for i := range 10 {
		apply(t, s, t0.Add(time.Duration(i)*time.Minute), item(fmt.Sprint(i), t0))
	}
	// Each change prunes at most two entries: the 11th (at +2h, cutoff +1h) prunes 1-2,
	// a 12th prunes 3-4.
	apply(t, s, t0.Add(2*time.Hour), item("10", t0))
	oldest := func() uint64 {
		var k []byte
		noErr(t, s.db.View(func(tx *bolt.Tx) error {
			k, _ = tx.Bucket(bucketChanges).Cursor().First()
			return nil
		}))
		return binary.BigEndian.Uint64(k)
	}
	if o := oldest(); o != 3 {
		t.Fatalf("oldest kept change %d, want 3", o)
	}
	apply(t, s, t0.Add(2*time.Hour), item("11", t0))
	if o := oldest(); o != 5 {
		t.Fatalf("oldest kept change %d, want 5", o)
	}
	var expired *PositionExpiredError
	for _, after := range []uint64{0, 1, 2, 3} {
		if _, _, err := s.ReadChanges(after, 100, everything); !errors.As(err, &expired) || expired.Oldest != 4 {
			t.Errorf("after %d: %v", after, err)
		}
	}
	changes, last, err := s.ReadChanges(4, 100, everything)
	noErr(t, err)
	if len(changes) != 8 || changes[0].Position != 5 || last != 12 {
		t.Errorf("after 4: %d changes, last %d", len(changes), last)
	}
	// After a quiet spell, new changes prune the old ones two at a time (5-12 by the
	// fourth), never the recent ones.
	for i := range 10 {
		apply(t, s, t0.Add(100*time.Hour), item(fmt.Sprint(20+i), t0))
	}
	if o := oldest(); o != 13 {
		t.Errorf("oldest after a quiet spell: %d, want 13 (the first recent change)", o)
	}
	// The audit trail is not pruned with the log.
	evs, _, err := s.Events(1, nil, 10)
	noErr(t, err)
	if len(evs) != 1 {
		t.Errorf("events of request 1: %v", evs)
	}
}

// TestMigrateFromSchema1 turns a file back into what schema 1 wrote (none of the indexes,
// counts, events and change log added since) and reopens it: the indexes are rebuilt.
func TestMigrateFromSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "requests.db")
	s, err := Open(path, Options{})
	noErr(t, err)
	apply(t, s, t0, item("1", t0, func(it *requestsv1.IngestItem) { it.ExternalStatus = stCompleted }), item("2", t0))
	_, err = s.Act(2, "", Command{Action: lifecycle.AddNote, Note: "x", Actor: "a"}, t0.Add(time.Second))
	noErr(t, err)
	noErr(t, s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{idxCreated.name, idxIdentifiable.name, idxAttention.name, idxWord.name, bucketEvents, bucketChanges} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		var doomed [][]byte
		err := tx.Bucket(bucketCounts).ForEach(func(k, _ []byte) error {
			for _, ix := range addedInSchema2 {
				if strings.HasPrefix(string(k), string(ix.name)+"\x00") {
					doomed = append(doomed, append([]byte(nil), k...))
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range doomed {
			if err := tx.Bucket(bucketCounts).Delete(k); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint32(nil, 1))
	}))
	noErr(t, s.Close())

	s = open(t, path, Options{})
	checkLedger(t, s, false)
	if got, _, err := s.List(Filter{Words: []string{"strindberg"}, Order: CreatedOldestFirst}, nil, 10, 0); err != nil || len(got) != 2 {
		t.Errorf("search after migration: %d, %v", len(got), err)
	}
	// The change log starts afresh and works.
	if pos, _ := s.Position(); pos != 0 {
		t.Errorf("position after migration %d", pos)
	}
	_, err = s.Act(1, "", Command{Action: lifecycle.Anonymize, Actor: "a"}, t0.Add(time.Minute))
	noErr(t, err)
	if changes, _, err := s.ReadChanges(0, 10, everything); err != nil || len(changes) != 1 {
		t.Errorf("changes after migration: %v %v", changes, err)
	}
}
