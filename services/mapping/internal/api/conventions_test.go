package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	"github.com/interloan/interloan/platform/server/servertest"
)

const invalidArgument = "INVALID_ARGUMENT"

// resourceMsg is any of the three resources.
type resourceMsg interface {
	proto.Message
	GetName() string
	GetEtag() string
}

// violation returns the description of the BadRequest violation on field, or "".
func violation(err error, field string) string {
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return v.GetDescription()
				}
			}
		}
	}
	return ""
}

// TestCreateRequestID checks AIP-155 idempotent creates for every resource: a retry
// returns the first resource and creates nothing, a request ID reused for another
// resource is refused, and a retry after a delete creates anew.
func TestCreateRequestID(t *testing.T) {
	f := newFixture(t)
	c := f.c
	count := func(t *testing.T) int {
		snap := f.snapshot(t)
		return len(snap[0].(*mappingv1.ListLibrariesResponse).GetLibraries()) +
			len(snap[1].(*mappingv1.ListLibraryMappingsResponse).GetLibraryMappings()) +
			len(snap[2].(*mappingv1.ListPartnersResponse).GetPartners())
	}
	for _, tc := range []struct {
		name   string
		create func(ctx context.Context, requestID string, m proto.Message) (resourceMsg, error)
		delete func(ctx context.Context, r resourceMsg) error
		first  proto.Message
		// retries ask for the same resource: they return the first one.
		retries []proto.Message
		// others ask for another resource: refused while the first exists.
		others []proto.Message
	}{
		{
			name: "Library",
			create: func(ctx context.Context, id string, m proto.Message) (resourceMsg, error) {
				return c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: m.(*mappingv1.Library), RequestId: id})
			},
			delete: func(ctx context.Context, r resourceMsg) error {
				_, err := c.DeleteLibrary(ctx, &mappingv1.DeleteLibraryRequest{Name: r.GetName(), Etag: r.GetEtag()})
				return err
			},
			first:   &mappingv1.Library{Code: "UUB", DisplayName: "Uppsala"},
			retries: []proto.Message{&mappingv1.Library{Code: "UUB", DisplayName: "Uppsala UB"}},
			others:  []proto.Message{&mappingv1.Library{Code: "LUB", DisplayName: "Lund"}, &mappingv1.Library{Code: "uub", DisplayName: "Uppsala"}},
		},
		{
			name: "LibraryMapping",
			create: func(ctx context.Context, id string, m proto.Message) (resourceMsg, error) {
				return c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: m.(*mappingv1.LibraryMapping), RequestId: id})
			},
			delete: func(ctx context.Context, r resourceMsg) error {
				_, err := c.DeleteLibraryMapping(ctx, &mappingv1.DeleteLibraryMappingRequest{Name: r.GetName(), Etag: r.GetEtag()})
				return err
			},
			first: &mappingv1.LibraryMapping{System: libris, ExternalCode: "U", LocalLibraryCode: "GUB"},
			retries: []proto.Message{
				&mappingv1.LibraryMapping{System: libris, ExternalCode: " U ", LocalLibraryCode: "GUB"},
				&mappingv1.LibraryMapping{System: libris, ExternalCode: "U", LocalLibraryCode: "KB"},
			},
			others: []proto.Message{
				&mappingv1.LibraryMapping{System: netpunkt, ExternalCode: "U", LocalLibraryCode: "GUB"},
				&mappingv1.LibraryMapping{System: libris, ExternalCode: "u", LocalLibraryCode: "GUB"},
			},
		},
		{
			name: "Partner",
			create: func(ctx context.Context, id string, m proto.Message) (resourceMsg, error) {
				return c.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: m.(*mappingv1.Partner), RequestId: id})
			},
			delete: func(ctx context.Context, r resourceMsg) error {
				_, err := c.DeletePartner(ctx, &mappingv1.DeletePartnerRequest{Name: r.GetName(), Etag: r.GetEtag()})
				return err
			},
			first:   &mappingv1.Partner{Code: "XYZ", DisplayName: "XYZ", System: libris},
			retries: []proto.Message{&mappingv1.Partner{Code: "XYZ", DisplayName: "Renamed", System: netpunkt}},
			others:  []proto.Message{&mappingv1.Partner{Code: "xyz", DisplayName: "XYZ", System: libris}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			requestID := "3f2c9a4e-" + tc.name
			n := count(t)
			first, err := tc.create(ctx, requestID, tc.first)
			noErr(t, err)
			for _, m := range append([]proto.Message{tc.first}, tc.retries...) {
				got, err := tc.create(ctx, requestID, m)
				noErr(t, err)
				equal(t, got, first)
			}
			if got := count(t); got != n+1 {
				t.Errorf("%d resources after retries, want %d", got, n+1)
			}
			// Without the request ID, the same create is a duplicate.
			_, err = tc.create(ctx, "", tc.first)
			if status.Code(err) != codes.AlreadyExists {
				t.Errorf("create without request_id = %v, want ALREADY_EXISTS", err)
			}

			before := f.snapshot(t)
			for _, m := range tc.others {
				_, err := tc.create(ctx, requestID, m)
				servertest.RequireError(t, err, codes.InvalidArgument, invalidArgument, "request_id")
				if d := violation(err, "request_id"); !strings.Contains(d, first.GetName()) {
					t.Errorf("violation %q does not name %s", d, first.GetName())
				}
			}
			_, err = tc.create(ctx, strings.Repeat("r", 129), tc.first)
			servertest.RequireError(t, err, codes.InvalidArgument, invalidArgument, "request_id")
			after := f.snapshot(t)
			for i := range before {
				equal(t, after[i], before[i])
			}

			// Once the resource is deleted, the request ID creates anew.
			noErr(t, tc.delete(ctx, first))
			again, err := tc.create(ctx, requestID, tc.first)
			noErr(t, err)
			// A mapping gets a new server-assigned name; a code names the same resource again.
			if sameName := again.GetName() == first.GetName(); sameName == (tc.name == "LibraryMapping") {
				t.Errorf("re-created %s after deleting %s", again.GetName(), first.GetName())
			}
			retry, err := tc.create(ctx, requestID, tc.first)
			noErr(t, err)
			equal(t, retry, again)
			if got := count(t); got != n+1 {
				t.Errorf("%d resources after re-create, want %d", got, n+1)
			}

			// 128 characters is the limit, counted in characters, not bytes.
			_, err = tc.create(ctx, strings.Repeat("å", 128), tc.first)
			if status.Code(err) != codes.AlreadyExists {
				t.Errorf("128-character request_id: %v, want ALREADY_EXISTS (accepted, then a duplicate)", err)
			}
		})
	}
}

// TestImmutableFields checks AIP-203: an update that changes an immutable field is
// refused naming every such field, whatever the mask, and changes nothing; the unchanged
// value may be sent back, so Get then Update of the whole resource works.
func TestImmutableFields(t *testing.T) {
	f := newFixture(t)
	c := f.c
	before := f.snapshot(t)
	for _, tc := range []struct {
		name   string
		call   func(context.Context) error
		fields []string
	}{
		{"Library/implied mask", func(ctx context.Context) error {
			_, err := c.UpdateLibrary(ctx, &mappingv1.UpdateLibraryRequest{Library: &mappingv1.Library{
				Name: f.gub.Name, Code: "NEW", DisplayName: "x",
			}})
			return err
		}, []string{"library.code"}},
		{"Library/explicit mask", func(ctx context.Context) error {
			_, err := c.UpdateLibrary(ctx, &mappingv1.UpdateLibraryRequest{
				Library: &mappingv1.Library{Name: f.gub.Name, Code: "gub", DisplayName: "x"}, UpdateMask: mask("display_name"),
			})
			return err
		}, []string{"library.code"}},
		{"LibraryMapping/implied mask", func(ctx context.Context) error {
			_, err := c.UpdateLibraryMapping(ctx, &mappingv1.UpdateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
				Name: f.gbg.Name, System: netpunkt, ExternalCode: "x", LocalLibraryCode: "KB",
			}})
			return err
		}, []string{"library_mapping.system", "library_mapping.external_code"}},
		{"LibraryMapping/* mask", func(ctx context.Context) error {
			_, err := c.UpdateLibraryMapping(ctx, &mappingv1.UpdateLibraryMappingRequest{
				LibraryMapping: &mappingv1.LibraryMapping{Name: f.gbg.Name, System: libris, ExternalCode: "GBG", LocalLibraryCode: "KB"},
				UpdateMask:     mask("*"),
			})
			return err
		}, []string{"library_mapping.external_code"}},
		{"LibraryMapping/whole resource with another code", func(ctx context.Context) error {
			m := proto.CloneOf(f.agency)
			m.ExternalCode, m.LocalLibraryCode = "710101", "GUB"
			_, err := c.UpdateLibraryMapping(ctx, &mappingv1.UpdateLibraryMappingRequest{LibraryMapping: m})
			return err
		}, []string{"library_mapping.external_code"}},
		{"Partner/implied mask", func(ctx context.Context) error {
			_, err := c.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{Partner: &mappingv1.Partner{
				Name: f.abc.Name, Code: "ABD", DisplayName: "x",
			}})
			return err
		}, []string{"partner.code"}},
		{"Partner/code differing in case", func(ctx context.Context) error {
			p := proto.CloneOf(f.abc)
			p.Code, p.DisplayName = "abc", "x"
			_, err := c.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{Partner: p, UpdateMask: mask("*")})
			return err
		}, []string{"partner.code"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			servertest.RequireError(t, tc.call(t.Context()), codes.InvalidArgument, invalidArgument, tc.fields...)
		})
	}
	after := f.snapshot(t)
	for i := range before {
		equal(t, after[i], before[i])
	}

	// Get, change an updatable field, send the whole resource back: with and without `*`.
	ctx := t.Context()
	for _, m := range []string{"", "*"} {
		var um []string
		if m != "" {
			um = []string{m}
		}
		lib, err := c.GetLibrary(ctx, &mappingv1.GetLibraryRequest{Name: f.gub.Name})
		noErr(t, err)
		lib.DisplayName = "GUB " + m
		got, err := c.UpdateLibrary(ctx, &mappingv1.UpdateLibraryRequest{Library: lib, UpdateMask: mask(um...)})
		noErr(t, err)
		if got.DisplayName != lib.DisplayName || got.Code != "GUB" || !got.IsResourceSharingLibrary {
			t.Errorf("library write-back %q = %v", m, got)
		}

		mp, err := c.GetLibraryMapping(ctx, &mappingv1.GetLibraryMappingRequest{Name: f.gbg.Name})
		noErr(t, err)
		mp.LocalLibraryCode = map[string]string{"": "KB", "*": "GUB"}[m]
		gotM, err := c.UpdateLibraryMapping(ctx, &mappingv1.UpdateLibraryMappingRequest{LibraryMapping: mp, UpdateMask: mask(um...)})
		noErr(t, err)
		if gotM.LocalLibraryCode != mp.LocalLibraryCode || gotM.ExternalCode != "Gbg" || gotM.System != libris {
			t.Errorf("mapping write-back %q = %v", m, gotM)
		}

		p, err := c.GetPartner(ctx, &mappingv1.GetPartnerRequest{Name: f.abc.Name})
		noErr(t, err)
		p.DisplayName, p.Status = "ABC "+m, inactive
		gotP, err := c.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{Partner: p, UpdateMask: mask(um...)})
		noErr(t, err)
		if gotP.DisplayName != p.DisplayName || gotP.Status != inactive || gotP.Code != "ABC" || gotP.Contact.GetPerson() != "Anna" {
			t.Errorf("partner write-back %q = %v", m, gotP)
		}
	}
}

// TestResolveCodeLength checks the per-code cap of both Resolve calls: every offending
// index is named (up to ten, then one summary), codes at the cap are answered, and a
// refused batch is refused whole.
func TestResolveCodeLength(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	long := strings.Repeat("G", 65)
	atCap := " " + strings.Repeat("å", 62) + " " // 64 characters, 128+ bytes, trimmed to 62

	resp, err := f.c.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{System: libris, ExternalCodes: []string{atCap, "Gbg"}})
	noErr(t, err)
	if r := resp.GetResolutions(); len(r) != 2 || r[0].Found || r[0].ExternalCode != atCap || !r[1].Found {
		t.Errorf("resolutions = %v", r)
	}
	presp, err := f.c.ResolvePartnerCodes(ctx, &mappingv1.ResolvePartnerCodesRequest{Codes: []string{atCap, " \t", "abc"}})
	noErr(t, err)
	if r := presp.GetResolutions(); len(r) != 3 || r[0].Found || r[1].Found || !r[2].Found {
		t.Errorf("resolutions = %v", r)
	}

	many := make([]string, 15)
	var manyFields []string
	for i := range many {
		many[i] = long
		if i < 10 {
			manyFields = append(manyFields, fmt.Sprintf("codes[%d]", i))
		}
	}
	for _, tc := range []struct {
		name   string
		call   func(context.Context) error
		fields []string
	}{
		{"library codes", func(ctx context.Context) error {
			_, err := f.c.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{
				System: libris, ExternalCodes: []string{"Gbg", long, "", " " + strings.Repeat("G", 64), atCap},
			})
			return err
		}, []string{"external_codes[1]", "external_codes[3]"}},
		{"library codes and no system", func(ctx context.Context) error {
			_, err := f.c.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{ExternalCodes: []string{long}})
			return err
		}, []string{"system", "external_codes[0]"}},
		{"partner codes", func(ctx context.Context) error {
			_, err := f.c.ResolvePartnerCodes(ctx, &mappingv1.ResolvePartnerCodesRequest{Codes: []string{long, "abc", strings.Repeat("å", 65)}})
			return err
		}, []string{"codes[0]", "codes[2]"}},
		{"at most ten indexes, then a summary", func(ctx context.Context) error {
			_, err := f.c.ResolvePartnerCodes(ctx, &mappingv1.ResolvePartnerCodesRequest{Codes: many})
			return err
		}, append(manyFields, "codes")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			servertest.RequireError(t, tc.call(t.Context()), codes.InvalidArgument, invalidArgument, tc.fields...)
		})
	}
}
