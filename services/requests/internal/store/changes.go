package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/boltdb"
)

// changeEntry is one change-log entry. It holds what watch filters need and where the
// event is, not a copy of the request: the request is read when the change is sent, so
// the log never holds personal data that anonymizing would have to chase.
//
// Encoding: time (8, Unix nanoseconds) | id (8) | from (1) | to (1) | len(owner before)
// (1) | owner before | owner after. Owners are codes of at most 63 characters.
type changeEntry struct {
	time                    time.Time
	id                      uint64
	from, to                requestsv1.Status
	ownerBefore, ownerAfter string
}

func (e changeEntry) encode() []byte {
	b := make([]byte, 0, 19+len(e.ownerBefore)+len(e.ownerAfter))
	b = binary.BigEndian.AppendUint64(b, uint64(e.time.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, e.id)
	b = append(b, byte(e.from), byte(e.to), byte(len(e.ownerBefore)))
	return append(append(b, e.ownerBefore...), e.ownerAfter...)
}

func decodeChange(b []byte) (changeEntry, error) {
	if len(b) < 19 || len(b) < 19+int(b[18]) {
		return changeEntry{}, fmt.Errorf("corrupt change-log entry %x", b)
	}
	n := int(b[18])
	return changeEntry{
		time:        time.Unix(0, int64(binary.BigEndian.Uint64(b))),
		id:          binary.BigEndian.Uint64(b[8:]),
		from:        requestsv1.Status(b[16]),
		to:          requestsv1.Status(b[17]),
		ownerBefore: string(b[19 : 19+n]),
		ownerAfter:  string(b[19+n:]),
	}, nil
}

// prunePerChange bounds the pruning one change does: twice the rate the log grows, so
// the log keeps up with its retention without any single write doing unbounded work.
const prunePerChange = 2

// prune deletes up to prunePerChange of the oldest change-log entries made before
// cutoff. The entry just appended is never older than cutoff, so the log is never empty
// once a change was made and the latest position always has its entry.
func prune(changes *bolt.Bucket, cutoff time.Time) error {
	c := changes.Cursor()
	var doomed [][]byte
	for k, v := c.First(); k != nil && len(doomed) < prunePerChange; k, v = c.Next() {
		e, err := decodeChange(v)
		if err != nil {
			return err
		}
		if !e.time.Before(cutoff) {
			break
		}
		doomed = append(doomed, boltdb.Copy(k))
	}
	for _, k := range doomed { // deleted after the walk: deleting under a cursor can skip keys
		if err := changes.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Position is a place in the change log as a watcher holds it: the database, the change's
// number (its sequence in the changes bucket; 0 before the first change) and a check of
// the change stored there. The database id tells another ledger's positions apart; the
// check tells this database's positions from before a restore from backup apart, since
// after a restore the same numbers are given to new changes: a client holding such a
// position would otherwise silently miss changes.
type Position struct {
	Database uint64
	Seq      uint64
	Check    uint32 // of the entry at Seq (0 for Seq 0)
}

// String is the opaque form clients hold: "<database id, 16 hex>-<seq>-<check, 8 hex>".
func (p Position) String() string {
	return formatDatabaseID(p.Database) + "-" + strconv.FormatUint(p.Seq, 10) + "-" + fmt.Sprintf("%08x", p.Check)
}

func formatDatabaseID(id uint64) string { return fmt.Sprintf("%016x", id) }

// ErrBadPosition is returned by ParsePosition for a string no stream ever sent.
var ErrBadPosition = errors.New("not a change position")

// ParsePosition reads a position's String form; only the canonical form is accepted, so
// one position has one spelling.
func ParsePosition(s string) (Position, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 || len(parts[0]) != 16 || len(parts[2]) != 8 {
		return Position{}, ErrBadPosition
	}
	db, err1 := strconv.ParseUint(parts[0], 16, 64)
	seq, err2 := strconv.ParseUint(parts[1], 10, 64)
	check, err3 := strconv.ParseUint(parts[2], 16, 32)
	p := Position{Database: db, Seq: seq, Check: uint32(check)}
	if err1 != nil || err2 != nil || err3 != nil || db == 0 || p.String() != s {
		return Position{}, ErrBadPosition
	}
	return p, nil
}

// checkOf is the check of a change-log entry: a hash of the entry as stored (its time,
// request, statuses and owners), so a different change at the same number has, in all
// likelihood, a different check.
func checkOf(entry []byte) uint32 {
	h := fnv.New32a()
	h.Write(entry)
	return h.Sum32()
}

// position is the position of change seq of this database, read in tx.
func (s *Store) position(changes *bolt.Bucket, seq uint64) (Position, error) {
	p := Position{Database: s.dbID, Seq: seq}
	if seq == 0 {
		return p, nil
	}
	v := changes.Get(boltdb.Uint64Key(seq))
	if v == nil {
		return p, fmt.Errorf("change %d is not in the change log", seq)
	}
	p.Check = checkOf(v)
	return p, nil
}

// Position is the latest change-log position (Seq 0 before the first change). The
// latest change is never pruned, so its entry is always there to check.
func (s *Store) Position() (Position, error) {
	var pos Position
	err := s.db.View(func(tx *bolt.Tx) error {
		changes := tx.Bucket(bucketChanges)
		var err error
		pos, err = s.position(changes, changes.Sequence())
		return err
	})
	return pos, err
}

// Changed returns a channel that is closed when the next change commits. Take it before
// reading the log, then wait on it: no change can slip between the two.
func (s *Store) Changed() <-chan struct{} { return s.feed.wait() }

// ChangeInfo is what a watch filter sees of a change: the request and its status and
// owner before and after.
type ChangeInfo struct {
	ID                      uint64
	From, To                requestsv1.Status
	OwnerBefore, OwnerAfter string
}

// Change is one change read from the log: its position, the audit event describing it
// and the request as it is now.
type Change struct {
	Position Position
	Event    *requestsv1.RequestEvent
	Request  *requestsv1.BorrowingRequest
}

// ReadChanges returns the changes after position `after` that match, examining at most
// scan entries in one short read transaction, the position of the last entry examined
// (after itself when none followed) and how many it examined. The zero Position means
// "before the oldest change the log still holds": everything retained is replayed.
//
// Any other position must be safe to resume after, else nothing is read: one of another
// database, or whose change differs from the one stored under its number here (this
// database was restored from a backup since), is a *PositionForeignError; one the log no
// longer holds a *PositionExpiredError; one it never reached a *PositionAheadError.
func (s *Store) ReadChanges(after Position, scan int, match func(ChangeInfo) bool) ([]Change, Position, int, error) {
	var out []Change
	last, examined := after, 0
	err := s.db.View(func(tx *bolt.Tx) error {
		changes := tx.Bucket(bucketChanges)
		c := changes.Cursor()
		var oldest uint64 // the oldest change the log holds; 0 when it holds none
		if first, _ := c.First(); first != nil {
			var err error
			if oldest, err = idOf(first); err != nil {
				return err
			}
		}
		start := oldest
		if after != (Position{}) {
			var err error
			if start, err = s.resumable(changes, after, oldest); err != nil {
				return err
			}
		}
		k, v := c.Seek(boltdb.Uint64Key(start))
		for ; k != nil && examined < scan; k, v = c.Next() {
			examined++
			seq, err := idOf(k)
			if err != nil {
				return err
			}
			e, err := decodeChange(v)
			if err != nil {
				return err
			}
			last = Position{Database: s.dbID, Seq: seq, Check: checkOf(v)}
			if !match(ChangeInfo{ID: e.id, From: e.from, To: e.to, OwnerBefore: e.ownerBefore, OwnerAfter: e.ownerAfter}) {
				continue
			}
			ev, err := loadEvent(tx, e.id, seq)
			if err != nil {
				return err
			}
			r, err := indexed(tx, e.id)
			if err != nil {
				return err
			}
			out = append(out, Change{Position: last, Event: ev, Request: r})
		}
		return nil
	})
	if err != nil {
		return nil, after, 0, err
	}
	return out, last, examined, nil
}

// resumable checks that resuming after p misses nothing and repeats nothing, and returns
// the first change number to read. oldest is the oldest change the log holds (0: none).
func (s *Store) resumable(changes *bolt.Bucket, p Position, oldest uint64) (uint64, error) {
	latest := changes.Sequence()
	switch {
	case p.Database != s.dbID:
		return 0, &PositionForeignError{Position: p.String(), Database: s.DatabaseID()}
	case p.Seq > latest:
		return 0, &PositionAheadError{Position: p.String(), Latest: latest}
	case p.Seq == 0 && oldest > 1:
		// Before the first change: only while the log still holds the first change.
		return 0, &PositionExpiredError{Position: p.String(), Oldest: oldest}
	case p.Seq == 0:
		return 1, nil
	case oldest == 0 || p.Seq < oldest:
		// The change itself was pruned, so it cannot be checked: resuming is refused even
		// when the next one is still there (one change earlier than strictly needed).
		return 0, &PositionExpiredError{Position: p.String(), Oldest: oldest}
	}
	if v := changes.Get(boltdb.Uint64Key(p.Seq)); v == nil || checkOf(v) != p.Check {
		return 0, &PositionForeignError{Position: p.String(), Database: s.DatabaseID(), RolledBack: true}
	}
	return p.Seq + 1, nil
}

// loadEvent reads the event at position pos of request id; a change without its event is
// a damaged file.
func loadEvent(tx *bolt.Tx, id, pos uint64) (*requestsv1.RequestEvent, error) {
	v := tx.Bucket(bucketEvents).Get(eventKey(id, pos))
	if v == nil {
		return nil, fmt.Errorf("change %d has no event (borrowing request %d)", pos, id)
	}
	ev := &requestsv1.RequestEvent{}
	if err := proto.Unmarshal(v, ev); err != nil {
		return nil, fmt.Errorf("decode event %d of borrowing request %d: %w", pos, id, err)
	}
	return ev, nil
}

// Events returns up to limit events of request id, oldest first, after the cursor
// `after` (nil: from the first), and the cursor of the next page (nil when none follow).
func (s *Store) Events(id uint64, after []byte, limit int) ([]*requestsv1.RequestEvent, []byte, error) {
	var out []*requestsv1.RequestEvent
	var next []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if _, err := load(tx, id); err != nil {
			return err
		}
		prefix := boltdb.Uint64Key(id)
		if after != nil && (len(after) != 16 || !bytes.HasPrefix(after, prefix)) {
			return ErrBadCursor
		}
		last, more, err := boltdb.Page(tx.Bucket(bucketEvents).Cursor(), prefix, after, limit, func(_, v []byte) (bool, error) {
			ev := &requestsv1.RequestEvent{}
			if err := proto.Unmarshal(v, ev); err != nil {
				return false, fmt.Errorf("decode an event of borrowing request %d: %w", id, err)
			}
			out = append(out, ev)
			return true, nil
		})
		if more {
			next = last
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return out, next, nil
}
