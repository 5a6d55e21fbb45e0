package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Search words are the one index whose values are spread over the whole key space: an
// import batch of 1000 requests brings some 3 500 distinct words, and their postings in
// post_word (word + 0x00 + inverted time) would land on as many pages, scattered over a
// tree that grows with the ledger: each commit would rewrite and fsync thousands of
// pages for a few bytes each. So new word postings go to word_recent first, keyed time
// first (inverted time + word), where one transaction's postings sit side by side on a
// few pages. When word_recent holds more than maxRecentTimes transactions' postings,
// mergeRecentWords moves them all in one pass, in key order, so each page they land on
// is written once per merge instead of once per batch.
//
// They land in word_mid, keyed as post_word, while it stays small beside post_word, and
// in post_word (word_mid's postings with them) once word_mid would hold more than a
// midShare-th of post_word's postings. A merge writes most of the pages of the tree it
// merges into, so merging into post_word costs in proportion to the ledger's size (a
// ledger of 1 100 000: some 2 s a merge); word_mid keeps that cost in proportion to what
// it holds, and post_word takes a merge only once per midShare-th of its size in new
// postings: the levels of a log-structured merge tree, three of them.
//
// Every word posting is in exactly one of the three buckets: a change to a posting is
// made where it is (post_word, word_mid, word_recent: locate), and a new one is made in
// word_recent. Reading a word merges the three (wordCursor).

// maxRecentTimes bounds the transactions whose word postings word_recent holds after an
// ingest batch: a word lookup costs a seek per transaction there, and a merge rewrites
// the touched pages of word_mid or post_word.
// Ingest pays for the merges; other writes (staff actions, flags, anonymization) merge
// only beyond maxRecentTimesAny, so a librarian's click waits for a merge only when no
// import has written for that many transactions, and reads stay bounded meanwhile.
// midShare: word_mid is merged into post_word when it would hold more than
// 1/midShare of post_word's postings.
const (
	maxRecentTimes    = 64
	maxRecentTimesAny = 256
	mergeAll          = -1 // mergeRecentWords' above: whatever word_recent and word_mid hold, into post_word
	midShare          = 4
)

var (
	bucketRecentWords = []byte("word_recent")
	bucketMidWords    = []byte("word_mid")
)

// recentKey is the word_recent key of post_word key k (word + 0x00 + inverted time).
func recentKey(k []byte) []byte {
	word, t := k[:len(k)-9], k[len(k)-8:]
	return append(append(make([]byte, 0, len(k)-1), t...), word...)
}

// wordKey is the post_word key of word_recent key k (inverted time + word).
func wordKey(k []byte) []byte {
	t, word := k[:8], k[8:]
	return append(append(append(make([]byte, 0, len(k)+1), word...), 0), t...)
}

// recentTimes lists the inverted times word_recent holds postings of, newest first, up
// to limit+1 of them (all when limit < 0): one seek each.
func recentTimes(tx *bolt.Tx, limit int) [][]byte {
	var times [][]byte
	c := tx.Bucket(bucketRecentWords).Cursor()
	for k, _ := c.First(); k != nil && len(k) >= 8 && (limit < 0 || len(times) <= limit); {
		t := k[:8]
		times = append(times, t)
		next := binary.BigEndian.Uint64(t) + 1
		if next == 0 {
			break
		}
		k, _ = c.Seek(binary.BigEndian.AppendUint64(nil, next))
	}
	return times
}

// mergeRecentWords moves word_recent's postings into word_mid or post_word (see above)
// when they span more than above transactions; with above negative, it moves all of
// word_recent's and word_mid's postings into post_word.
func mergeRecentWords(tx *bolt.Tx, above int) error {
	if above >= 0 && len(recentTimes(tx, above)) <= above {
		return nil
	}
	var moved []posting
	err := tx.Bucket(bucketRecentWords).ForEach(func(k, v []byte) error {
		if len(k) < 9 {
			return fmt.Errorf("corrupt recent word posting %x", k)
		}
		moved = append(moved, posting{wordKey(k), bytes.Clone(v)})
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(moved, func(a, b posting) int { return bytes.Compare(a.k, b.k) })
	mid, words := tx.Bucket(bucketMidWords), tx.Bucket(idxWord.bucket)
	// Stats counts the postings as committed, reading every page's header: some 40 ms
	// on a ledger of a million requests, once per merge (against seconds for the merge).
	if above >= 0 && (mid.Stats().KeyN+len(moved))*midShare <= words.Stats().KeyN {
		for _, p := range moved {
			if err := mid.Put(p.k, p.v); err != nil {
				return err
			}
		}
	} else {
		if err := mergeInto(words, mid.Cursor(), moved); err != nil {
			return err
		}
		if err := recreateBucket(tx, bucketMidWords); err != nil {
			return err
		}
	}
	return recreateBucket(tx, bucketRecentWords)
}

// mergeInto puts into b the postings c walks and those of moved (sorted, keys distinct
// from c's) in one key order: a merge of two sorted walks, so c's postings need no
// sorting and no copy of them all at once.
func mergeInto(b *bolt.Bucket, c *bolt.Cursor, moved []posting) error {
	k, v := c.First()
	for i := 0; k != nil || i < len(moved); {
		if k != nil && (i == len(moved) || bytes.Compare(k, moved[i].k) < 0) {
			if err := b.Put(bytes.Clone(k), bytes.Clone(v)); err != nil {
				return err
			}
			k, v = c.Next()
			continue
		}
		if err := b.Put(moved[i].k, moved[i].v); err != nil {
			return err
		}
		i++
	}
	return nil
}

type posting struct{ k, v []byte }

// recreateBucket empties bucket name: dropping it frees its pages at once, where
// deleting key by key would rewrite them.
func recreateBucket(tx *bolt.Tx, name []byte) error {
	if err := tx.DeleteBucket(name); err != nil {
		return err
	}
	_, err := tx.CreateBucket(name)
	return err
}

// recentPostings are word's postings in word_recent, as post_word would hold them: keys
// word + 0x00 + inverted time, ascending.
func recentPostings(tx *bolt.Tx, word string) *memKV {
	b := tx.Bucket(bucketRecentWords)
	m := &memKV{i: -1}
	for _, t := range recentTimes(tx, -1) {
		k := append(append(make([]byte, 0, 8+len(word)), t...), word...)
		if v := b.Get(k); v != nil {
			m.kv = append(m.kv, [2][]byte{wordKey(k), v})
		}
	}
	return m
}

// wordCursor walks word's postings in the three buckets, in key order.
func wordCursor(tx *bolt.Tx, word string) *postingCursor {
	var c kvCursor = tx.Bucket(idxWord.bucket).Cursor()
	mid := tx.Bucket(bucketMidWords).Cursor()
	prefix := idxWord.prefix(word)
	if k, _ := mid.Seek(prefix); bytes.HasPrefix(k, prefix) {
		c = &mergedKV{a: c, b: mid}
	}
	if recent := recentPostings(tx, word); len(recent.kv) > 0 {
		c = &mergedKV{a: c, b: recent}
	}
	return &postingCursor{c: c}
}

// kvCursor is what postingCursor needs of a cursor: bolt.Cursor's walk.
type kvCursor interface {
	First() ([]byte, []byte)
	Last() ([]byte, []byte)
	Seek(k []byte) ([]byte, []byte)
	Next() ([]byte, []byte)
	Prev() ([]byte, []byte)
}

// memKV is a kvCursor over sorted pairs in memory.
type memKV struct {
	kv [][2][]byte
	i  int // -1 or len(kv): off an end
}

func (m *memKV) at() ([]byte, []byte) {
	if m.i < 0 || m.i >= len(m.kv) {
		return nil, nil
	}
	return m.kv[m.i][0], m.kv[m.i][1]
}

func (m *memKV) First() ([]byte, []byte) { m.i = 0; return m.at() }
func (m *memKV) Last() ([]byte, []byte)  { m.i = len(m.kv) - 1; return m.at() }
func (m *memKV) Seek(k []byte) ([]byte, []byte) {
	m.i, _ = slices.BinarySearchFunc(m.kv, k, func(p [2][]byte, k []byte) int { return bytes.Compare(p[0], k) })
	return m.at()
}
func (m *memKV) Next() ([]byte, []byte) {
	if m.i < len(m.kv) {
		m.i++
	}
	return m.at()
}
func (m *memKV) Prev() ([]byte, []byte) {
	if m.i >= 0 {
		m.i--
	}
	return m.at()
}

// mergedKV walks two kvCursors with distinct keys as one. Moving forward, both stand at
// their first key >= the current one (the current one's own cursor on it); moving
// backward, at their last key <= it. Turning round moves them to the current key again.
type mergedKV struct {
	a, b     kvCursor
	ak, av   []byte
	bk, bv   []byte
	cur      []byte
	backward bool
}

func (m *mergedKV) pick() ([]byte, []byte) {
	switch {
	case m.ak == nil && m.bk == nil:
		m.cur = nil
		return nil, nil
	case m.bk == nil, m.ak != nil && (bytes.Compare(m.ak, m.bk) < 0) != m.backward:
		m.cur = m.ak
		return m.ak, m.av
	default:
		m.cur = m.bk
		return m.bk, m.bv
	}
}

func (m *mergedKV) First() ([]byte, []byte) {
	m.ak, m.av = m.a.First()
	m.bk, m.bv = m.b.First()
	m.backward = false
	return m.pick()
}

func (m *mergedKV) Last() ([]byte, []byte) {
	m.ak, m.av = m.a.Last()
	m.bk, m.bv = m.b.Last()
	m.backward = true
	return m.pick()
}

func (m *mergedKV) Seek(k []byte) ([]byte, []byte) {
	m.ak, m.av = m.a.Seek(k)
	m.bk, m.bv = m.b.Seek(k)
	m.backward = false
	return m.pick()
}

func (m *mergedKV) Next() ([]byte, []byte) {
	if m.cur == nil {
		return nil, nil
	}
	if m.backward {
		cur := m.cur
		m.Seek(cur) // both at their first key >= cur; one of them on it
	}
	if bytes.Equal(m.ak, m.cur) {
		m.ak, m.av = m.a.Next()
	} else {
		m.bk, m.bv = m.b.Next()
	}
	return m.pick()
}

func (m *mergedKV) Prev() ([]byte, []byte) {
	if m.cur == nil {
		return nil, nil
	}
	if !m.backward {
		cur := m.cur
		m.ak, m.av = lastAtMost(m.a, cur)
		m.bk, m.bv = lastAtMost(m.b, cur)
		m.backward = true
	}
	if bytes.Equal(m.ak, m.cur) {
		m.ak, m.av = m.a.Prev()
	} else {
		m.bk, m.bv = m.b.Prev()
	}
	return m.pick()
}

// lastAtMost positions c at its last key <= k.
func lastAtMost(c kvCursor, k []byte) ([]byte, []byte) {
	ck, cv := c.Seek(k)
	switch {
	case ck == nil:
		return c.Last()
	case bytes.Equal(ck, k):
		return ck, cv
	default:
		return c.Prev()
	}
}
