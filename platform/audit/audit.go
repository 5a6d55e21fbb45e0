// Package audit keeps a service's audit trail of administration: who changed which
// resource, how, and when. A store appends the event inside the bbolt transaction that
// makes the change, so a committed change always has exactly one event and a change that
// fails or is refused (its transaction rolled back) has none.
//
// Events record the names of the fields that changed, never their values, so no secret
// can reach the trail; ChangedFields computes those names.
package audit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/boltdb"
	"github.com/interloan/interloan/platform/paging"
	"github.com/interloan/interloan/platform/validate"
)

// The actions an event records.
const (
	Create = typev1.AuditAction_AUDIT_ACTION_CREATE
	Update = typev1.AuditAction_AUDIT_ACTION_UPDATE
	Delete = typev1.AuditAction_AUDIT_ACTION_DELETE
	// Reencrypt: a stored secret was sealed again under a new key, its value unchanged.
	Reencrypt = typev1.AuditAction_AUDIT_ACTION_REENCRYPT
)

// Call is what the API layer knows about a change before the store makes it: who asks,
// through which RPC, and the create's idempotency key if any. The store adds the rest
// (resource, action, fields, time) inside its transaction.
type Call struct {
	Principal string
	Method    string // the RPC's short name, e.g. "CreatePartner"
	RequestID string // AIP-155 request_id, "" when the call had none
}

// CallFrom is the Call of the RPC method serving ctx, made by the principal the auth
// interceptor authenticated.
func CallFrom(ctx context.Context, method, requestID string) Call {
	return Call{Principal: auth.Caller(ctx), Method: method, RequestID: requestID}
}

// ErrIncomplete is returned (wrapped) by Append for an event that lacks who, what or how.
// It aborts the transaction, so a store bug cannot commit a change nobody can account for.
var ErrIncomplete = errors.New("audit event incomplete")

// Trail is one service's audit trail, in two buckets of its bbolt file that the service
// declares in its boltdb.Schema:
//
//	Events      reverse id (8 bytes big-endian, MaxUint64 − id) → AuditEvent
//	ByResource  resource name + 0x00 + reverse id → empty: the per-resource index
//
// Ids come from the Events bucket's sequence, which bbolt advances inside the writing
// transaction, so ids follow commit order exactly; reversed, a forward cursor walk lists
// newest first. Wall-clock keys (boltdb.AppendReverseTime) would misorder events when the
// clock steps back, and need a suffix anyway to be unique. Resource names contain no
// 0x00, so one resource's index prefix never matches another's.
type Trail struct {
	// Service names the trail: its events are services/{Service}/auditEvents/{id}.
	Service string
	// Collections are the collection IDs of the resources the service audits, so a
	// filter naming anything else is refused rather than silently matching nothing.
	Collections        []string
	Events, ByResource []byte
}

// Parent is the trail's resource name, the parent of its events: services/{Service}.
func (t Trail) Parent() string { return "services/" + t.Service }

// Append records, in tx, that call did action to resource, changing fields (names only).
// Call it in the transaction that makes the change, after the change is known to succeed
// or with the transaction's error path rolling both back.
func (t Trail) Append(tx *bolt.Tx, call Call, at time.Time, action typev1.AuditAction, resource string, fields []string) error {
	var missing []string
	if call.Principal == "" {
		missing = append(missing, "principal")
	}
	if call.Method == "" {
		missing = append(missing, "method")
	}
	if !validResource(resource) {
		missing = append(missing, "resource")
	}
	if action != Create && action != Update && action != Delete && action != Reencrypt {
		missing = append(missing, "action")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: no valid %s", ErrIncomplete, strings.Join(missing, ", "))
	}
	events := tx.Bucket(t.Events)
	id, err := events.NextSequence()
	if err != nil {
		return err
	}
	e := &typev1.AuditEvent{
		Name:          t.eventName(id),
		EventTime:     timestamppb.New(at),
		Principal:     call.Principal,
		Method:        call.Method,
		Resource:      resource,
		Action:        action,
		ChangedFields: fields,
		RequestId:     call.RequestID,
	}
	v, err := proto.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit event: %w", err)
	}
	key := reverseID(id)
	if err := events.Put(key, v); err != nil {
		return err
	}
	return tx.Bucket(t.ByResource).Put(append(resourcePrefix(resource), key...), nil)
}

// List returns up to limit events, newest first, after the key `after` (nil: from the
// newest), only those about resource unless it is "", and the key to resume after (nil
// when nothing follows). A resource filter walks only that resource's index entries.
func (t Trail) List(tx *bolt.Tx, resource string, after []byte, limit int) ([]*typev1.AuditEvent, []byte, error) {
	events := tx.Bucket(t.Events)
	index, prefix := events, []byte(nil)
	if resource != "" {
		index, prefix = tx.Bucket(t.ByResource), resourcePrefix(resource)
	}
	var out []*typev1.AuditEvent
	last, more, err := boltdb.Page(index.Cursor(), prefix, after, limit, func(k, v []byte) (bool, error) {
		if resource != "" {
			key := k[len(prefix):]
			if v = events.Get(key); v == nil {
				return false, fmt.Errorf("audit index entry points at no event (key %x)", key)
			}
		}
		e := &typev1.AuditEvent{}
		if err := proto.Unmarshal(v, e); err != nil {
			return false, fmt.Errorf("decode audit event: %w", err)
		}
		out = append(out, e)
		return true, nil
	})
	if err != nil {
		return nil, nil, err
	}
	if !more {
		last = nil
	}
	return out, last, nil
}

// Request is what a ListAuditEvents request carries; each service's generated request
// message has these getters.
type Request interface {
	GetParent() string
	GetPageSize() int32
	GetPageToken() string
	GetResource() string
}

// ListFrom serves a ListAuditEvents call from the service's bbolt file db: it checks the
// parent and the resource filter, then reads one page (in a read transaction of its own)
// with AIP-158 tokens bound to the filter.
func (t Trail) ListFrom(db *bolt.DB, req Request) ([]*typev1.AuditEvent, string, error) {
	var v apierr.Violations
	switch req.GetParent() {
	case t.Parent():
	case "":
		v.Add("parent", "is required (%s)", t.Parent())
	default:
		v.Add("parent", "must be %s", t.Parent())
	}
	if r := req.GetResource(); r != "" {
		n := v.Len()
		validate.Token(&v, "resource", r, maxResource)
		if v.Len() == n && !t.validFilter(r) { // one complaint per field
			v.Add("resource", "must be the name of a resource of this service: %s/{id}", strings.Join(t.Collections, "/{id}, "))
		}
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	return paging.List(req.GetPageSize(), req.GetPageToken(), []string{t.Parent(), req.GetResource()},
		func(after []byte, limit int) (out []*typev1.AuditEvent, next []byte, err error) {
			err = db.View(func(tx *bolt.Tx) error {
				out, next, err = t.List(tx, req.GetResource(), after, limit)
				return err
			})
			return out, next, err
		})
}

// maxResource bounds a resource filter: a collection ID, "/" and a 63-character code fit
// many times over.
const maxResource = 200

func (t Trail) validFilter(name string) bool {
	collection, _, _ := strings.Cut(name, "/")
	for _, c := range t.Collections {
		if c == collection {
			return validResource(name)
		}
	}
	return false
}

func (t Trail) eventName(id uint64) string {
	return t.Parent() + "/auditEvents/" + strconv.FormatUint(id, 10)
}

// validResource accepts `collection/id` with both parts non-empty, no further "/" and no
// 0x00 (the index separator).
func validResource(name string) bool {
	collection, id, ok := strings.Cut(name, "/")
	return ok && collection != "" && id != "" && !strings.ContainsAny(id, "/\x00") && !strings.Contains(collection, "\x00")
}

func reverseID(id uint64) []byte { return boltdb.Uint64Key(math.MaxUint64 - id) }

func resourcePrefix(resource string) []byte { return append([]byte(resource), 0) }
