package api

import (
	"context"
	"strings"

	"github.com/interloan/interloan/external"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/validate"
)

// The Resolve methods serve the harvester's batches: unknown codes are answers
// (found = false), not errors, and each batch is read in one transaction so it sees one
// consistent state.

// ResolveLibraryCodes resolves external library codes of one system. Codes are trimmed,
// then compared exactly: Libris sigels are case-sensitive; Netpunkt agency ids are
// compared as DK-nnnnnn, so `775100` and `dk-775100` find the same mapping.
func (s *Service) ResolveLibraryCodes(_ context.Context, req *mappingv1.ResolveLibraryCodesRequest) (*mappingv1.ResolveLibraryCodesResponse, error) {
	codes := req.GetExternalCodes()
	var v apierr.Violations
	validate.Enum(&v, "system", req.GetSystem(), true)
	checkBatch(&v, "external_codes", codes)
	if err := v.Err(); err != nil {
		return nil, err
	}
	keys := make([]string, len(codes))
	for i, c := range codes {
		keys[i] = external.LibraryCode(req.GetSystem(), c)
	}
	found, err := s.store.ResolveLibraryCodes(req.GetSystem(), keys)
	if err != nil {
		return nil, err
	}
	// A mapping stored under the code's other spelling (e.g. a Danish library number
	// stored as bare digits before codes were normalised) is found too.
	err = resolveAgain(req.GetSystem(), found, codes, func(alt []string) ([]*mappingv1.LibraryMapping, error) {
		return s.store.ResolveLibraryCodes(req.GetSystem(), alt)
	})
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

// ResolvePartnerCodes resolves lender codes to partners, trimmed and ignoring case. A
// Danish library number (`710100` or `DK-710100`) also finds a Netpunkt partner stored
// created under the other spelling: staff and Netpunkt write either.
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
	err = resolveAgain(typev1.ExternalSystem_EXTERNAL_SYSTEM_UNSPECIFIED, found, codes, s.store.ResolvePartnerCodes)
	if err != nil {
		return nil, err
	}
	resp := &mappingv1.ResolvePartnerCodesResponse{Resolutions: make([]*mappingv1.PartnerCodeResolution, len(codes))}
	for i, p := range found {
		resp.Resolutions[i] = &mappingv1.PartnerCodeResolution{Code: codes[i], Found: p != nil, Partner: p}
	}
	return resp, nil
}

// resolveAgain looks the codes not found up once more under their other spelling in
// system (any system's when unspecified), filling found in place.
func resolveAgain[P comparable](system typev1.ExternalSystem, found []P, codes []string, resolve func([]string) ([]P, error)) error {
	var zero P
	var retry []int
	var alt []string
	for i, p := range found {
		if other, ok := external.OtherSpelling(system, codes[i]); p == zero && ok {
			retry, alt = append(retry, i), append(alt, other)
		}
	}
	if len(alt) == 0 {
		return nil
	}
	more, err := resolve(alt)
	if err != nil {
		return err
	}
	for j, i := range retry {
		found[i] = more[j]
	}
	return nil
}

func trimAll(codes []string) []string {
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = strings.TrimSpace(c)
	}
	return out
}
