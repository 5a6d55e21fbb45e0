package api_test

import (
	"google.golang.org/grpc/codes"

	"testing"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
)

// TestNetpunktCodesResolveInEitherSpelling: a Netpunkt mapping is stored as DK-nnnnnn and
// found by either spelling in any case; partners are found under the other spelling too;
// Libris codes stay exact.
func TestNetpunktCodesResolveInEitherSpelling(t *testing.T) {
	f := newFixture(t) // NETPUNKT 710100 → KB
	ctx := t.Context()
	if f.agency.ExternalCode != "DK-710100" {
		t.Fatalf("stored external code %q, want DK-710100", f.agency.ExternalCode)
	}
	_, err := f.c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
		System: netpunkt, ExternalCode: "dk-710100", LocalLibraryCode: "GUB",
	}})
	wantError(t, err, codes.AlreadyExists, "LIBRARY_MAPPING_ALREADY_EXISTS")

	res, err := f.c.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{System: netpunkt, ExternalCodes: []string{"710100", "dk-710100", " DK-710100", "715700"}})
	noErr(t, err)
	for i, r := range res.GetResolutions() {
		if want := i < 3; r.GetFound() != want || (want && r.GetLocalLibraryCode() != "KB") {
			t.Errorf("resolution %d = %v", i, r)
		}
	}
	lib, err := f.c.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{System: libris, ExternalCodes: []string{"gbg", "Gbg"}})
	noErr(t, err)
	if lib.GetResolutions()[0].GetFound() || !lib.GetResolutions()[1].GetFound() {
		t.Errorf("Libris codes must stay case-sensitive: %v", lib.GetResolutions())
	}

	for _, code := range []string{"715700", "DK-720000"} {
		_, err := f.c.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{Code: code, DisplayName: code, System: netpunkt}})
		noErr(t, err)
	}
	pr, err := f.c.ResolvePartnerCodes(ctx, &mappingv1.ResolvePartnerCodesRequest{Codes: []string{"DK-715700", "dk-715700", "720000", "dk-720000", "DK-730000", "abc"}})
	noErr(t, err)
	for i, want := range []string{"partners/715700", "partners/715700", "partners/DK-720000", "partners/DK-720000", "", "partners/ABC"} {
		r := pr.GetResolutions()[i]
		if r.GetFound() != (want != "") || r.GetPartner().GetName() != want {
			t.Errorf("partner resolution %d (%s) = %v, want %q", i, r.GetCode(), r, want)
		}
	}
}
