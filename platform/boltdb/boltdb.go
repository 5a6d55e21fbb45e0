// Package boltdb opens a service's bbolt file with sane options and a declared schema:
// the bucket names and schema version live in one Schema value per service, checked and
// created in one transaction at open.
package boltdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	metaBucket       = []byte("meta")
	schemaVersionKey = []byte("schema_version")
)

// Schema declares a service's buckets and the schema version its code understands.
type Schema struct {
	Version uint32
	Buckets [][]byte
	// Migrate upgrades a file written at an older version, in the open transaction
	// (after the buckets exist). Nil means no older version can be upgraded.
	Migrate func(tx *bolt.Tx, from uint32) error
}

// ErrNewerSchema is returned when the file was written by a newer release.
var ErrNewerSchema = errors.New("data file has a newer schema version than this binary understands")

// Open opens (creating if needed) the bbolt file at path, creates the schema's buckets and
// records its version. A file from a newer schema is refused rather than misread.
func Open(path string, s Schema) (*bolt.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: 2 * time.Second, // another process holds the lock: fail instead of hanging
		// Address space only; large enough that readers never block a growing writer.
		InitialMmapSize: 256 << 20,
		FreelistType:    bolt.FreelistMapType,
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w (is another process using this data directory?)", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		for _, b := range s.Buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("bucket %s: %w", b, err)
			}
		}
		if v := meta.Get(schemaVersionKey); v != nil {
			if len(v) != 4 {
				return fmt.Errorf("corrupt schema version in %s", path)
			}
			switch got := binary.BigEndian.Uint32(v); {
			case got > s.Version:
				return fmt.Errorf("%s: %w (file %d, binary %d)", path, ErrNewerSchema, got, s.Version)
			case got < s.Version && s.Migrate == nil:
				return fmt.Errorf("%s: schema version %d cannot be upgraded to %d", path, got, s.Version)
			case got < s.Version:
				if err := s.Migrate(tx, got); err != nil {
					return fmt.Errorf("%s: migrate schema %d → %d: %w", path, got, s.Version, err)
				}
			}
		}
		return meta.Put(schemaVersionKey, binary.BigEndian.AppendUint32(nil, s.Version))
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Uint64Key encodes n as 8 big-endian bytes, so byte order is numeric order.
func Uint64Key(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// AppendReverseTime appends 8 big-endian bytes of MaxUint64 − t's Unix-nanosecond time
// to k, so byte order is newest first (for times after 1970): a forward cursor walk
// lists the most recent entries first.
func AppendReverseTime(k []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(k, math.MaxUint64-uint64(t.UnixNano()))
}

// Copy returns a copy of b: values from bbolt are only valid inside their transaction.
func Copy(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// Page walks the keys of c that start with prefix (all keys for an empty prefix), from
// the first key after `after` (from the range's start when nil), and calls visit for each
// pair until visit has accepted limit items. visit returns whether it accepted the item
// (filters reject). It returns the last accepted key and whether more keys of the range
// follow it, which is what a next_page_token needs. Keys and values passed to visit are
// only valid during the call.
func Page(c *bolt.Cursor, prefix, after []byte, limit int, visit func(k, v []byte) (bool, error)) (last []byte, more bool, err error) {
	return PageBounded(c, prefix, after, limit, 0, visit)
}

// PageBounded is Page that also stops once it has examined maxScan keys (no bound when
// maxScan <= 0), so a filter that rejects most keys cannot walk a whole bucket in one
// call. Stopped by the bound, it returns the last key examined (accepted or not) and
// whether keys of the range follow: the next page resumes there, and a short (even empty)
// page with a next token is what AIP-158 allows.
func PageBounded(c *bolt.Cursor, prefix, after []byte, limit, maxScan int, visit func(k, v []byte) (bool, error)) (last []byte, more bool, err error) {
	var k, v []byte
	if after == nil {
		k, v = c.Seek(prefix)
	} else {
		k, v = c.Seek(after)
		if bytes.Equal(k, after) {
			k, v = c.Next()
		}
	}
	n, scanned := 0, 0
	var examined []byte
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if n == limit {
			return last, true, nil
		}
		if maxScan > 0 && scanned == maxScan {
			return examined, true, nil
		}
		ok, err := visit(k, v)
		if err != nil {
			return nil, false, err
		}
		scanned++
		if ok || maxScan > 0 { // unbounded walks need only accepted keys
			examined = Copy(k)
		}
		if ok {
			n++
			last = examined
		}
	}
	return last, false, nil
}
