// Package store keeps the harvester's state in one bbolt file: runs (the job history),
// their events (the event report), each profile's harvest cursor and its retry set. A
// batch's events, the run's counters and the retry set change in one transaction, so a
// crash never leaves a counter that disagrees with the events behind it.
package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	"github.com/interloan/interloan/platform/boltdb"
)

// The buckets and schema version, declared once. Keys and values:
//
//	runs              ^id (8 bytes, inverted so forward order is newest first) → Run
//	runs_by_profile   profile code + 0x00 + ^id → empty: the job history of one profile
//	run_events        id (8 bytes) + seq (8 bytes) → RunEvent, in the order handled
//	cursors           profile code → last acknowledged day "YYYY-MM-DD"
//	retry             profile code + 0x00 + external id → RetryEntry: seen, not imported yet
//	create_requests(_by_record)  AIP-155 request_id of StartRun → run key
var (
	bucketRuns          = []byte("runs")
	bucketRunsByProfile = []byte("runs_by_profile")
	bucketRunEvents     = []byte("run_events")
	bucketCursors       = []byte("cursors")
	bucketRetry         = []byte("retry")
	bucketCreateReqs    = []byte("create_requests")
	bucketReqsByRecord  = []byte("create_requests_by_record")

	createRequests = boltdb.CreateRequests{ByRequest: bucketCreateReqs, ByRecord: bucketReqsByRecord}

	schema = boltdb.Schema{Version: 1, Buckets: [][]byte{
		bucketRuns, bucketRunsByProfile, bucketRunEvents, bucketCursors, bucketRetry,
		bucketCreateReqs, bucketReqsByRecord,
	}}
)

const (
	runsID      = "runs"
	sequenceKey = "run_id"
)

// ErrNotFound is returned when no run has the requested ID.
var ErrNotFound = errors.New("not found")

// Store is the harvester's bbolt file.
type Store struct{ db *bolt.DB }

// Open opens (creating) the file at path.
func Open(path string) (*Store, error) {
	db, err := boltdb.Open(path, schema)
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func runKey(id uint64) []byte { return boltdb.Uint64Key(math.MaxUint64 - id) }

func profileRunKey(profile string, id uint64) []byte {
	return append(append([]byte(profile), 0), runKey(id)...)
}

// RunName is `runs/{id}`.
func RunName(id uint64) string { return fmt.Sprintf("runs/%d", id) }

func getRun(tx *bolt.Tx, id uint64) (*harvesterv1.Run, error) {
	v := tx.Bucket(bucketRuns).Get(runKey(id))
	if v == nil {
		return nil, ErrNotFound
	}
	r := &harvesterv1.Run{}
	if err := proto.Unmarshal(v, r); err != nil {
		return nil, fmt.Errorf("decode run %d: %w", id, err)
	}
	return r, nil
}

func putRun(tx *bolt.Tx, id uint64, r *harvesterv1.Run) error {
	b, err := proto.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketRuns).Put(runKey(id), b)
}

// CreateRun stores a new run built by build from its ID, for profileCode. A repeated
// requestID returns the run it created before (created=false) instead of a new one.
func (s *Store) CreateRun(profileCode, requestID string, build func(id uint64) *harvesterv1.Run) (run *harvesterv1.Run, created bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		if requestID != "" {
			if k := createRequests.Lookup(tx, runsID, requestID); k != nil {
				r, err := getRun(tx, math.MaxUint64-decodeUint64(k))
				if err != nil {
					return err
				}
				run = r
				return nil
			}
		}
		id, err := tx.Bucket(bucketRuns).NextSequence()
		if err != nil {
			return err
		}
		r := build(id)
		if err := putRun(tx, id, r); err != nil {
			return err
		}
		if err := tx.Bucket(bucketRunsByProfile).Put(profileRunKey(profileCode, id), nil); err != nil {
			return err
		}
		if requestID != "" {
			if err := createRequests.Remember(tx, runsID, requestID, runKey(id)); err != nil {
				return err
			}
		}
		run, created = r, true
		return nil
	})
	return run, created, err
}

func decodeUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// RunByRequest returns the run a StartRun with requestID created, if any.
func (s *Store) RunByRequest(requestID string) (run *harvesterv1.Run, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		k := createRequests.Lookup(tx, runsID, requestID)
		if k == nil {
			return nil
		}
		run, err = getRun(tx, math.MaxUint64-decodeUint64(k))
		ok = err == nil
		return err
	})
	return run, ok, err
}

// GetRun returns run id.
func (s *Store) GetRun(id uint64) (*harvesterv1.Run, error) {
	var r *harvesterv1.Run
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		r, err = getRun(tx, id)
		return err
	})
	return r, err
}

// UpdateRun applies change to run id and stores the result.
func (s *Store) UpdateRun(id uint64, change func(*harvesterv1.Run) error) (*harvesterv1.Run, error) {
	var r *harvesterv1.Run
	err := s.db.Update(func(tx *bolt.Tx) (err error) {
		if r, err = getRun(tx, id); err != nil {
			return err
		}
		if err := change(r); err != nil {
			return err
		}
		return putRun(tx, id, r)
	})
	return r, err
}

// RunFilter selects runs for ListRuns.
type RunFilter struct {
	ProfileCode string
	State       harvesterv1.RunState
}

// ListRuns returns up to limit runs newest first after the key `after` (nil: from the
// newest), and the key to resume after when more may follow.
func (s *Store) ListRuns(f RunFilter, after []byte, limit int) (runs []*harvesterv1.Run, next []byte, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		visit := func(r *harvesterv1.Run) bool {
			if f.State != harvesterv1.RunState_RUN_STATE_UNSPECIFIED && r.GetState() != f.State {
				return false
			}
			runs = append(runs, r)
			return true
		}
		var last []byte
		var more bool
		var err error
		if f.ProfileCode == "" {
			last, more, err = boltdb.Page(tx.Bucket(bucketRuns).Cursor(), nil, after, limit, func(_, v []byte) (bool, error) {
				r := &harvesterv1.Run{}
				if err := proto.Unmarshal(v, r); err != nil {
					return false, err
				}
				return visit(r), nil
			})
		} else {
			prefix := append([]byte(f.ProfileCode), 0)
			runsB := tx.Bucket(bucketRuns)
			last, more, err = boltdb.Page(tx.Bucket(bucketRunsByProfile).Cursor(), prefix, after, limit, func(k, _ []byte) (bool, error) {
				v := runsB.Get(k[len(prefix):])
				if v == nil {
					return false, nil
				}
				r := &harvesterv1.Run{}
				if err := proto.Unmarshal(v, r); err != nil {
					return false, err
				}
				return visit(r), nil
			})
		}
		if err != nil {
			return err
		}
		if more {
			next = last
		}
		return nil
	})
	return runs, next, err
}

// Active returns the runs still PENDING or RUNNING, e.g. those a crash left behind.
func (s *Store) Active() ([]*harvesterv1.Run, error) {
	var out []*harvesterv1.Run
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRuns).ForEach(func(_, v []byte) error {
			r := &harvesterv1.Run{}
			if err := proto.Unmarshal(v, r); err != nil {
				return err
			}
			if st := r.GetState(); st == harvesterv1.RunState_RUN_STATE_PENDING || st == harvesterv1.RunState_RUN_STATE_RUNNING {
				out = append(out, r)
			}
			return nil
		})
	})
	return out, err
}

// RetryEntry is an external request seen but not imported; later runs fetch it again.
type RetryEntry struct {
	ExternalID string
	Reason     string
}

// Batch is what one ingest batch changes in the harvester's own state.
type Batch struct {
	RunID   uint64
	Events  []*harvesterv1.RunEvent // names are assigned here
	Update  func(*harvesterv1.Run)  // counters and progress
	Profile string                  // profile code, for the retry set
	Retry   []RetryEntry            // add (or refresh) these
	Done    []string                // external ids imported: leave the retry set
}

// RecordBatch stores a batch's events, the run's new counters and the retry set changes
// in one transaction.
func (s *Store) RecordBatch(b Batch) (*harvesterv1.Run, error) {
	var run *harvesterv1.Run
	err := s.db.Update(func(tx *bolt.Tx) error {
		r, err := getRun(tx, b.RunID)
		if err != nil {
			return err
		}
		events := tx.Bucket(bucketRunEvents)
		// The per-run sequence is the count of events already stored, kept in the run's
		// key space so event names are stable and dense: runs/{id}/events/{n}.
		seq := lastEventSeq(events, b.RunID)
		for _, e := range b.Events {
			seq++
			e.Name = fmt.Sprintf("%s/events/%d", RunName(b.RunID), seq)
			v, err := proto.Marshal(e)
			if err != nil {
				return err
			}
			if err := events.Put(eventKey(b.RunID, seq), v); err != nil {
				return err
			}
		}
		if b.Update != nil {
			b.Update(r)
		}
		if err := putRun(tx, b.RunID, r); err != nil {
			return err
		}
		retry := tx.Bucket(bucketRetry)
		for _, id := range b.Done {
			if err := retry.Delete(retryKey(b.Profile, id)); err != nil {
				return err
			}
		}
		for _, e := range b.Retry {
			if err := retry.Put(retryKey(b.Profile, e.ExternalID), []byte(e.Reason)); err != nil {
				return err
			}
		}
		run = r
		return nil
	})
	return run, err
}

func eventKey(runID, seq uint64) []byte {
	return append(boltdb.Uint64Key(runID), boltdb.Uint64Key(seq)...)
}

func lastEventSeq(b *bolt.Bucket, runID uint64) uint64 {
	c := b.Cursor()
	k, _ := c.Seek(boltdb.Uint64Key(runID + 1))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if len(k) != 16 || decodeUint64(k[:8]) != runID {
		return 0
	}
	return decodeUint64(k[8:])
}

func retryKey(profile, externalID string) []byte {
	return append(append([]byte(profile), 0), externalID...)
}

// ListRunEvents returns up to limit events of run id in order after key `after`, those
// with the given outcome only when outcome is set.
func (s *Store) ListRunEvents(runID uint64, outcome harvesterv1.Outcome, after []byte, limit int) (events []*harvesterv1.RunEvent, next []byte, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRuns).Get(runKey(runID)) == nil {
			return ErrNotFound
		}
		last, more, err := boltdb.Page(tx.Bucket(bucketRunEvents).Cursor(), boltdb.Uint64Key(runID), after, limit, func(_, v []byte) (bool, error) {
			e := &harvesterv1.RunEvent{}
			if err := proto.Unmarshal(v, e); err != nil {
				return false, err
			}
			if outcome != harvesterv1.Outcome_OUTCOME_UNSPECIFIED && e.GetOutcome() != outcome {
				return false, nil
			}
			events = append(events, e)
			return true, nil
		})
		if more {
			next = last
		}
		return err
	})
	return events, next, err
}

// Retry returns the profile's retry set, oldest-keyed first.
func (s *Store) Retry(profile string) ([]RetryEntry, error) {
	var out []RetryEntry
	prefix := append([]byte(profile), 0)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRetry).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			out = append(out, RetryEntry{ExternalID: string(k[len(prefix):]), Reason: string(v)})
		}
		return nil
	})
	return out, err
}

// Cursor returns the profile's last acknowledged day, if any.
func (s *Store) Cursor(profile string) (day time.Time, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketCursors).Get([]byte(profile))
		if v == nil {
			return nil
		}
		t, err := time.Parse(time.DateOnly, string(v))
		if err != nil {
			return fmt.Errorf("corrupt cursor of %s: %w", profile, err)
		}
		day, ok = t, true
		return nil
	})
	return day, ok, err
}

// FinishRun stores the run's final state and, when advance is set, moves the profile's
// cursor to day in the same transaction: the cursor never runs ahead of the report.
func (s *Store) FinishRun(id uint64, profile string, advance bool, day time.Time, change func(*harvesterv1.Run)) (*harvesterv1.Run, error) {
	var r *harvesterv1.Run
	err := s.db.Update(func(tx *bolt.Tx) (err error) {
		if r, err = getRun(tx, id); err != nil {
			return err
		}
		change(r)
		if err := putRun(tx, id, r); err != nil {
			return err
		}
		if advance {
			return tx.Bucket(bucketCursors).Put([]byte(profile), []byte(day.Format(time.DateOnly)))
		}
		return nil
	})
	return r, err
}
