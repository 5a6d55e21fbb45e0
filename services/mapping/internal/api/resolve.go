package api

import (
	"context"
	"strings"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/validate"
)

// The Resolve methods serve the harvester's batches: unknown codes are answers
// (found = false), not errors, and each batch is read in one transaction so it sees one
// consistent state.

// ResolveLibraryCodes resolves external library codes of one system. Codes are trimmed,
// then compared exactly: Libris sigels are case-sensitive and Netpunkt agency ids are
// exact digit strings.
func (s *Service) ResolveLibraryCodes(_ context.Context, req *mappingv1.ResolveLibraryCodesRequest) (*mappingv1.ResolveLibraryCodesResponse, error) {
	codes := req.GetExternalCodes()
	var v apierr.Violations
	validate.Enum(&v, "system", req.GetSystem(), true)
	checkBatch(&v, "external_codes", codes)
	if err := v.Err(); err != nil {
		return nil, err
	}
	found, err := s.store.ResolveLibraryCodes(req.GetSystem(), trimAll(codes))
	if err != nil {
		return nil, err
	}
	resp := &mappingv1.ResolveLibraryCodesResponse{Resolutions: make([]*mappingv1.LibraryCodeResolution, len(codes))}
	for i, m := range found {
		r := &mappingv1.LibraryCodeResolution{ExternalCode: codes[i]}
		if m != nil {
			r.Found, r.LocalLibraryCode, r.LibraryMapping = true, m.GetLocalLibraryCode(), m.GetName()
		}
		resp.Resolutions[i] = r
	}
	return resp, nil
}

// ResolvePartnerCodes resolves lender codes to partners, trimmed and ignoring case.
func (s *Service) ResolvePartnerCodes(_ context.Context, req *mappingv1.ResolvePartnerCodesRequest) (*mappingv1.ResolvePartnerCodesResponse, error) {
	codes := req.GetCodes()
	var v apierr.Violations
	checkBatch(&v, "codes", codes)
	if err := v.Err(); err != nil {
		return nil, err
	}
	found, err := s.store.ResolvePartnerCodes(trimAll(codes))
	if err != nil {
		return nil, err
	}
	resp := &mappingv1.ResolvePartnerCodesResponse{Resolutions: make([]*mappingv1.PartnerCodeResolution, len(codes))}
	for i, p := range found {
		resp.Resolutions[i] = &mappingv1.PartnerCodeResolution{Code: codes[i], Found: p != nil, Partner: p}
	}
	return resp, nil
}

func trimAll(codes []string) []string {
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = strings.TrimSpace(c)
	}
	return out
}
