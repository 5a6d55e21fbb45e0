package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
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

// Position is the latest change-log position (0 before the first change).
func (s *Store) Position() (uint64, error) {
	var pos uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		pos = tx.Bucket(bucketChanges).Sequence()
		return nil
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
	Position uint64
	Event    *requestsv1.RequestEvent
	Request  *requestsv1.BorrowingRequest
}

// ReadChanges returns the changes after position `after` that match, examining at most
// scan entries in one short read transaction, and the position of the last entry
// examined (after itself when none followed). A position the log no longer covers is a
// *PositionExpiredError, one it never reached a *PositionAheadError.
func (s *Store) ReadChanges(after uint64, scan int, match func(ChangeInfo) bool) ([]Change, uint64, error) {
	var out []Change
	last := after
	err := s.db.View(func(tx *bolt.Tx) error {
		changes := tx.Bucket(bucketChanges)
		if latest := changes.Sequence(); after > latest {
			return &PositionAheadError{Position: after, Latest: latest}
		}
		c := changes.Cursor()
		// Positions are consecutive (one per committed change), so a first entry past
		// after+1 means the ones between were pruned.
		if first, _ := c.First(); first != nil {
			oldest, err := idOf(first)
			if err != nil {
				return err
			}
			if oldest > after+1 {
				return &PositionExpiredError{Position: after, Oldest: oldest - 1}
			}
		}
		k, v := c.Seek(boltdb.Uint64Key(after + 1))
		for n := 0; k != nil && n < scan; k, v = c.Next() {
			n++
			pos, err := idOf(k)
			if err != nil {
				return err
			}
			e, err := decodeChange(v)
			if err != nil {
				return err
			}
			last = pos
			if !match(ChangeInfo{ID: e.id, From: e.from, To: e.to, OwnerBefore: e.ownerBefore, OwnerAfter: e.ownerAfter}) {
				continue
			}
			ev, err := loadEvent(tx, e.id, pos)
			if err != nil {
				return err
			}
			r, err := indexed(tx, e.id)
			if err != nil {
				return err
			}
			out = append(out, Change{Position: pos, Event: ev, Request: r})
		}
		return nil
	})
	if err != nil {
		return nil, after, err
	}
	return out, last, nil
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
