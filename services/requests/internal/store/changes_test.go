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
	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
)

func everything(ChangeInfo) bool { return true }

// posAt is s's position of change seq, its check read from the log.
func posAt(t *testing.T, s *Store, seq uint64) Position {
	t.Helper()
	var p Position
	noErr(t, s.db.View(func(tx *bolt.Tx) error {
		var err error
		p, err = s.position(tx.Bucket(bucketChanges), seq)
		return err
	}))
	return p
}

// read is ReadChanges that must succeed.
func read(t *testing.T, s *Store, after Position, scan int, match func(ChangeInfo) bool) ([]Change, Position, int) {
	t.Helper()
	changes, last, examined, err := s.ReadChanges(after, scan, match)
	noErr(t, err)
	return changes, last, examined
}

// TestChangeLog: every change (import, external update, action, note) takes the next
// position, in commit order, and the log reads back exactly those, filtered and in
// bounded steps; an unchanged item makes no change.
func TestChangeLog(t *testing.T) {
	s := newStore(t)
	clk := &clock{t: t0}
	if pos, err := s.Position(); err != nil || pos != (Position{Database: s.dbID}) {
		t.Fatalf("empty ledger: position %v, %v", pos, err)
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
	if pos, _ := s.Position(); pos != posAt(t, s, 5) || pos.Check == 0 {
		t.Fatalf("position %v, want %v", pos, posAt(t, s, 5))
	}

	// The zero position replays everything the log holds.
	changes, last, examined := read(t, s, Position{}, 100, everything)
	var got []string
	for i, c := range changes {
		if c.Position != posAt(t, s, uint64(i+1)) || c.Event.Name != EventName(mustID(t, c.Request.Name), c.Position.Seq) {
			t.Errorf("change %d: position %v, event %s", i, c.Position, c.Event.Name)
		}
		got = append(got, fmt.Sprintf("%s:%s", strings.TrimPrefix(c.Request.Name, "borrowingRequests/"), c.Event.Action))
	}
	if strings.Join(got, " ") != "1:import 2:import 1:external_update 2:add_note 1:receive_physically" || last.Seq != 5 || examined != 5 {
		t.Errorf("log %v, last %v, examined %d", got, last, examined)
	}
	// So does the position before the first change, while the first is still kept.
	if changes, _, _ := read(t, s, posAt(t, s, 0), 100, everything); len(changes) != 5 {
		t.Errorf("after position 0: %d changes", len(changes))
	}
	// The request is as it is now, the event as it was then.
	if changes[0].Request.Status != requestsv1.Status_STATUS_RECEIVED_PHYSICALLY || changes[0].Event.ToStatus != stCreated {
		t.Errorf("first change: request %s, event to %s", changes[0].Request.Status, changes[0].Event.ToStatus)
	}
	// Bounded steps: scan 2 from position 1 examines 2 and 3.
	changes, last, examined = read(t, s, posAt(t, s, 1), 2, everything)
	if len(changes) != 2 || changes[0].Position.Seq != 2 || last != posAt(t, s, 3) || examined != 2 {
		t.Errorf("scan 2 after 1: %d changes, last %v", len(changes), last)
	}
	// A filter skips but still advances the position.
	changes, last, _ = read(t, s, Position{}, 100, func(c ChangeInfo) bool { return c.OwnerAfter == "KB" })
	if len(changes) != 2 || changes[0].Position.Seq != 2 || changes[1].Position.Seq != 4 || last != posAt(t, s, 5) {
		t.Errorf("KB: %v, last %v", changes, last)
	}
	// Caught up: nothing, position unchanged.
	changes, last, examined = read(t, s, posAt(t, s, 5), 100, everything)
	if len(changes) != 0 || last != posAt(t, s, 5) || examined != 0 {
		t.Errorf("caught up: %v, last %v", changes, last)
	}
	var ahead *PositionAheadError
	if _, _, _, err := s.ReadChanges(Position{Database: s.dbID, Seq: 6}, 100, everything); !errors.As(err, &ahead) || ahead.Latest != 5 {
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
// never the latest; a position whose change was pruned is expired, the oldest kept
// position still resumes, and the zero position replays from the oldest kept change.
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
	for _, after := range []uint64{0, 1, 2, 3, 4} {
		// Pruned changes cannot be checked: their positions are expired (4 too, though 5
		// would follow it: its own change is gone).
		if _, _, _, err := s.ReadChanges(Position{Database: s.dbID, Seq: after, Check: 1}, 100, everything); !errors.As(err, &expired) || expired.Oldest != 5 {
			t.Errorf("after %d: %v", after, err)
		}
	}
	changes, last, _ := read(t, s, posAt(t, s, 5), 100, everything)
	if len(changes) != 7 || changes[0].Position.Seq != 6 || last.Seq != 12 {
		t.Errorf("after 5: %d changes, last %v", len(changes), last)
	}
	// "Everything retained" starts at the oldest kept change, never expired.
	changes, last, _ = read(t, s, Position{}, 100, everything)
	if len(changes) != 8 || changes[0].Position.Seq != 5 || last.Seq != 12 {
		t.Errorf("from the oldest: %d changes, last %v", len(changes), last)
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

func TestPositionString(t *testing.T) {
	p := Position{Database: 0x0123456789abcdef, Seq: 42, Check: 0xbeef}
	if got := p.String(); got != "0123456789abcdef-42-0000beef" {
		t.Fatalf("String = %q", got)
	}
	if back, err := ParsePosition(p.String()); err != nil || back != p {
		t.Errorf("round trip: %v %v", back, err)
	}
	for _, bad := range []string{"", "0", "42", "0123456789abcdef-42", "0123456789ABCDEF-42-0000beef", "0123456789abcdef-042-0000beef",
		"0123456789abcdef-42-beef", "0000000000000000-42-0000beef", "0123456789abcdef--1-0000beef", "0123456789abcdef-42-0000beef-1",
		"0123456789abcdeg-42-0000beef", "0123456789abcdef-18446744073709551616-0000beef"} {
		if _, err := ParsePosition(bad); !errors.Is(err, ErrBadPosition) {
			t.Errorf("ParsePosition(%q) = %v", bad, err)
		}
	}
}

// TestPositionsNameTheirDatabase: a database keeps its random id across reopening; a
// position of another database is refused, and so is a position of this one from before
// it was restored from a backup, once the restored copy has given its number to another
// change (before that, the position is ahead). Positions the restored copy shares with
// the original still resume.
func TestPositionsNameTheirDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "requests.db")
	s, err := Open(path, Options{})
	noErr(t, err)
	id := s.dbID
	if id == 0 || s.DatabaseID() != fmt.Sprintf("%016x", id) {
		t.Fatalf("database id %x (%s)", id, s.DatabaseID())
	}
	for i := range 3 {
		apply(t, s, t0.Add(time.Duration(i)*time.Second), item(fmt.Sprint(i), t0))
	}
	backup := filepath.Join(dir, "backup.db")
	noErr(t, s.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(backup, 0o600) }))
	p3 := posAt(t, s, 3)
	for i := 3; i < 5; i++ {
		apply(t, s, t0.Add(time.Duration(i)*time.Second), item(fmt.Sprint(i), t0))
	}
	p5 := posAt(t, s, 5)
	noErr(t, s.Close())

	s = open(t, path)
	if s.dbID != id {
		t.Fatalf("reopened with id %x, was %x", s.dbID, id)
	}
	if changes, _, _ := read(t, s, p3, 10, everything); len(changes) != 2 {
		t.Errorf("after reopening: %d changes after 3", len(changes))
	}

	// Another ledger refuses both.
	other := newStore(t)
	apply(t, other, t0, item("x", t0))
	for _, p := range []Position{p3, posAt(t, s, 0)} {
		var foreign *PositionForeignError
		if _, _, _, err := other.ReadChanges(p, 10, everything); !errors.As(err, &foreign) || foreign.RolledBack || foreign.Database != other.DatabaseID() {
			t.Errorf("other ledger, %v: %v", p, err)
		}
	}

	// The restored copy: p5 is ahead at first, then names another change.
	restored := open(t, backup)
	if restored.dbID != id {
		t.Fatalf("the backup has id %x", restored.dbID)
	}
	var ahead *PositionAheadError
	if _, _, _, err := restored.ReadChanges(p5, 10, everything); !errors.As(err, &ahead) {
		t.Errorf("restored, before catching up: %v", err)
	}
	for i := range 3 {
		apply(t, restored, t0.Add(time.Hour+time.Duration(i)*time.Second), item(fmt.Sprint("r", i), t0))
	}
	var foreign *PositionForeignError
	_, _, _, err = restored.ReadChanges(p5, 10, everything)
	if !errors.As(err, &foreign) || !foreign.RolledBack || !strings.Contains(err.Error(), "restored from a backup") {
		t.Errorf("restored, caught up: %v", err)
	}
	if changes, _, _ := read(t, restored, p3, 10, everything); len(changes) != 3 || changes[0].Request.ExternalReference.ExternalId != "r0" {
		t.Errorf("restored, after the shared position 3: %v", changes)
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
		for _, b := range [][]byte{idxCreated.bucket, idxIdentifiable.bucket, idxAttention.bucket, idxWord.bucket, bucketEvents, bucketChanges,
			idxIdentifiableOwner.bucket, bucketIndexValues, bucketRecentWords} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		var doomed [][]byte
		err := tx.Bucket(bucketCounts).ForEach(func(k, _ []byte) error {
			for _, ix := range []*index{idxCreated, idxIdentifiable, idxAttention, idxWord, cntOwnerStatus, cntOwnerAttention} {
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
		if err := clearSchema3Fields(tx); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint32(nil, 1))
	}))
	noErr(t, s.Close())

	s = open(t, path, Options{})
	checkLedger(t, s, false)
	if r := get(t, s, 2); r.ExternalPartner != "partners/ABC" || r.ExternalStatus != 0 {
		t.Errorf("external partner and status after migration: %q %s", r.ExternalPartner, r.ExternalStatus)
	}
	if got, _, err := s.List(Filter{Words: []string{"strindberg"}, Order: CreatedOldestFirst}, nil, 10, 0); err != nil || len(got) != 2 {
		t.Errorf("search after migration: %d, %v", len(got), err)
	}
	// The change log starts afresh and works.
	if pos, _ := s.Position(); pos.Seq != 0 {
		t.Errorf("position after migration %v", pos)
	}
	_, err = s.Act(1, "", Command{Action: lifecycle.Anonymize, Actor: "a"}, t0.Add(time.Minute))
	noErr(t, err)
	if changes, _, _, err := s.ReadChanges(Position{}, 10, everything); err != nil || len(changes) != 1 {
		t.Errorf("changes after migration: %v %v", changes, err)
	}
	checkLedger(t, s, false)
}

// clearSchema3Fields removes from the records what schema 3 added to them.
func clearSchema3Fields(tx *bolt.Tx) error {
	b := tx.Bucket(bucketRequests)
	var keys, values [][]byte
	err := b.ForEach(func(k, v []byte) error {
		r := &requestsv1.BorrowingRequest{}
		if err := proto.Unmarshal(v, r); err != nil {
			return err
		}
		r.ExternalPartner, r.ExternalStatus, r.PartnerUnconfirmed = "", 0, false
		nv, err := proto.Marshal(r)
		keys, values = append(keys, append([]byte(nil), k...)), append(values, nv)
		return err
	})
	if err != nil {
		return err
	}
	for i, k := range keys {
		if err := b.Put(k, values[i]); err != nil {
			return err
		}
	}
	return nil
}

// TestMigrateFromSchema2 turns a file back into what schema 2 wrote (no index_values, no
// owner-keyed anonymization index, no external partner or status on the records) and
// reopens it: all of it is rebuilt, and the ledger works on (a write moves entries by the
// stored values; bulk anonymization by owner finds the old candidates).
func TestMigrateFromSchema2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "requests.db")
	s, err := Open(path, Options{})
	noErr(t, err)
	apply(t, s, t0, item("1", t0, func(it *requestsv1.IngestItem) { it.ExternalStatus = stCompleted }),
		item("2", t0, func(it *requestsv1.IngestItem) { it.ExternalStatus = stSent }))
	noErr(t, s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{idxIdentifiableOwner.bucket, bucketIndexValues} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		if err := clearSchema3Fields(tx); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint32(nil, 2))
	}))
	noErr(t, s.Close())

	s = open(t, path, Options{})
	checkIndexes(t, s)
	r := get(t, s, 2)
	if r.ExternalPartner != "partners/ABC" || r.Partner != "partners/ABC" || r.PartnerUnconfirmed {
		t.Errorf("request 2 after migration: %v", r)
	}
	// Untouched by the migration: no one changed the requests.
	if r.UpdateTime.AsTime() != t0 {
		t.Errorf("update time %v", r.UpdateTime.AsTime())
	}
	// Without a mapped status on record, an unchanged raw status is no news...
	apply(t, s, t0.Add(time.Minute), item("2", t0.Add(time.Second), func(it *requestsv1.IngestItem) { it.ExternalStatus = stShipped }))
	if r := get(t, s, 2); r.Status != stSent || r.ExternalStatus != stShipped {
		t.Errorf("same raw status: %s (external %s)", r.Status, r.ExternalStatus)
	}
	// ... and a changed one is.
	apply(t, s, t0.Add(2*time.Minute), item("2", t0.Add(2*time.Second), func(it *requestsv1.IngestItem) {
		it.ExternalStatus, it.ExternalReference.StatusRaw = stShipped, "Levererad"
	}))
	if r := get(t, s, 2); r.Status != stShipped {
		t.Errorf("new raw status: %s", r.Status)
	}
	names, _, err := s.AnonymizeOld(t0.Add(time.Hour), "GUB", 10, "a", t0.Add(time.Hour), false)
	if err != nil || strings.Join(names, " ") != "borrowingRequests/1" {
		t.Errorf("anonymize GUB's after migration: %v %v", names, err)
	}
	checkIndexes(t, s)
}
