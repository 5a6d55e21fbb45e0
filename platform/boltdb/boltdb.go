// Package boltdb opens a service's bbolt file with sane options and a declared schema:
// the owning service, the bucket names and the schema version live in one Schema value
// per service, checked and created in one transaction at open.
package boltdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	metaBucket       = []byte("meta")
	schemaVersionKey = []byte("schema_version")
	serviceKey       = []byte("service")
)

// Schema declares a service's file: whose it is, its buckets and the schema version its
// code understands.
type Schema struct {
	// Service names the service that owns the file. It is recorded in the meta bucket
	// when the file is created, and a file recorded for another service is refused, so
	// one service's data put in another's place is never read as, or turned into, its
	// own. A file without the record gets it at open, unless it holds a top-level bucket
	// the schema does not declare (another service's file).
	Service string
	Version uint32
	Buckets [][]byte
	// Migrate upgrades a file written at an older version, in the open transaction
	// (after the buckets exist). Nil means no older version can be upgraded.
	Migrate func(tx *bolt.Tx, from uint32) error
}

var (
	// ErrNewerSchema is returned when the file was written by a newer release.
	ErrNewerSchema = errors.New("made by a newer Interloan")
	// ErrOtherService is returned when the file holds another service's data.
	ErrOtherService = errors.New("wrong service")
)

// Open opens (creating if needed) the bbolt file at path, checks or records whose file it
// is, creates the schema's buckets and records its version. A file of another service or
// from a newer schema is refused rather than misread.
func Open(path string, s Schema) (*bolt.DB, error) {
	if s.Service == "" {
		return nil, errors.New("boltdb: the schema names no service")
	}
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
		if err := s.claim(tx, path); err != nil {
			return err
		}
		meta := tx.Bucket(metaBucket)
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
				return fmt.Errorf("%s: %w (schema %d > %d)", path, ErrNewerSchema, got, s.Version)
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

// claim checks that the file is s.Service's, recording it in a file without the record
// (a new file, or one written before files named their service).
func (s Schema) claim(tx *bolt.Tx, path string) error {
	if meta := tx.Bucket(metaBucket); meta != nil {
		if got := meta.Get(serviceKey); got != nil {
			if string(got) != s.Service {
				return fmt.Errorf("%w: %s holds %s data, not %s", ErrOtherService, path, serviceName(got), s.Service)
			}
			return nil
		}
	}
	err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		if !bytes.Equal(name, metaBucket) && !slices.ContainsFunc(s.Buckets, func(b []byte) bool { return bytes.Equal(b, name) }) {
			return fmt.Errorf("%w: %s names no service and holds bucket %q, which %s does not have", ErrOtherService, path, name, s.Service)
		}
		return nil
	})
	if err != nil {
		return err
	}
	meta, err := tx.CreateBucketIfNotExists(metaBucket)
	if err != nil {
		return err
	}
	return meta.Put(serviceKey, []byte(s.Service))
}

// serviceName is a recorded service name fit for a message: as it is when it is a plain
// name, quoted and cut short otherwise.
func serviceName(b []byte) string {
	plain := len(b) > 0 && len(b) <= 32 && !slices.ContainsFunc(b, func(c byte) bool {
		return (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_'
	})
	if plain {
		return string(b)
	}
	return fmt.Sprintf("%q", b[:min(len(b), 32)])
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
