package api_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/resource"
	"github.com/interloan/interloan/services/mapping/internal/api"
	"github.com/interloan/interloan/services/mapping/internal/store"
)

// fuzzPartners and fuzzSigels are what FuzzCodeNormalisation's service holds between
// inputs; every input leaves it exactly so, so a failure replays alone.
var (
	fuzzPartners = []string{"ABC", "Gbg", "K-1.x"}
	fuzzSigels   = []string{"Gbg", "S", "710100"}
)

// FuzzCodeNormalisation drives the two normalisations of codes that arrive from outside
// (partner codes: trimmed and case-folded; external library codes: trimmed, then exact)
// through the service methods, with one code as input:
//   - Resolve never fails on a code within the length limit, echoes the code as sent, and
//     finds a partner exactly when the trimmed code equals its code ignoring case, and a
//     mapping exactly when the trimmed code equals its external code;
//   - CreatePartner accepts the code exactly when it is valid and no partner's code equals
//     it ignoring case (else INVALID_ARGUMENT or ALREADY_EXISTS), and the new partner is
//     then found under the code in any case, with surrounding spaces;
//   - CreateLibraryMapping stores the code trimmed, accepts it exactly when that is a
//     valid token not yet mapped, and Resolve then finds it under the code as sent.
//
// The service is called directly, not over gRPC, whose proto encoding would refuse
// invalid UTF-8 before the service sees it: the service must not rely on that.
func FuzzCodeNormalisation(f *testing.F) {
	st, err := store.Open(filepath.Join(f.TempDir(), "mapping.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	svc := api.New(st)
	ctx := context.Background()
	if _, err := svc.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{Code: "GUB", DisplayName: "GUB"}}); err != nil {
		f.Fatal(err)
	}
	for _, code := range fuzzPartners {
		if _, err := svc.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{Code: code, DisplayName: code, System: libris}}); err != nil {
			f.Fatal(err)
		}
	}
	for _, code := range fuzzSigels {
		if _, err := svc.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{System: libris, ExternalCode: code, LocalLibraryCode: "GUB"}}); err != nil {
			f.Fatal(err)
		}
	}

	for _, seed := range []string{
		"ABC", "abc", " aBc\t", "Gbg", "GBG", "gbg ", "k-1.X", "\u212a-1.x", // Kelvin sign
		"s", "\u017f", // long s folds with S
		"NEW", "new-1", "-x", "a/b", "a b", "", " ", "\u00a0Gbg\u00a0", "Gbg\x00",
		"\xff", "ÅÄÖ", strings.Repeat("x", 63), strings.Repeat("x", 64), strings.Repeat("x", 65),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, code string) {
		trimmed := strings.TrimSpace(code)
		tooLong := utf8.RuneCountInString(code) > 64

		// Resolve.
		pr, err := svc.ResolvePartnerCodes(ctx, &mappingv1.ResolvePartnerCodesRequest{Codes: []string{code}})
		lr, lerr := svc.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{System: libris, ExternalCodes: []string{code}})
		if tooLong {
			if !apierr.IsKind(err, apierr.KindInvalidArgument) || !apierr.IsKind(lerr, apierr.KindInvalidArgument) {
				t.Fatalf("over-long code: errors %v, %v, want INVALID_ARGUMENT", err, lerr)
			}
		} else {
			if err != nil || lerr != nil {
				t.Fatalf("resolve: %v, %v", err, lerr)
			}
			wantPartner := ""
			for _, p := range fuzzPartners {
				if strings.EqualFold(trimmed, p) {
					wantPartner = p
				}
			}
			r := pr.GetResolutions()[0]
			if r.GetCode() != code || r.GetFound() != (wantPartner != "") || r.GetPartner().GetCode() != wantPartner {
				t.Fatalf("ResolvePartnerCodes(%q) = %v, want partner %q", code, r, wantPartner)
			}
			mapped := false
			for _, s := range fuzzSigels {
				mapped = mapped || trimmed == s
			}
			l := lr.GetResolutions()[0]
			if l.GetExternalCode() != code || l.GetFound() != mapped {
				t.Fatalf("ResolveLibraryCodes(%q) = %v, want found %v", code, l, mapped)
			}
		}

		// Create, look up and delete a partner with the code.
		p, err := svc.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{Code: code, DisplayName: "x", System: libris}})
		clash := false
		for _, q := range fuzzPartners {
			clash = clash || strings.EqualFold(code, q)
		}
		switch {
		case !resource.ValidCode(code):
			if !apierr.IsKind(err, apierr.KindInvalidArgument) {
				t.Fatalf("CreatePartner(%q) with an invalid code: %v, want INVALID_ARGUMENT", code, err)
			}
		case clash:
			if !apierr.IsKind(err, apierr.KindAlreadyExists) {
				t.Fatalf("CreatePartner(%q) clashing ignoring case: %v, want ALREADY_EXISTS", code, err)
			}
		case err != nil:
			t.Fatalf("CreatePartner(%q): %v", code, err)
		default:
			variants := []string{code, strings.ToLower(code), strings.ToUpper(code)}
			if len(code) < 63 { // a valid code is ASCII; the padded one must stay within the limit
				variants = append(variants, " "+strings.ToLower(code)+"\t")
			}
			res, err := svc.ResolvePartnerCodes(ctx, &mappingv1.ResolvePartnerCodesRequest{Codes: variants})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res.GetResolutions() {
				if !r.GetFound() || r.GetPartner().GetCode() != code {
					t.Errorf("new partner %q not found as %q: %v", code, variants[i], r)
				}
			}
			if _, err := svc.DeletePartner(ctx, &mappingv1.DeletePartnerRequest{Name: p.GetName()}); err != nil {
				t.Fatalf("delete %s: %v", p.GetName(), err)
			}
		}

		// Create, look up and delete a library mapping with the code.
		m, err := svc.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{System: libris, ExternalCode: code, LocalLibraryCode: "GUB"}})
		validToken := trimmed != "" && utf8.ValidString(trimmed) && utf8.RuneCountInString(trimmed) <= 64 &&
			!strings.ContainsFunc(trimmed, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
		taken := false
		for _, s := range fuzzSigels {
			taken = taken || trimmed == s
		}
		switch {
		case !validToken:
			if !apierr.IsKind(err, apierr.KindInvalidArgument) {
				t.Fatalf("CreateLibraryMapping(%q) with an invalid code: %v, want INVALID_ARGUMENT", code, err)
			}
		case taken:
			if !apierr.IsKind(err, apierr.KindAlreadyExists) {
				t.Fatalf("CreateLibraryMapping(%q) of a mapped code: %v, want ALREADY_EXISTS", code, err)
			}
		case err != nil:
			t.Fatalf("CreateLibraryMapping(%q): %v", code, err)
		default:
			if m.GetExternalCode() != trimmed {
				t.Errorf("stored external code %q, want %q trimmed", m.GetExternalCode(), code)
			}
			if !tooLong {
				res, err := svc.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{System: libris, ExternalCodes: []string{code}})
				if err != nil || !res.GetResolutions()[0].GetFound() || res.GetResolutions()[0].GetLibraryMapping() != m.GetName() {
					t.Errorf("new mapping %q not resolved: %v, %v", code, res, err)
				}
			}
			if _, err := svc.DeleteLibraryMapping(ctx, &mappingv1.DeleteLibraryMappingRequest{Name: m.GetName()}); err != nil {
				t.Fatalf("delete %s: %v", m.GetName(), err)
			}
		}
	})
}
