package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/boltdb"
)

// legacyChunk bounds the entries one transaction of WriteSchema3 writes, so a large
// ledger is rewritten without holding all of it in memory.
const legacyChunk = 200_000

// WriteSchema3 rewrites the closed ledger file at path in schema 3's layout: every index
// entry a key of its own in an idx_* bucket, the external-id index filled from the
// records, search words counted, the postings gone and the file marked schema 3. Opening it again migrates it.
// It exists to measure the migration on a large ledger (storebench) and is no part of
// serving.
func WriteSchema3(path string) error {
	s, err := Open(path, Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	// Schema 3 kept every word posting in one place.
	if err := s.db.Update(func(tx *bolt.Tx) error { return mergeRecentWords(tx, mergeAll) }); err != nil {
		return err
	}
	// Schema 3 counted search words, as schema 4 did; schema 5 does not.
	wordCounts := map[string]uint64{}
	for _, ix := range indexes {
		if !ix.entries {
			continue
		}
		if err := s.db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(legacyBucket(ix))
			return err
		}); err != nil {
			return err
		}
		// One chunk of postings per transaction, resuming after the last posting written.
		var after []byte
		for done := false; !done; {
			err := s.db.Update(func(tx *bolt.Tx) error {
				c := tx.Bucket(ix.bucket).Cursor()
				legacy := tx.Bucket(legacyBucket(ix))
				k, v := c.First()
				if after != nil {
					if k, v = c.Seek(after); k != nil && string(k) == string(after) {
						k, v = c.Next()
					}
				}
				n := 0
				for ; k != nil && n < legacyChunk; k, v = c.Next() {
					ids, err := decodePosting(k, v)
					if err != nil {
						return err
					}
					for _, id := range ids {
						if err := legacy.Put(binary.BigEndian.AppendUint64(append([]byte(nil), k...), id), []byte{}); err != nil {
							return err
						}
					}
					if ix == idxWord {
						wordCounts[string(k[:len(k)-9])] += uint64(len(ids))
					}
					n += len(ids)
					after = append(after[:0], k...)
				}
				done = k == nil
				return nil
			})
			if err != nil {
				return fmt.Errorf("index %s: %w", ix.name, err)
			}
		}
	}
	// The external-id index, from the records.
	var next uint64 = 1
	for done := false; !done; {
		err := s.db.Update(func(tx *bolt.Tx) error {
			legacy, err := tx.CreateBucketIfNotExists(idxExternalID.name)
			if err != nil {
				return err
			}
			c := tx.Bucket(bucketRequests).Cursor()
			// Put in key order: random inserts into the bucket's few nodes would move
			// their tails on each insert until commit splits them (quadratic).
			var keys [][]byte
			k, v := c.Seek(boltdb.Uint64Key(next))
			for ; k != nil && len(keys) < legacyChunk; k, v = c.Next() {
				id, err := idOf(k)
				if err != nil {
					return err
				}
				r := &requestsv1.BorrowingRequest{}
				if err := proto.Unmarshal(v, r); err != nil {
					return err
				}
				keys = append(keys, idxExternalID.key(r.GetExternalReference().GetExternalId(), r, id))
				next = id + 1
			}
			done = k == nil
			slices.SortFunc(keys, bytes.Compare)
			for _, key := range keys {
				if err := legacy.Put(key, []byte{}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("index %s: %w", idxExternalID.name, err)
		}
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		counts := tx.Bucket(bucketCounts)
		for _, w := range slices.Sorted(maps.Keys(wordCounts)) { // in key order, as above
			if err := counts.Put(idxWord.countKey(w), boltdb.Uint64Key(wordCounts[w])); err != nil {
				return err
			}
		}
		for _, ix := range indexes {
			if ix.entries {
				if err := tx.DeleteBucket(ix.bucket); err != nil {
					return err
				}
			}
		}
		for _, b := range [][]byte{bucketRecentWords, bucketMidWords} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put([]byte("schema_version"), binary.BigEndian.AppendUint32(nil, 3))
	})
}
