package boltdb

import bolt "go.etcd.io/bbolt"

// CreateRequests remembers which record each idempotent create made (AIP-155 request_id),
// in two buckets the service declares in its Schema: ByRequest (scope 0x00 request_id →
// record key) and its inverse ByRecord (scope 0x00 record key → request_id). Forgetting
// on delete keeps them exact: a retry after the record is gone is a new request, and a
// code deleted and taken again by another create is never handed to the first request.
// Scope (a collection ID without 0x00) keeps collections apart. Call the methods inside
// the transaction that writes the record.
type CreateRequests struct {
	ByRequest, ByRecord []byte
}

// Lookup returns the key of the record requestID created, or nil.
func (r CreateRequests) Lookup(tx *bolt.Tx, scope, requestID string) []byte {
	return Copy(tx.Bucket(r.ByRequest).Get(scoped(scope, []byte(requestID))))
}

// Remember records that requestID created the record under key.
func (r CreateRequests) Remember(tx *bolt.Tx, scope, requestID string, key []byte) error {
	if err := tx.Bucket(r.ByRequest).Put(scoped(scope, []byte(requestID)), key); err != nil {
		return err
	}
	return tx.Bucket(r.ByRecord).Put(scoped(scope, key), []byte(requestID))
}

// Forget drops the request entries of the record under key, if a request created it.
func (r CreateRequests) Forget(tx *bolt.Tx, scope string, key []byte) error {
	byRecord := tx.Bucket(r.ByRecord)
	rk := scoped(scope, key)
	requestID := byRecord.Get(rk)
	if requestID == nil {
		return nil
	}
	if err := tx.Bucket(r.ByRequest).Delete(scoped(scope, requestID)); err != nil {
		return err
	}
	return byRecord.Delete(rk)
}

func scoped(scope string, s []byte) []byte {
	return append(append([]byte(scope), 0), s...)
}
