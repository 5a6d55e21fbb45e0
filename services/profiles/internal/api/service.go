// Package api implements the profiles service's gRPC handlers: validation, the two-step
// profile life cycle, secrets handling, and translation of storage errors into typed
// domain errors (mapped to gRPC status by platform/rpc).
package api

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/interloan/interloan/external"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/audit"
	"github.com/interloan/interloan/platform/paging"
	"github.com/interloan/interloan/platform/resource"
	"github.com/interloan/interloan/platform/validate"
	"github.com/interloan/interloan/services/profiles/internal/secrets"
	"github.com/interloan/interloan/services/profiles/internal/store"
)

var collection = resource.Collection((*profilesv1.IntegrationProfile)(nil))

// updatable lists the fields UpdateIntegrationProfile may change. code and
// integration_type are immutable; system may be set once (checked separately).
var updatable = []string{
	"display_name", "description", "system", "libris", "netpunkt", "resource_sharing_library",
	"api_key", "require_authentication", "active", "harvest_start", "schedule",
	"receipt_password",
}

// Service implements ProfileService and ProfileCredentialsService.
type Service struct {
	profilesv1.UnimplementedProfileServiceServer
	profilesv1.UnimplementedProfileCredentialsServiceServer
	store *store.Store
	keys  *secrets.Keyring
	now   func() time.Time
}

// New returns the service. now is the clock (time.Now in production).
func New(st *store.Store, keys *secrets.Keyring, now func() time.Time) *Service {
	return &Service{store: st, keys: keys, now: now}
}

// CreateIntegrationProfile creates the general part, and the system part if given.
func (s *Service) CreateIntegrationProfile(ctx context.Context, req *profilesv1.CreateIntegrationProfileRequest) (*profilesv1.IntegrationProfile, error) {
	in := req.GetIntegrationProfile()
	if in == nil {
		return nil, apierr.Invalid("integration_profile", "is required")
	}
	var v apierr.Violations
	validate.RequestID(&v, "request_id", req.RequestId)
	if err := v.Err(); err != nil {
		return nil, err
	}
	p := proto.Clone(in).(*profilesv1.IntegrationProfile)
	// Output-only fields in input are ignored (AIP-203).
	p.Name, p.ApiKeySet, p.Readiness, p.CreateTime, p.UpdateTime, p.Etag = resource.Name(collection, p.Code), false, nil, nil, nil, ""
	p.ReceiptPasswordSet = false
	if p.IntegrationType == profilesv1.IntegrationType_INTEGRATION_TYPE_UNSPECIFIED {
		p.IntegrationType = profilesv1.IntegrationType_INTEGRATION_TYPE_RESOURCE_SHARING
	}
	normalize(p)
	if err := validateProfile(p, "integration_profile.", s.now()); err != nil {
		return nil, err
	}
	var sealed *store.Sealed
	if p.ApiKey != "" {
		if err := validateAPIKey(p.ApiKey, "integration_profile.api_key"); err != nil {
			return nil, err
		}
		var err error
		if sealed, err = s.sealKey(p); err != nil {
			return nil, err
		}
		p.ApiKeySet = true
	}
	p.ApiKey = ""
	receipt, err := s.sealReceiptPassword(p)
	if err != nil {
		return nil, err
	}
	if req.ValidateOnly {
		return output(store.Record{Profile: p, Secret: sealed}), nil
	}
	resource.Stamp(p, p.Name, s.now(), true)
	call := audit.CallFrom(ctx, "CreateIntegrationProfile", req.RequestId)
	rec, _, err := s.store.Create(call, store.Record{Profile: p, Secret: sealed, ReceiptSecret: receipt})
	if errors.Is(err, store.ErrExists) {
		return nil, errAlreadyExists(p.Name)
	}
	if err == nil && rec.Profile.Code != p.Code {
		return nil, errRequestIDReused(rec.Profile.Name)
	}
	if err != nil {
		return nil, err
	}
	return output(rec), nil
}

// GetIntegrationProfile returns a profile without its secret.
func (s *Service) GetIntegrationProfile(_ context.Context, req *profilesv1.GetIntegrationProfileRequest) (*profilesv1.IntegrationProfile, error) {
	rec, err := s.get(req.GetName())
	if err != nil {
		return nil, err
	}
	return output(rec), nil
}

// ListIntegrationProfiles pages through profiles in code order.
func (s *Service) ListIntegrationProfiles(_ context.Context, req *profilesv1.ListIntegrationProfilesRequest) (*profilesv1.ListIntegrationProfilesResponse, error) {
	var v apierr.Violations
	validate.Enum(&v, "system", req.System, false)
	if err := v.Err(); err != nil {
		return nil, err
	}
	list, next, err := paging.List(req.PageSize, req.PageToken, []string{collection, req.System.String(), strconv.FormatBool(req.ActiveOnly)},
		func(after []byte, limit int) ([]store.Record, []byte, error) {
			return s.store.List(after, limit, func(p *profilesv1.IntegrationProfile) bool {
				return (req.System == typev1.ExternalSystem_EXTERNAL_SYSTEM_UNSPECIFIED || p.System == req.System) &&
					(!req.ActiveOnly || p.Active)
			})
		})
	if err != nil {
		return nil, err
	}
	resp := &profilesv1.ListIntegrationProfilesResponse{NextPageToken: next}
	for _, rec := range list {
		resp.IntegrationProfiles = append(resp.IntegrationProfiles, output(rec))
	}
	return resp, nil
}

// UpdateIntegrationProfile applies the masked fields to the stored profile, validates the
// result as a whole, and stores it (or only validates, with validate_only).
func (s *Service) UpdateIntegrationProfile(ctx context.Context, req *profilesv1.UpdateIntegrationProfileRequest) (*profilesv1.IntegrationProfile, error) {
	in := req.GetIntegrationProfile()
	if in == nil {
		return nil, apierr.Invalid("integration_profile", "is required")
	}
	code, err := resource.ParseName("integration_profile.name", in.Name, collection)
	if err != nil {
		return nil, err
	}
	paths, err := resource.UpdatePaths(req.UpdateMask, in, updatable)
	if err != nil {
		return nil, err
	}
	setsKey := slices.Contains(paths, "api_key")
	if setsKey && in.ApiKey != "" {
		if err := validateAPIKey(in.ApiKey, "integration_profile.api_key"); err != nil {
			return nil, err
		}
	}
	rec, err := s.store.Update(audit.CallFrom(ctx, "UpdateIntegrationProfile", ""), code, func(cur store.Record) (store.Record, bool, error) {
		if err := resource.CheckEtag(in.Name, in.Etag, cur.Profile.Etag); err != nil {
			return store.Record{}, false, err
		}
		if err := resource.CheckImmutable(cur.Profile, in, "integration_profile."); err != nil {
			return store.Record{}, false, err
		}
		next := store.Record{Profile: proto.Clone(cur.Profile).(*profilesv1.IntegrationProfile), Secret: cur.Secret, ReceiptSecret: cur.ReceiptSecret}
		resource.ApplyPaths(next.Profile, in, paths)
		p := next.Profile
		normalize(p)
		if cur.Profile.System != typev1.ExternalSystem_EXTERNAL_SYSTEM_UNSPECIFIED && p.System != cur.Profile.System {
			return store.Record{}, false, apierr.Invalid("integration_profile.system", "cannot be changed once set (it is %s); create a new profile instead", cur.Profile.System)
		}
		if err := validateProfile(p, "integration_profile.", s.now()); err != nil {
			return store.Record{}, false, err
		}
		if setsKey {
			// Sealed for the origin of the base URL as this update leaves it.
			next.Secret = nil
			if p.ApiKey != "" {
				sealed, err := s.sealKey(p)
				if err != nil {
					return store.Record{}, false, err
				}
				next.Secret = sealed
			}
		}
		p.ApiKey, p.ApiKeySet = "", next.Secret != nil
		if slices.Contains(paths, "receipt_password") {
			sealed, err := s.sealReceiptPassword(p)
			if err != nil {
				return store.Record{}, false, err
			}
			next.ReceiptSecret = sealed
		}
		p.ReceiptPassword, p.ReceiptPasswordSet = "", next.ReceiptSecret != nil
		if req.ValidateOnly {
			return next, false, nil
		}
		resource.Stamp(p, p.Name, s.now(), false)
		return next, true, nil
	})
	if err != nil {
		return nil, s.storeErr(err, in.Name)
	}
	return output(rec), nil
}

// DeleteIntegrationProfile deletes a profile and its secret.
func (s *Service) DeleteIntegrationProfile(ctx context.Context, req *profilesv1.DeleteIntegrationProfileRequest) (*emptypb.Empty, error) {
	code, err := resource.ParseName("name", req.GetName(), collection)
	if err != nil {
		return nil, err
	}
	err = s.store.Delete(audit.CallFrom(ctx, "DeleteIntegrationProfile", ""), code, func(cur store.Record) error {
		return resource.CheckEtag(req.Name, req.Etag, cur.Profile.Etag)
	})
	if err != nil {
		return nil, s.storeErr(err, req.Name)
	}
	return &emptypb.Empty{}, nil
}

// ListAuditEvents lists who changed which profile, newest first. Events name the fields
// a change touched, never their values, so the trail holds no credential.
func (s *Service) ListAuditEvents(_ context.Context, req *profilesv1.ListAuditEventsRequest) (*profilesv1.ListAuditEventsResponse, error) {
	events, next, err := s.store.ListAuditEvents(req)
	if err != nil {
		return nil, err
	}
	return &profilesv1.ListAuditEventsResponse{AuditEvents: events, NextPageToken: next}, nil
}

// GetProfileCredentials decrypts a profile's credential for the harvester, only for the
// origin it was entered for: when the profile's base URL now has another origin, it
// hands out no key (see openKey) — it refuses, unless there is a receipt password to give.
func (s *Service) GetProfileCredentials(_ context.Context, req *profilesv1.GetProfileCredentialsRequest) (*profilesv1.ProfileCredentials, error) {
	rec, err := s.get(req.GetName())
	if err != nil {
		return nil, err
	}
	if rec.Secret == nil && rec.ReceiptSecret == nil {
		return nil, errAPIKeyMissing(req.Name)
	}
	out := &profilesv1.ProfileCredentials{Name: rec.Profile.Name, Etag: rec.Profile.Etag}
	if rec.Secret != nil {
		key, origin, err := s.openKey(rec)
		switch {
		case err == nil:
			out.ApiKey, out.Origin = key, origin
		case rec.ReceiptSecret == nil:
			return nil, err
		default:
			// The receipt password is inbound and bound to no address, so a key unusable
			// for the profile's current address must not stop pushed receipts. The key
			// stays out; its origin says which address it was entered for.
			out.Origin = rec.Secret.Origin
		}
	}
	if rec.ReceiptSecret != nil {
		pw, err := s.keys.Open(rec.ReceiptSecret, store.ReceiptAAD(rec.Profile.Name))
		if err != nil {
			return nil, errSecretUnusable(req.Name, err)
		}
		out.ReceiptPassword = string(pw)
	}
	return out, nil
}

func (s *Service) get(name string) (store.Record, error) {
	code, err := resource.ParseName("name", name, collection)
	if err != nil {
		return store.Record{}, err
	}
	rec, err := s.store.Get(code)
	if err != nil {
		return store.Record{}, s.storeErr(err, name)
	}
	return rec, nil
}

func (s *Service) storeErr(err error, name string) error {
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound(name)
	}
	return err
}

// sealReceiptPassword validates and seals p's receipt password (nil when it is empty)
// and clears it from p. Only a profile of a system that pushes receipts (Netpunkt) has one.
func (s *Service) sealReceiptPassword(p *profilesv1.IntegrationProfile) ([]byte, error) {
	pw := p.ReceiptPassword
	p.ReceiptPassword, p.ReceiptPasswordSet = "", false
	if pw == "" {
		return nil, nil
	}
	if sys, ok := external.Of(p); !ok || !sys.PushesReceipts {
		return nil, errReceiptPasswordSystem(p.System)
	}
	if err := validateReceiptPassword(pw, "integration_profile.receipt_password"); err != nil {
		return nil, err
	}
	sealed, err := s.keys.Seal([]byte(pw), store.ReceiptAAD(p.Name))
	if err != nil {
		return nil, err
	}
	p.ReceiptPasswordSet = true
	return sealed, nil
}

// normalize fills defaults the API documents: the system follows its configuration, the
// system's block takes its stored form (e.g. a Netpunkt agency id given as ISIL is stored
// as its six digits), and harvest granularity defaults to DAY.
func normalize(p *profilesv1.IntegrationProfile) {
	if sys := external.Configured(p); sys != nil {
		if sys.Normalize != nil {
			sys.Normalize(p)
		}
		if p.System == typev1.ExternalSystem_EXTERNAL_SYSTEM_UNSPECIFIED {
			p.System = sys.Enum
		}
	}
	if h := p.HarvestStart; h != nil && h.Granularity == profilesv1.HarvestGranularity_HARVEST_GRANULARITY_UNSPECIFIED {
		h.Granularity = profilesv1.HarvestGranularity_HARVEST_GRANULARITY_DAY
	}
}

// output is what callers see of rec: never the key, always the readiness.
func output(rec store.Record) *profilesv1.IntegrationProfile {
	p := proto.Clone(rec.Profile).(*profilesv1.IntegrationProfile)
	p.ApiKey, p.ReceiptPassword = "", ""
	p.Readiness = readiness(p, keyUsable(rec))
	return p
}
