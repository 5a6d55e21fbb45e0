package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	"github.com/interloan/interloan/platform/boltdb"
	"github.com/interloan/interloan/platform/resource"
)

// ParkedCollection is the collection of a profile's parked items.
const ParkedCollection = "parkedItems"

// profilesID is the collection of profiles, the parent of parked items.
var profilesID = resource.Collection((*harvesterv1.ParkedItem)(nil))

// ParkedName is `integrationProfiles/{profile}/parkedItems/{external_id}`.
func ParkedName(profile, externalID string) string {
	return resource.Name(resource.Name(profilesID, profile), resource.Name(ParkedCollection, externalID))
}

func parkedTimeKey(profile string, p *harvesterv1.ParkedItem) []byte {
	k := append(profilePrefix(profile), boltdb.Uint64Key(uint64(p.GetParkTime().AsTime().UnixNano()))...)
	return append(k, p.GetExternalId()...)
}

// getParked returns the profile's parked item of externalID, nil when it is not parked.
func getParked(tx *bolt.Tx, profile, externalID string) (*harvesterv1.ParkedItem, error) {
	v := tx.Bucket(bucketParked).Get(retryKey(profile, externalID))
	if v == nil {
		return nil, nil
	}
	p := &harvesterv1.ParkedItem{}
	if err := proto.Unmarshal(v, p); err != nil {
		return nil, fmt.Errorf("decode parked item %s of %s: %w", externalID, profile, err)
	}
	return p, nil
}

// putParked stores p and its place in the park-time order, which never changes once
// parked.
func putParked(tx *bolt.Tx, profile string, p *harvesterv1.ParkedItem) error {
	v, err := proto.Marshal(p)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketParked).Put(retryKey(profile, p.GetExternalId()), v); err != nil {
		return err
	}
	return tx.Bucket(bucketParkedByTime).Put(parkedTimeKey(profile, p), nil)
}

// deleteParked removes externalID from the profile's parked list, if it is there.
func deleteParked(tx *bolt.Tx, profile, externalID string) error {
	p, err := getParked(tx, profile, externalID)
	if err != nil || p == nil {
		return err
	}
	if err := tx.Bucket(bucketParkedByTime).Delete(parkedTimeKey(profile, p)); err != nil {
		return err
	}
	return tx.Bucket(bucketParked).Delete(retryKey(profile, externalID))
}

// ListParked returns up to limit of the profile's parked items, longest parked first,
// after the key `after` (nil: from the first), and the key to resume after when more may
// follow.
func (s *Store) ListParked(profile string, after []byte, limit int) (items []*harvesterv1.ParkedItem, next []byte, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		prefix := profilePrefix(profile)
		parked := tx.Bucket(bucketParked)
		last, more, err := boltdb.PageBounded(tx.Bucket(bucketParkedByTime).Cursor(), prefix, after, limit, MaxScan(limit), func(k, _ []byte) (bool, error) {
			if len(k) < len(prefix)+8 {
				return false, nil
			}
			v := parked.Get(append(boltdb.Copy(prefix), k[len(prefix)+8:]...))
			if v == nil {
				return false, nil
			}
			p := &harvesterv1.ParkedItem{}
			if err := proto.Unmarshal(v, p); err != nil {
				return false, err
			}
			items = append(items, p)
			return true, nil
		})
		if more {
			next = last
		}
		return err
	})
	return items, next, err
}

// ParkedIDs returns the external ids of the profile's parked items.
func (s *Store) ParkedIDs(profile string) (map[string]bool, error) {
	return s.ids(bucketParked, profile)
}

// GoneIDs returns the external ids the external system no longer knows (Batch.Gone).
func (s *Store) GoneIDs(profile string) (map[string]bool, error) {
	return s.ids(bucketGone, profile)
}

func (s *Store) ids(bucket []byte, profile string) (map[string]bool, error) {
	out := map[string]bool{}
	err := s.eachID(bucket, profile, func(id []byte) { out[string(id)] = true })
	return out, err
}

// eachID calls visit with each external id the profile has in bucket.
func (s *Store) eachID(bucket []byte, profile string, visit func(id []byte)) error {
	prefix := profilePrefix(profile)
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			visit(k[len(prefix):])
		}
		return nil
	})
}

// RetryParked moves a parked item back into the profile's retry set with its attempts
// reset and first in line, so the next run fetches it, and returns the item as it was
// parked. An item that is not parked is ErrNotFound.
func (s *Store) RetryParked(profile, externalID string) (*harvesterv1.ParkedItem, error) {
	var out *harvesterv1.ParkedItem
	err := s.db.Update(func(tx *bolt.Tx) error {
		p, err := getParked(tx, profile, externalID)
		if err != nil {
			return err
		}
		if p == nil {
			return ErrNotFound
		}
		if err := deleteParked(tx, profile, externalID); err != nil {
			return err
		}
		v, err := json.Marshal(retryValue{Reason: p.GetReasonCode(), FirstTried: p.GetFirstFailureTime().AsTime().UnixNano()})
		if err != nil {
			return err
		}
		out = p
		return tx.Bucket(bucketRetry).Put(retryKey(profile, externalID), v)
	})
	return out, err
}

// ParkedCount returns how many requests the profile has parked. Every run ends with it,
// so it counts keys rather than building ParkedIDs' set.
func (s *Store) ParkedCount(profile string) (int, error) {
	n := 0
	err := s.eachID(bucketParked, profile, func([]byte) { n++ })
	return n, err
}
