package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/boltdb"
)

// migrate upgrades an older file (schema 1 to 5), in Open's transaction.
//
// Schema 6 adds word_mid, which Open creates empty: a schema-5 file needs nothing more.
//
// Schema 4 counted search words in index_counts; the counts go (dropWordCounts).
//
// Schema 3 kept one key per index entry (the entry itself) in an idx_* bucket: each is
// walked in key order and its runs of keys sharing a posting key become one posting, then
// the bucket goes; idx_external_id goes without replacement. Counts and index_values stay
// as they are (the external id's values in index_values are skipped from now on).
//
// Schemas 1 and 2 lack indexes, counts and index_values: every index, count and
// index_values entry is rebuilt from the records, with today's code. external_partner is
// new in schema 3: it starts as the request's partner, i.e. as if the external system
// named it (a send here to another partner before the upgrade is not known as such).
// Filling it leaves update_time and etag alone: no one changed the request.
// external_status stays unset; ingest then compares only the raw status. Requests
// imported before schema 2 have no audit trail before the upgrade.
func migrate(tx *bolt.Tx, from uint32) error {
	switch {
	case from == 5:
		return nil
	case from == 4:
		return dropWordCounts(tx)
	case from == 3:
		if err := migrateEntries(tx); err != nil {
			return err
		}
		return dropWordCounts(tx)
	case from == 1 || from == 2:
		return rebuild(tx)
	}
	return fmt.Errorf("no migration from schema %d", from)
}

// dropWordCounts deletes the counts of search words, which schema 5 no longer keeps.
func dropWordCounts(tx *bolt.Tx) error {
	prefix := idxWord.countKey("")
	b := tx.Bucket(bucketCounts)
	// The keys are gathered a slice at a time and then deleted: a cursor deleting as it
	// goes would have to seek again after each delete, and each seek from the start
	// walks every leaf emptied so far (bbolt rebalances only at commit).
	var keys [][]byte
	for after := prefix; ; {
		keys = keys[:0]
		// The keys up to after are deleted: the seek lands on the first one left.
		c := b.Cursor()
		for k, _ := c.Seek(after); k != nil && bytes.HasPrefix(k, prefix) && len(keys) < dropChunk; k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		if len(keys) == 0 {
			return nil
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		after = keys[len(keys)-1]
	}
}

// dropChunk bounds the keys dropWordCounts holds at once.
const dropChunk = 50_000

// legacyBucket is the bucket of ix's entries before schema 4.
func legacyBucket(ix *index) []byte { return ix.name }

// migrateEntries turns each index's schema-3 entries into postings.
func migrateEntries(tx *bolt.Tx) error {
	for _, ix := range indexes {
		if !ix.entries {
			continue
		}
		old := tx.Bucket(legacyBucket(ix))
		if old == nil {
			return fmt.Errorf("index %s: no entries to migrate", ix.name)
		}
		b := tx.Bucket(ix.bucket)
		// Keys arrive in order, so the postings are appended: pages filled densely.
		b.FillPercent = appendedFill
		var key []byte
		var ids []uint64
		put := func() error {
			if len(ids) == 0 {
				return nil
			}
			err := b.Put(key, appendPosting(nil, ids))
			ids = ids[:0]
			return err
		}
		c := old.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) < 16 {
				return fmt.Errorf("index %s: corrupt entry %x", ix.name, k)
			}
			pk := k[:len(k)-8]
			if !bytes.Equal(pk, key) {
				if err := put(); err != nil {
					return err
				}
				key = bytes.Clone(pk)
			}
			id, err := idOf(k)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		if err := put(); err != nil {
			return err
		}
		if err := tx.DeleteBucket(legacyBucket(ix)); err != nil {
			return err
		}
	}
	if err := tx.DeleteBucket(idxExternalID.name); err != nil {
		return fmt.Errorf("index %s: %w", idxExternalID.name, err)
	}
	return nil
}

// rebuildChunk bounds the requests whose index changes are gathered before they are
// written, so a rebuild of a large ledger holds a chunk's postings, not all of them.
const rebuildChunk = 20000

// rebuild computes every index entry, count and index_values entry from the records,
// replacing whatever older indexes the file holds, and fills external_partner.
func rebuild(tx *bolt.Tx) error {
	for _, ix := range append(indexes, idxExternalID) {
		if tx.Bucket(legacyBucket(ix)) != nil {
			if err := tx.DeleteBucket(legacyBucket(ix)); err != nil {
				return err
			}
		}
	}
	rebuilt := [][]byte{bucketCounts, bucketIndexValues, bucketRecentWords, bucketMidWords}
	for _, ix := range indexes {
		if ix.entries {
			rebuilt = append(rebuilt, ix.bucket)
		}
	}
	for _, name := range rebuilt {
		if err := tx.DeleteBucket(name); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	requests := tx.Bucket(bucketRequests)
	counts, postings := newCountCache(tx), newPostingCache(tx)
	flush := func() error {
		if err := postings.flush(); err != nil {
			return err
		}
		return counts.flush()
	}
	// The walk writes only other buckets; the records get external_partner after it
	// (writing a bucket under its own walk is undefined), read again by id so that only
	// the ids are held, however large the ledger.
	var ids []uint64
	err := requests.ForEach(func(k, v []byte) error {
		id, err := idOf(k)
		if err != nil {
			return err
		}
		r := &requestsv1.BorrowingRequest{}
		if err := proto.Unmarshal(v, r); err != nil {
			return fmt.Errorf("decode borrowing request %d: %w", id, err)
		}
		vals := valuesOf(r)
		for _, ix := range indexes {
			if err := ix.move(postings, counts, id, nil, r, nil, vals[ix.id]); err != nil {
				return err
			}
		}
		ids = append(ids, id)
		if len(ids)%rebuildChunk == 0 {
			if err := flush(); err != nil {
				return err
			}
		}
		return putValues(tx, id, vals)
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	// The word postings went to word_recent, under as many times as the records have.
	if err := mergeRecentWords(tx, mergeAll); err != nil {
		return err
	}
	for _, id := range ids {
		r, err := load(tx, id)
		if err != nil {
			return err
		}
		r.ExternalPartner = r.GetPartner()
		v, err := proto.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode borrowing request %d: %w", id, err)
		}
		if err := requests.Put(boltdb.Uint64Key(id), v); err != nil {
			return err
		}
	}
	return nil
}
