package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/boltdb"
)

// maxIndexID bounds the index ids (index.id); indexValues has a slot per id.
const maxIndexID = 15

// indexValues are the values one request is indexed and counted under, by index id. They
// are stored beside the request (index_values) when it is written, so the next write
// removes exactly the entries and counts this one made, whatever the code computing
// values does by then.
type indexValues [maxIndexID + 1][]string

// valuesOf computes r's values for every index with today's code.
func valuesOf(r *requestsv1.BorrowingRequest) indexValues { return valuesWithWords(r, nil) }

// valuesWithWords is valuesOf with r's search words given, unless words is nil.
func valuesWithWords(r *requestsv1.BorrowingRequest, words []string) indexValues {
	var out indexValues
	for _, ix := range indexes {
		if ix == idxWord && words != nil {
			out[ix.id] = words
			continue
		}
		out[ix.id] = ix.values(r)
	}
	return out
}

// encode: for each index with values, its id (1 byte), the number of values (uvarint),
// then each value as its length (uvarint) and bytes. Indexes without values are left out.
func (v *indexValues) encode() []byte {
	n := 0
	for _, vals := range v {
		if vals != nil {
			n += 2
			for _, s := range vals {
				n += 2 + len(s)
			}
		}
	}
	b := make([]byte, 0, n)
	for id, vals := range v {
		if vals == nil {
			continue
		}
		b = append(b, byte(id))
		b = binary.AppendUvarint(b, uint64(len(vals)))
		for _, s := range vals {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

// knownIndex marks the ids of today's indexes, retiredIndex those of indexes whose
// entries a migration removed.
var knownIndex, retiredIndex = func() (known, retired [maxIndexID + 1]bool) {
	for _, ix := range indexes {
		known[ix.id] = true
	}
	for _, ix := range retiredIndexes {
		retired[ix.id] = true
	}
	return known, retired
}()

// decodeValues reads what encode wrote. The values of a retired index are skipped (the
// migration that retired it removed its entries). Anything malformed, or an index id
// today's code does not know, is an error: guessing would leave entries behind.
func decodeValues(b []byte) (indexValues, error) {
	var out indexValues
	for len(b) > 0 {
		id := b[0]
		b = b[1:]
		if int(id) > maxIndexID || !(knownIndex[id] || retiredIndex[id]) || out[id] != nil {
			return out, fmt.Errorf("corrupt index values: index id %d unknown or repeated", id)
		}
		count, n := binary.Uvarint(b)
		if n <= 0 || count > uint64(len(b)) {
			return out, fmt.Errorf("corrupt index values of index %d", id)
		}
		b = b[n:]
		vals := make([]string, 0, count)
		for range count {
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return out, fmt.Errorf("corrupt index values of index %d", id)
			}
			vals = append(vals, string(b[n:n+int(l)]))
			b = b[n+int(l):]
		}
		if knownIndex[id] {
			out[id] = vals
		}
	}
	return out, nil
}

// loadValues reads the values request id was last written under. A stored request
// without them is a damaged file: its entries could not be removed.
func loadValues(tx *bolt.Tx, id uint64) (indexValues, error) {
	v := tx.Bucket(bucketIndexValues).Get(boltdb.Uint64Key(id))
	if v == nil {
		return indexValues{}, fmt.Errorf("borrowing request %d has no stored index values", id)
	}
	out, err := decodeValues(v)
	if err != nil {
		return out, fmt.Errorf("borrowing request %d: %w", id, err)
	}
	return out, nil
}

func putValues(tx *bolt.Tx, id uint64, v indexValues) error {
	return tx.Bucket(bucketIndexValues).Put(boltdb.Uint64Key(id), v.encode())
}
