package api

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/audit"
	"github.com/interloan/interloan/platform/paging"
	"github.com/interloan/interloan/platform/resource"
	"github.com/interloan/interloan/platform/validate"
	"github.com/interloan/interloan/services/mapping/internal/store"
)

func partnerKind(st *store.Store) *kind[mappingv1.Partner, *mappingv1.Partner] {
	return &kind[mappingv1.Partner, *mappingv1.Partner]{
		records:   st.Partners,
		field:     "partner",
		updatable: []string{"display_name", "status", "system", "contact"},
		validID:   resource.ValidCode,
		idRule:    resource.CodeRule,
		// The proto documents UNSPECIFIED as ACTIVE. Applying that to updates too means
		// a `*` update that omits status (a full replace) yields the documented default
		// instead of an error.
		normalize: func(p *mappingv1.Partner) {
			if p.Status == mappingv1.PartnerStatus_PARTNER_STATUS_UNSPECIFIED {
				p.Status = mappingv1.PartnerStatus_PARTNER_STATUS_ACTIVE
			}
		},
		validate: validatePartner,
		notFound: reasonPartnerNotFound,
		conflict: partnerExists,
	}
}

// CreatePartner creates a partner; its code must differ from every other partner's
// ignoring case.
func (s *Service) CreatePartner(ctx context.Context, req *mappingv1.CreatePartnerRequest) (*mappingv1.Partner, error) {
	return s.partners.create(audit.CallFrom(ctx, "CreatePartner", req.GetRequestId()), req.GetPartner())
}

// GetPartner returns a partner by its exact code.
func (s *Service) GetPartner(_ context.Context, req *mappingv1.GetPartnerRequest) (*mappingv1.Partner, error) {
	return s.partners.get(req.GetName())
}

// ListPartners lists partners ordered by code, optionally of one system and/or status.
func (s *Service) ListPartners(_ context.Context, req *mappingv1.ListPartnersRequest) (*mappingv1.ListPartnersResponse, error) {
	system, status := req.GetSystem(), req.GetStatus()
	var v apierr.Violations
	validate.Enum(&v, "system", system, false)
	validate.Enum(&v, "status", status, false)
	if err := v.Err(); err != nil {
		return nil, err
	}
	// Partners are few, so filtering while walking the code order is cheap enough not
	// to need indexes by system or status.
	match := func(p *mappingv1.Partner) bool {
		return (system == typev1.ExternalSystem_EXTERNAL_SYSTEM_UNSPECIFIED || p.GetSystem() == system) &&
			(status == mappingv1.PartnerStatus_PARTNER_STATUS_UNSPECIFIED || p.GetStatus() == status)
	}
	filter := []string{s.store.Partners.CollectionID, system.String(), status.String()}
	partners, next, err := paging.List(req.GetPageSize(), req.GetPageToken(), filter,
		func(after []byte, limit int) ([]*mappingv1.Partner, []byte, error) {
			return s.store.Partners.List(after, limit, match)
		})
	if err != nil {
		return nil, err
	}
	return &mappingv1.ListPartnersResponse{Partners: partners, NextPageToken: next}, nil
}

// UpdatePartner updates a partner's display name, status, system or contact.
func (s *Service) UpdatePartner(ctx context.Context, req *mappingv1.UpdatePartnerRequest) (*mappingv1.Partner, error) {
	return s.partners.update(audit.CallFrom(ctx, "UpdatePartner", ""), req.GetPartner(), req.GetUpdateMask())
}

// DeletePartner deletes a partner.
func (s *Service) DeletePartner(ctx context.Context, req *mappingv1.DeletePartnerRequest) (*emptypb.Empty, error) {
	return s.partners.delete(audit.CallFrom(ctx, "DeletePartner", ""), req.GetName(), req.GetEtag())
}
