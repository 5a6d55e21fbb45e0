// Package api implements mappingv1.MappingServiceServer on top of the store: request
// validation, resource names, update masks, etags and paging. Handlers return apierr
// errors; the platform's rpc interceptor maps them to gRPC status at the edge.
package api

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/audit"
	"github.com/interloan/interloan/platform/resource"
	"github.com/interloan/interloan/platform/validate"
	"github.com/interloan/interloan/services/mapping/internal/store"
)

// Service is the MappingService.
type Service struct {
	mappingv1.UnimplementedMappingServiceServer

	store     *store.Store
	libraries *kind[mappingv1.Library, *mappingv1.Library]
	mappings  *kind[mappingv1.LibraryMapping, *mappingv1.LibraryMapping]
	partners  *kind[mappingv1.Partner, *mappingv1.Partner]
}

// New returns the service over st.
func New(st *store.Store) *Service {
	return &Service{store: st, libraries: libraryKind(st), mappings: mappingKind(st), partners: partnerKind(st)}
}

// ListAuditEvents lists who changed libraries, mappings and partners, newest first.
func (s *Service) ListAuditEvents(_ context.Context, req *mappingv1.ListAuditEventsRequest) (*mappingv1.ListAuditEventsResponse, error) {
	events, next, err := s.store.ListAuditEvents(req)
	if err != nil {
		return nil, err
	}
	return &mappingv1.ListAuditEventsResponse{AuditEvents: events, NextPageToken: next}, nil
}

// resourceMsg is what the shared plumbing needs of a resource message.
type resourceMsg[T any] interface {
	store.Message[T]
	GetEtag() string
}

// kind describes one resource type to the shared Create/Get/Update/Delete plumbing below,
// so every standard method follows the same rules (names, masks, etags, errors) and each
// handler is a single call.
type kind[T any, P resourceMsg[T]] struct {
	records *store.Collection[T, P]
	field   string // the request field holding the resource ("library"), for violation paths
	// updatable lists the fields an update may change (AIP-134); immutable ones are absent.
	updatable []string
	// validID reports whether the ID in a resource name is well-formed; idRule says how.
	validID func(string) bool
	idRule  string
	// normalize, if set, fixes up a complete resource before validation (trimming, defaults).
	normalize func(P)
	validate  func(v *apierr.Violations, prefix string, m P)
	notFound  string                                   // ErrorInfo reason for a missing resource
	conflict  func(attempted P, existing string) error // the ALREADY_EXISTS error
}

// create validates a new resource and stores it. Output-only fields in the input are
// overwritten by the store. A repeated requestID (AIP-155) returns the resource that
// request created, if it still exists; the same requestID asking for another resource is
// refused, since answering with a resource the caller did not ask for would be a lie.
//
// call says who asks and through which RPC, for the audit trail; its RequestID is the
// create's idempotency key.
func (k *kind[T, P]) create(call audit.Call, in P) (P, error) {
	m := P(new(T))
	if in != nil {
		m = proto.CloneOf(in) // leave the request as received
	}
	var v apierr.Violations
	validate.RequestID(&v, "request_id", call.RequestID)
	k.validateInto(&v, m)
	if err := v.Err(); err != nil {
		return nil, err
	}
	out, err := k.records.Create(call, m)
	if err != nil {
		return nil, k.storeError(err, "", m)
	}
	return out, nil
}

func (k *kind[T, P]) get(name string) (P, error) {
	id, err := k.parseName("name", name)
	if err != nil {
		return nil, err
	}
	out, err := k.records.Get(id)
	if err != nil {
		return nil, k.storeError(err, name, nil)
	}
	return out, nil
}

// update merges the fields the mask selects from in into the stored resource, checking
// the etag, refusing changes to immutable fields (AIP-203: whatever the mask, since a
// silently ignored change would look applied) and validating the result inside the write
// transaction, so a concurrent update between read and write is impossible.
func (k *kind[T, P]) update(call audit.Call, in P, mask *fieldmaskpb.FieldMask) (P, error) {
	if in == nil {
		in = P(new(T))
	}
	name := in.GetName()
	id, err := k.parseName(k.field+".name", name)
	if err != nil {
		return nil, err
	}
	paths, err := resource.UpdatePaths(mask, in, k.updatable)
	if err != nil {
		return nil, err
	}
	// Immutable fields are compared as they would be stored (a mapping's external code
	// trimmed), so a resource read with Get can be sent back whole.
	normalized := proto.CloneOf(in)
	if k.normalize != nil {
		k.normalize(normalized)
	}
	out, err := k.records.Update(call, id, func(cur P) error {
		if err := resource.CheckEtag(name, in.GetEtag(), cur.GetEtag()); err != nil {
			return err
		}
		if err := resource.CheckImmutable(cur, normalized, k.field+"."); err != nil {
			return err
		}
		resource.ApplyPaths(cur, in, paths)
		return k.check(cur)
	})
	if err != nil {
		return nil, k.storeError(err, name, in)
	}
	return out, nil
}

func (k *kind[T, P]) delete(call audit.Call, name, etag string) (*emptypb.Empty, error) {
	id, err := k.parseName("name", name)
	if err != nil {
		return nil, err
	}
	err = k.records.Delete(call, id, func(cur P) error { return resource.CheckEtag(name, etag, cur.GetEtag()) })
	if err != nil {
		return nil, k.storeError(err, name, nil)
	}
	return &emptypb.Empty{}, nil
}

// check normalizes m in place and returns all its violations.
func (k *kind[T, P]) check(m P) error {
	var v apierr.Violations
	k.validateInto(&v, m)
	return v.Err()
}

// validateInto normalizes m in place and adds all its violations to v.
func (k *kind[T, P]) validateInto(v *apierr.Violations, m P) {
	if k.normalize != nil {
		k.normalize(m)
	}
	k.validate(v, k.field, m)
}

// parseName returns the ID in a resource name of this kind.
func (k *kind[T, P]) parseName(field, name string) (string, error) {
	id, err := resource.ParseName(field, name, k.records.CollectionID)
	if err != nil {
		return "", err
	}
	if !k.validID(id) {
		return "", apierr.Invalid(field, "the ID in %s/{id} %s", k.records.CollectionID, k.idRule)
	}
	return id, nil
}
