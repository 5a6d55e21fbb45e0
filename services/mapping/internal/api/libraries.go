package api

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	"github.com/interloan/interloan/platform/audit"
	"github.com/interloan/interloan/platform/paging"
	"github.com/interloan/interloan/platform/resource"
	"github.com/interloan/interloan/services/mapping/internal/store"
)

func libraryKind(st *store.Store) *kind[mappingv1.Library, *mappingv1.Library] {
	return &kind[mappingv1.Library, *mappingv1.Library]{
		records:   st.Libraries,
		field:     "library",
		updatable: []string{"display_name", "is_resource_sharing_library"},
		validID:   resource.ValidCode,
		idRule:    resource.CodeRule,
		validate:  validateLibrary,
		notFound:  reasonLibraryNotFound,
		conflict:  libraryExists,
	}
}

// CreateLibrary creates a local library.
func (s *Service) CreateLibrary(ctx context.Context, req *mappingv1.CreateLibraryRequest) (*mappingv1.Library, error) {
	return s.libraries.create(audit.CallFrom(ctx, "CreateLibrary", req.GetRequestId()), req.GetLibrary())
}

// GetLibrary returns a local library.
func (s *Service) GetLibrary(_ context.Context, req *mappingv1.GetLibraryRequest) (*mappingv1.Library, error) {
	return s.libraries.get(req.GetName())
}

// ListLibraries lists local libraries ordered by code.
func (s *Service) ListLibraries(_ context.Context, req *mappingv1.ListLibrariesRequest) (*mappingv1.ListLibrariesResponse, error) {
	libs, next, err := paging.List(req.GetPageSize(), req.GetPageToken(), []string{s.store.Libraries.CollectionID},
		func(after []byte, limit int) ([]*mappingv1.Library, []byte, error) {
			return s.store.Libraries.List(after, limit, nil)
		})
	if err != nil {
		return nil, err
	}
	return &mappingv1.ListLibrariesResponse{Libraries: libs, NextPageToken: next}, nil
}

// UpdateLibrary updates a library's display name or resource-sharing flag.
func (s *Service) UpdateLibrary(ctx context.Context, req *mappingv1.UpdateLibraryRequest) (*mappingv1.Library, error) {
	return s.libraries.update(audit.CallFrom(ctx, "UpdateLibrary", ""), req.GetLibrary(), req.GetUpdateMask())
}

// DeleteLibrary deletes a library that no mapping points at.
func (s *Service) DeleteLibrary(ctx context.Context, req *mappingv1.DeleteLibraryRequest) (*emptypb.Empty, error) {
	return s.libraries.delete(audit.CallFrom(ctx, "DeleteLibrary", ""), req.GetName(), req.GetEtag())
}
