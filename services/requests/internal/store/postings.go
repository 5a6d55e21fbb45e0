package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
)

// An index stores its entries as postings: one key per value and time, [value + 0x00 +]
// inverted time (8 bytes), whose value lists the ids of every request indexed under that
// value at that time, ascending. An ingest batch stamps all its requests with one time,
// so it writes one posting per index value (one per search word, not one per word and
// request), each a single key next to the batch's others. Reading, a posting stands for
// its entries: its key followed by each id (8 bytes, big-endian), in that order, which is
// exactly the key of an entry of its own per request, so List's ranges and cursors are
// the same whatever the storage.
//
// Posting keys never contain one another (values hold no 0x00 and the time is fixed-size),
// so the entries' order is the postings' order, then the ids'.

// appendPosting encodes ids (ascending, distinct, non-zero) as uvarint deltas.
func appendPosting(b []byte, ids []uint64) []byte {
	var prev uint64
	for _, id := range ids {
		b = binary.AppendUvarint(b, id-prev)
		prev = id
	}
	return b
}

// postingLen is the number of ids in a posting: each uvarint ends in the one byte
// below 0x80.
func postingLen(v []byte) uint64 {
	var n uint64
	for _, b := range v {
		if b < 0x80 {
			n++
		}
	}
	return n
}

// decodePosting reads what appendPosting wrote; anything else is a damaged file.
func decodePosting(key, v []byte) ([]uint64, error) {
	ids := make([]uint64, 0, len(v))
	var prev uint64
	for len(v) > 0 {
		d, n := binary.Uvarint(v)
		if n <= 0 || d == 0 || prev+d < prev {
			return nil, fmt.Errorf("corrupt index posting %x", key)
		}
		prev += d
		ids = append(ids, prev)
		v = v[n:]
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("empty index posting %x", key)
	}
	return ids, nil
}

// postingRef names one posting of one index.
type postingRef struct {
	ix  *index
	key string
}

// postingCache gathers the entries one write transaction adds and removes, posting by
// posting, until flush reads each touched posting once and writes it once. Like the
// count cache, the stored postings lag behind until flush: read indexes before writing
// in a transaction, as every write path here does.
type postingCache struct {
	tx *bolt.Tx
	// The changes in order (id<<1, | 1 to add) by index and posting key: keyed by the
	// key's string, a change to a posting already touched allocates nothing (a batch's
	// requests share most of their postings).
	m   map[*index]map[string]*[]uint64
	key []byte // scratch for the key of the next change
	// newest is the inverted time of the newest index entry stored when flush began (nil:
	// none). A posting of a newer time (the transaction's own) cannot exist yet, so
	// flush does not look for it: an ingest batch's postings cost a write each, no read.
	newest []byte
}

// newestEntryTime is the inverted time of the newest index entry. Every index entry is
// under its request's update or create time, and every request has one entry in
// post_all (update time) and one in post_created (create time): the newer of their
// first keys bounds them all, even if the clock once stepped back between a request's
// creation and its update.
func newestEntryTime(tx *bolt.Tx) []byte {
	var newest []byte
	for _, ix := range []*index{idxAll, idxCreated} {
		k, _ := tx.Bucket(ix.bucket).Cursor().First()
		if len(k) >= 8 && (newest == nil || bytes.Compare(k[:8], newest) < 0) {
			newest = k[:8]
		}
	}
	return bytes.Clone(newest)
}

func newPostingCache(tx *bolt.Tx) *postingCache {
	return &postingCache{tx: tx, m: make(map[*index]map[string]*[]uint64)}
}

// change adds (or removes) request id to (from) the posting of ix that holds value's
// entry for r.
func (c *postingCache) change(ix *index, value string, r *requestsv1.BorrowingRequest, id uint64, add bool) {
	op := id << 1
	if add {
		op |= 1
	}
	c.key = ix.appendPostingKey(c.key[:0], value, r)
	byKey := c.m[ix]
	if byKey == nil {
		byKey = make(map[string]*[]uint64)
		c.m[ix] = byKey
	}
	if ops := byKey[string(c.key)]; ops != nil {
		*ops = append(*ops, op)
		return
	}
	byKey[string(c.key)] = &[]uint64{op}
}

// flush applies the changes, in key order per index so bbolt walks each tree once,
// deleting postings left empty.
func (c *postingCache) flush() error {
	var refs []postingRef
	for ix, byKey := range c.m {
		for k := range byKey {
			refs = append(refs, postingRef{ix, k})
		}
	}
	slices.SortFunc(refs, func(a, b postingRef) int {
		if a.ix != b.ix {
			return cmp.Compare(a.ix.id, b.ix.id)
		}
		return cmp.Compare(a.key, b.key)
	})
	c.newest = newestEntryTime(c.tx)
	var buf []byte
	for _, ref := range refs {
		b, key, v := c.locate(ref)
		var ids []uint64
		if v != nil {
			var err error
			if ids, err = decodePosting(key, v); err != nil {
				return fmt.Errorf("index %s: %w", ref.ix.name, err)
			}
		}
		for _, op := range *c.m[ref.ix][ref.key] {
			id := op >> 1
			i, found := slices.BinarySearch(ids, id)
			switch {
			case op&1 == 1 && !found:
				ids = slices.Insert(ids, i, id)
			case op&1 == 0 && found:
				ids = slices.Delete(ids, i, i+1)
			}
		}
		var err error
		if len(ids) == 0 {
			err = b.Delete(key)
		} else {
			buf = appendPosting(buf[:0], ids)
			err = b.Put(key, bytes.Clone(buf))
		}
		if err != nil {
			return err
		}
	}
	clear(c.m)
	return nil
}

// locate finds the stored posting ref names: its bucket, key and value (nil when it does
// not exist yet, in the bucket a new one goes to). A word posting is in post_word,
// word_mid or word_recent, and a new one goes to word_recent (recentwords.go).
func (c *postingCache) locate(ref postingRef) (*bolt.Bucket, []byte, []byte) {
	b, key := c.tx.Bucket(ref.ix.bucket), []byte(ref.key)
	fresh := c.newest == nil || bytes.Compare(key[len(key)-8:], c.newest) < 0
	if ref.ix != idxWord {
		if fresh {
			return b, key, nil
		}
		return b, key, b.Get(key)
	}
	recent := c.tx.Bucket(bucketRecentWords)
	rk := recentKey(key)
	if fresh {
		return recent, rk, nil
	}
	for _, b := range []*bolt.Bucket{b, c.tx.Bucket(bucketMidWords)} {
		if v := b.Get(key); v != nil {
			return b, key, v
		}
	}
	return recent, rk, recent.Get(rk)
}

// entryCursor walks index entries (posting key + id) as bolt.Cursor walks keys.
type entryCursor interface {
	Seek(k []byte) []byte // the first entry >= k
	Next() []byte
	Prev() []byte
	Last() []byte
	Err() error // a damaged posting met on the way (the walk then ends)
}

// postingCursor is an entryCursor over an index's postings.
type postingCursor struct {
	c   kvCursor
	key []byte // the current posting's key; nil when off the end
	ids []uint64
	i   int
	err error
}

func newPostingCursor(tx *bolt.Tx, ix *index) *postingCursor {
	return &postingCursor{c: tx.Bucket(ix.bucket).Cursor()}
}

func (p *postingCursor) Err() error { return p.err }

// at positions p on posting k (value v), at its first entry or, with last, its last one.
func (p *postingCursor) at(k, v []byte, last bool) []byte {
	p.key = nil
	if k == nil || p.err != nil {
		return nil
	}
	ids, err := decodePosting(k, v)
	if err != nil {
		p.err = err
		return nil
	}
	p.key, p.ids, p.i = k, ids, 0
	if last {
		p.i = len(ids) - 1
	}
	return p.entry()
}

func (p *postingCursor) entry() []byte {
	e := make([]byte, 0, len(p.key)+8)
	return binary.BigEndian.AppendUint64(append(e, p.key...), p.ids[p.i])
}

func (p *postingCursor) Next() []byte {
	if p.key == nil {
		return nil
	}
	if p.i+1 < len(p.ids) {
		p.i++
		return p.entry()
	}
	k, v := p.c.Next()
	return p.at(k, v, false)
}

func (p *postingCursor) Prev() []byte {
	if p.key == nil {
		return nil
	}
	if p.i > 0 {
		p.i--
		return p.entry()
	}
	k, v := p.c.Prev()
	return p.at(k, v, true)
}

func (p *postingCursor) Last() []byte {
	k, v := p.c.Last()
	return p.at(k, v, true)
}

func (p *postingCursor) Seek(t []byte) []byte {
	// Postings at or after t hold only entries >= t; the one before them may hold some
	// too, when its key starts t.
	k, _ := p.c.Seek(t)
	var pk, pv []byte
	if k == nil {
		pk, pv = p.c.Last()
	} else {
		pk, pv = p.c.Prev()
	}
	if pk != nil && len(t) > len(pk) && bytes.HasPrefix(t, pk) {
		if p.at(pk, pv, false) == nil {
			return nil
		}
		for ; p.i < len(p.ids); p.i++ {
			if e := p.entry(); bytes.Compare(e, t) >= 0 {
				return e
			}
		}
		k, v := p.c.Next()
		return p.at(k, v, false)
	}
	k, v := p.c.Seek(t)
	return p.at(k, v, false)
}

// sliceCursor is an entryCursor over entries built in memory, sorted.
type sliceCursor struct {
	keys [][]byte
	i    int // len(keys) or -1: off the end
}

func (s *sliceCursor) cur() []byte {
	if s.i < 0 || s.i >= len(s.keys) {
		return nil
	}
	return s.keys[s.i]
}

func (s *sliceCursor) Seek(k []byte) []byte {
	s.i, _ = slices.BinarySearchFunc(s.keys, k, bytes.Compare)
	return s.cur()
}

func (s *sliceCursor) Next() []byte {
	if s.i >= 0 && s.i < len(s.keys) {
		s.i++
	}
	return s.cur()
}

func (s *sliceCursor) Prev() []byte {
	if s.i >= 0 && s.i < len(s.keys) {
		s.i--
	} else {
		s.i = -1
	}
	return s.cur()
}

func (s *sliceCursor) Last() []byte { s.i = len(s.keys) - 1; return s.cur() }
func (s *sliceCursor) Err() error   { return nil }
