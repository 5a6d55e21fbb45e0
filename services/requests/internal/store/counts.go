package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/interloan/interloan/platform/boltdb"
)

// countCache holds the counts one write transaction changes, until flush writes them.
// An ingest batch touches the same few counts over and over (every request counts under
// "all", "open", its status and owner, and shares most search words with others):
// through the cache each count is read once and written once per transaction instead of
// once per request. Every change is still checked in order against the running count,
// exactly as if it were written at once, so a count that would drop below zero is an
// error at the change that causes it.
//
// The stored counts lag behind until flush: read counts (index.count, List's plan)
// before writing in a transaction, as every write path here does.
type countCache struct {
	tx *bolt.Tx
	m  map[countRef]uint64 // the count as of now in this transaction
}

// countRef names one count. Keyed by the index and the value rather than the stored
// key, a change costs a map lookup and no allocation (an ingest makes some 15 per
// request); the key is built once per count, at flush.
type countRef struct {
	ix    *index
	value string
}

func newCountCache(tx *bolt.Tx) *countCache {
	return &countCache{tx: tx, m: make(map[countRef]uint64)}
}

// add adds delta to the count of value in ix.
func (c *countCache) add(ix *index, value string, delta int) error {
	ref := countRef{ix, value}
	n, ok := c.m[ref]
	if !ok {
		n = ix.count(c.tx, value)
	}
	if delta < 0 && n < uint64(-delta) {
		return fmt.Errorf("index %s: the count of %q would drop below zero (%d%+d): the counts disagree with the entries", ix.name, value, n, delta)
	}
	c.m[ref] = uint64(int64(n) + int64(delta))
	return nil
}

// flush writes the changed counts, dropping counts that reached zero so values no
// request has any more leave no trace.
func (c *countCache) flush() error {
	b := c.tx.Bucket(bucketCounts)
	for ref, n := range c.m {
		k := ref.ix.countKey(ref.value)
		var err error
		if n == 0 {
			err = b.Delete(k)
		} else {
			err = b.Put(k, boltdb.Uint64Key(n))
		}
		if err != nil {
			return err
		}
	}
	clear(c.m)
	return nil
}

// count is the number of entries under value, as stored (see countCache).
func (ix *index) count(tx *bolt.Tx, value string) uint64 {
	v := tx.Bucket(bucketCounts).Get(ix.countKey(value))
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func (ix *index) countKey(value string) []byte {
	k := make([]byte, 0, len(ix.name)+1+len(value))
	return append(append(append(k, ix.name...), 0), value...)
}
