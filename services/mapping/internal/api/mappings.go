package api

import (
	"context"
	"strconv"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/interloan/interloan/external"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/audit"
	"github.com/interloan/interloan/platform/paging"
	"github.com/interloan/interloan/platform/validate"
	"github.com/interloan/interloan/services/mapping/internal/store"
)

func mappingKind(st *store.Store) *kind[mappingv1.LibraryMapping, *mappingv1.LibraryMapping] {
	return &kind[mappingv1.LibraryMapping, *mappingv1.LibraryMapping]{
		records: st.Mappings,
		field:   "library_mapping",
		// system and external_code are the mapping's identity: to change them, delete
		// the mapping and create another.
		updatable: []string{"local_library_code"},
		validID:   validMappingID,
		idRule:    "must be a positive decimal number without leading zeros",
		// The proto stores external codes trimmed: codes copied from other systems often
		// carry stray spaces, and lookups trim too. Each system gives its codes one
		// spelling (Netpunkt agency ids become DK-nnnnnn whichever way they were typed).
		normalize: func(m *mappingv1.LibraryMapping) {
			m.ExternalCode = external.LibraryCode(m.GetSystem(), m.ExternalCode)
		},
		validate: validateMapping,
		notFound: reasonMappingNotFound,
		conflict: mappingExists,
	}
}

// validMappingID accepts only the canonical form of a server-assigned ID, so that one
// mapping has exactly one name.
func validMappingID(id string) bool {
	n, err := strconv.ParseUint(id, 10, 64)
	return err == nil && n > 0 && strconv.FormatUint(n, 10) == id
}

// CreateLibraryMapping maps an external library code to an existing local library.
func (s *Service) CreateLibraryMapping(ctx context.Context, req *mappingv1.CreateLibraryMappingRequest) (*mappingv1.LibraryMapping, error) {
	return s.mappings.create(audit.CallFrom(ctx, "CreateLibraryMapping", req.GetRequestId()), req.GetLibraryMapping())
}

// GetLibraryMapping returns a library mapping.
func (s *Service) GetLibraryMapping(_ context.Context, req *mappingv1.GetLibraryMappingRequest) (*mappingv1.LibraryMapping, error) {
	return s.mappings.get(req.GetName())
}

// ListLibraryMappings lists mappings ordered by system, then external code.
func (s *Service) ListLibraryMappings(_ context.Context, req *mappingv1.ListLibraryMappingsRequest) (*mappingv1.ListLibraryMappingsResponse, error) {
	var v apierr.Violations
	validate.Enum(&v, "system", req.GetSystem(), false)
	if lib := req.GetLocalLibraryCode(); lib != "" {
		validate.Code(&v, "local_library_code", lib)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	filter := []string{s.store.Mappings.CollectionID, req.GetSystem().String(), req.GetLocalLibraryCode()}
	mappings, next, err := paging.List(req.GetPageSize(), req.GetPageToken(), filter,
		func(after []byte, limit int) ([]*mappingv1.LibraryMapping, []byte, error) {
			return s.store.ListMappings(req.GetSystem(), req.GetLocalLibraryCode(), after, limit)
		})
	if err != nil {
		return nil, err
	}
	return &mappingv1.ListLibraryMappingsResponse{LibraryMappings: mappings, NextPageToken: next}, nil
}

// UpdateLibraryMapping points a mapping at another existing local library.
func (s *Service) UpdateLibraryMapping(ctx context.Context, req *mappingv1.UpdateLibraryMappingRequest) (*mappingv1.LibraryMapping, error) {
	return s.mappings.update(audit.CallFrom(ctx, "UpdateLibraryMapping", ""), req.GetLibraryMapping(), req.GetUpdateMask())
}

// DeleteLibraryMapping deletes a library mapping.
func (s *Service) DeleteLibraryMapping(ctx context.Context, req *mappingv1.DeleteLibraryMappingRequest) (*emptypb.Empty, error) {
	return s.mappings.delete(audit.CallFrom(ctx, "DeleteLibraryMapping", ""), req.GetName(), req.GetEtag())
}
