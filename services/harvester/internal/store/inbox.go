package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interloan/interloan/platform/boltdb"
)

// MaxInbox is how many pushed messages one profile's inbox holds before new ones are
// refused: a bound on what a sender (or an attacker who learnt the receipt password) can
// make the harvester store while its runs are failing.
const MaxInbox = 10000

// InboxKeyRetention is how long the key of a pushed message is remembered after it was
// received: a message sent again with the same key within it is not stored again.
const InboxKeyRetention = 30 * 24 * time.Hour

// maxInboxKeys bounds the keys remembered for one profile; at the bound new keyed
// messages are refused as ErrInboxFull until older keys expire.
const maxInboxKeys = 10 * MaxInbox

// ErrInboxFull is returned by PutInbox when the profile's inbox is at its bound.
var ErrInboxFull = errors.New("inbox full")

// ErrInboxDuplicate is returned by PutInbox for a message whose key was taken before
// (within InboxKeyRetention): the message is already stored or was already handled.
var ErrInboxDuplicate = errors.New("inbox: a message with this key was received before")

// InboxItem is one message an external system pushed for a profile (a Netpunkt
// OrderReceipt), kept until a run of the profile has ingested it or recorded why not.
type InboxItem struct {
	Seq        uint64 `json:"-"`
	ExternalID string `json:"external_id"`
	// Key identifies the message itself (a Netpunkt orderReceiptUuid); empty: none.
	Key      string    `json:"key,omitempty"`
	Received time.Time `json:"received"`
	// Message is the system's own encoding of the order, without credentials; the
	// profile's connector decodes it.
	Message []byte `json:"message"`
}

// PutInbox stores item durably (the transaction is fsynced before it returns) under the
// next sequence number and returns that number. An item with a Key taken by an earlier
// item of the profile is not stored: ErrInboxDuplicate. Keys are remembered for
// InboxKeyRetention after item.Received, whether or not a run has drained their item.
func (s *Store) PutInbox(profile string, item InboxItem) (uint64, error) {
	if profile == "" || bytes.IndexByte([]byte(profile), 0) >= 0 {
		return 0, fmt.Errorf("inbox: invalid profile code %q", profile)
	}
	v, err := json.Marshal(item)
	if err != nil {
		return 0, err
	}
	var seq uint64
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInbox)
		prefix := profilePrefix(profile)
		// A duplicate is one whatever the inbox holds; a refusal below rolls the key back.
		if item.Key != "" {
			if err := takeInboxKey(tx.Bucket(bucketInboxKeys), prefix, item.Key, item.Received); err != nil {
				return err
			}
		}
		n := 0
		c := b.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if n++; n >= s.inboxLimit {
				return ErrInboxFull
			}
		}
		seq, err = b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(append(prefix, boltdb.Uint64Key(seq)...), v)
	})
	return seq, err
}

// takeInboxKey records key for the profile of prefix at received, or returns
// ErrInboxDuplicate when it is recorded already. Keys older than InboxKeyRetention are
// forgotten on the way.
func takeInboxKey(b *bolt.Bucket, prefix []byte, key string, received time.Time) error {
	k := append(append([]byte{}, prefix...), key...)
	expired := received.Add(-InboxKeyRetention).UnixNano()
	if v := b.Get(k); v != nil && (len(v) != 8 || int64(decodeUint64(v)) >= expired) {
		return ErrInboxDuplicate
	}
	var stale [][]byte
	n := 0
	c := b.Cursor()
	for ck, v := c.Seek(prefix); ck != nil && bytes.HasPrefix(ck, prefix); ck, v = c.Next() {
		if len(v) == 8 && int64(decodeUint64(v)) < expired {
			stale = append(stale, append([]byte{}, ck...))
			continue
		}
		n++
	}
	for _, sk := range stale {
		if err := b.Delete(sk); err != nil {
			return err
		}
	}
	if n >= maxInboxKeys {
		return ErrInboxFull
	}
	return b.Put(k, boltdb.Uint64Key(uint64(received.UnixNano())))
}

// Inbox returns up to limit of the profile's messages after sequence number after, oldest
// first.
func (s *Store) Inbox(profile string, after uint64, limit int) ([]InboxItem, error) {
	var out []InboxItem
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := profilePrefix(profile)
		c := tx.Bucket(bucketInbox).Cursor()
		for k, v := c.Seek(append(prefix, boltdb.Uint64Key(after+1)...)); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Next() {
			var it InboxItem
			if err := json.Unmarshal(v, &it); err != nil {
				return fmt.Errorf("inbox of %s: decode message: %w", profile, err)
			}
			it.Seq = decodeUint64(k[len(prefix):])
			out = append(out, it)
		}
		return nil
	})
	return out, err
}

// DeleteInbox removes the profile's messages with the given sequence numbers, once a run
// has handled them; unknown numbers are ignored.
func (s *Store) DeleteInbox(profile string, seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInbox)
		for _, seq := range seqs {
			if err := b.Delete(append(profilePrefix(profile), boltdb.Uint64Key(seq)...)); err != nil {
				return err
			}
		}
		return nil
	})
}
