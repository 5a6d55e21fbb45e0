package api_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/server/servertest"
	"github.com/interloan/interloan/services/mapping/internal/api"
	"github.com/interloan/interloan/services/mapping/internal/store"
)

const (
	libris   = typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS
	netpunkt = typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT
	active   = mappingv1.PartnerStatus_PARTNER_STATUS_ACTIVE
	inactive = mappingv1.PartnerStatus_PARTNER_STATUS_INACTIVE
)

// newClient serves a fresh service over bufconn, with the production interceptors and a
// real bbolt file.
func newClient(t *testing.T) mappingv1.MappingServiceClient {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "mapping.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // registered first, so it runs after the server stops
	svc := api.New(st)
	conn := servertest.Dial(t, func(s *grpc.Server) { mappingv1.RegisterMappingServiceServer(s, svc) })
	return mappingv1.NewMappingServiceClient(conn)
}

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

// wantError asserts err's gRPC code and ErrorInfo reason, and that its BadRequest names
// exactly fields (none when fields is empty). It returns the ErrorInfo metadata.
func wantError(t *testing.T, err error, code codes.Code, reason string, fields ...string) map[string]string {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code {
		t.Fatalf("code = %v (%v), want %v", st.Code(), err, code)
	}
	var info *errdetails.ErrorInfo
	var got []string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				got = append(got, v.GetField())
			}
		}
	}
	if info.GetReason() != reason {
		t.Errorf("reason = %q (%v), want %q", info.GetReason(), err, reason)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(fields))
	if !slices.Equal(got, want) {
		t.Errorf("violations = %v (%v), want %v", got, err, want)
	}
	return info.GetMetadata()
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func equal(t *testing.T, got, want proto.Message) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

// fixture is a small catalogue most tests start from.
type fixture struct {
	c           mappingv1.MappingServiceClient
	gub, kb     *mappingv1.Library
	gbg, agency *mappingv1.LibraryMapping // LIBRIS Gbg → GUB, NETPUNKT 710100 → KB
	abc         *mappingv1.Partner
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := t.Context()
	f := fixture{c: newClient(t)}
	var err error
	f.gub, err = f.c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{
		Code: "GUB", DisplayName: "Göteborgs universitetsbibliotek", IsResourceSharingLibrary: true,
	}})
	noErr(t, err)
	f.kb, err = f.c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{
		Code: "KB", DisplayName: "Kungliga biblioteket",
	}})
	noErr(t, err)
	f.gbg, err = f.c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
		System: libris, ExternalCode: "Gbg", LocalLibraryCode: "GUB",
	}})
	noErr(t, err)
	f.agency, err = f.c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
		System: netpunkt, ExternalCode: "710100", LocalLibraryCode: "KB",
	}})
	noErr(t, err)
	f.abc, err = f.c.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{
		Code: "ABC", DisplayName: "ABC bibliotek", System: libris,
		Contact: &mappingv1.Contact{Person: "Anna", Email: "ill@abc.example"},
	}})
	noErr(t, err)
	return f
}

// snapshot is everything the service holds, to prove refused calls change nothing.
func (f fixture) snapshot(t *testing.T) []proto.Message {
	t.Helper()
	ctx := t.Context()
	libs, err := f.c.ListLibraries(ctx, &mappingv1.ListLibrariesRequest{PageSize: 1000})
	noErr(t, err)
	maps, err := f.c.ListLibraryMappings(ctx, &mappingv1.ListLibraryMappingsRequest{PageSize: 1000})
	noErr(t, err)
	partners, err := f.c.ListPartners(ctx, &mappingv1.ListPartnersRequest{PageSize: 1000})
	noErr(t, err)
	return []proto.Message{libs, maps, partners}
}

func TestLibraries(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()

	// Output-only input is ignored; the server sets name, times and etag.
	created, err := f.c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{
		Name: "libraries/forged", Code: "UUB", DisplayName: "Uppsala universitetsbibliotek",
		CreateTime: &timestamppb.Timestamp{Seconds: 946684800}, Etag: "forged",
	}})
	noErr(t, err)
	if created.Name != "libraries/UUB" || created.Etag == "forged" || created.Etag == "" ||
		!proto.Equal(created.CreateTime, created.UpdateTime) {
		t.Fatalf("created = %v", created)
	}
	got, err := f.c.GetLibrary(ctx, &mappingv1.GetLibraryRequest{Name: "libraries/UUB"})
	noErr(t, err)
	equal(t, got, created)

	list, err := f.c.ListLibraries(ctx, &mappingv1.ListLibrariesRequest{})
	noErr(t, err)
	equal(t, list, &mappingv1.ListLibrariesResponse{Libraries: []*mappingv1.Library{f.gub, f.kb, created}})

	// Implied mask: only the fields set in the input change.
	renamed, err := f.c.UpdateLibrary(ctx, &mappingv1.UpdateLibraryRequest{Library: &mappingv1.Library{
		Name: f.gub.Name, DisplayName: "Universitetsbiblioteket", Etag: f.gub.Etag,
	}})
	noErr(t, err)
	if renamed.DisplayName != "Universitetsbiblioteket" || !renamed.IsResourceSharingLibrary ||
		!proto.Equal(renamed.CreateTime, f.gub.CreateTime) || renamed.Etag == f.gub.Etag {
		t.Errorf("implied-mask update = %v", renamed)
	}
	// `*` replaces every updatable field: the omitted flag is cleared.
	replaced, err := f.c.UpdateLibrary(ctx, &mappingv1.UpdateLibraryRequest{
		Library:    &mappingv1.Library{Name: f.gub.Name, DisplayName: "GUB"},
		UpdateMask: mask("*"),
	})
	noErr(t, err)
	if replaced.DisplayName != "GUB" || replaced.IsResourceSharingLibrary || replaced.Code != "GUB" {
		t.Errorf("*-mask update = %v", replaced)
	}
	// A stale etag is refused.
	_, err = f.c.UpdateLibrary(ctx, &mappingv1.UpdateLibraryRequest{Library: &mappingv1.Library{
		Name: f.gub.Name, DisplayName: "Lost update", Etag: renamed.Etag,
	}})
	wantError(t, err, codes.Aborted, "ETAG_MISMATCH")

	_, err = f.c.DeleteLibrary(ctx, &mappingv1.DeleteLibraryRequest{Name: created.Name, Etag: created.Etag})
	noErr(t, err)
	_, err = f.c.GetLibrary(ctx, &mappingv1.GetLibraryRequest{Name: created.Name})
	wantError(t, err, codes.NotFound, "LIBRARY_NOT_FOUND")
}

func TestLibraryMappings(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if f.gbg.Name != "libraryMappings/1" || f.agency.Name != "libraryMappings/2" {
		t.Fatalf("names = %s, %s", f.gbg.Name, f.agency.Name)
	}

	// External codes are stored trimmed; Libris sigels differing in case are different
	// codes, and one code may be mapped in each system.
	upper, err := f.c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
		System: libris, ExternalCode: "  GBG\t", LocalLibraryCode: "KB", Name: "libraryMappings/77",
	}})
	noErr(t, err)
	if upper.ExternalCode != "GBG" || upper.Name != "libraryMappings/3" || upper.Etag == "" {
		t.Errorf("created = %v", upper)
	}
	_, err = f.c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
		System: netpunkt, ExternalCode: "Gbg", LocalLibraryCode: "GUB",
	}})
	noErr(t, err)

	got, err := f.c.GetLibraryMapping(ctx, &mappingv1.GetLibraryMappingRequest{Name: upper.Name})
	noErr(t, err)
	equal(t, got, upper)

	// Implied mask, then `*`: only local_library_code can change.
	moved, err := f.c.UpdateLibraryMapping(ctx, &mappingv1.UpdateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
		Name: upper.Name, LocalLibraryCode: "GUB", Etag: upper.Etag,
	}})
	noErr(t, err)
	if moved.LocalLibraryCode != "GUB" || moved.ExternalCode != "GBG" || moved.Etag == upper.Etag {
		t.Errorf("implied-mask update = %v", moved)
	}
	// Immutable fields may be sent back unchanged (compared as stored: trimmed).
	moved, err = f.c.UpdateLibraryMapping(ctx, &mappingv1.UpdateLibraryMappingRequest{
		LibraryMapping: &mappingv1.LibraryMapping{Name: upper.Name, LocalLibraryCode: "KB", ExternalCode: " GBG ", System: libris},
		UpdateMask:     mask("*"),
	})
	noErr(t, err)
	if moved.LocalLibraryCode != "KB" || moved.ExternalCode != "GBG" || moved.System != libris {
		t.Errorf("*-mask update = %v", moved)
	}

	// A library cannot be deleted while mappings point at it; the error says how many.
	_, err = f.c.DeleteLibrary(ctx, &mappingv1.DeleteLibraryRequest{Name: f.kb.Name})
	md := wantError(t, err, codes.FailedPrecondition, "LIBRARY_IN_USE")
	if md["library_mappings"] != "2" || md["name"] != "libraries/KB" {
		t.Errorf("metadata = %v", md)
	}
	for _, m := range []*mappingv1.LibraryMapping{moved, f.agency} {
		_, err = f.c.DeleteLibraryMapping(ctx, &mappingv1.DeleteLibraryMappingRequest{Name: m.Name, Etag: m.Etag})
		noErr(t, err)
	}
	_, err = f.c.GetLibraryMapping(ctx, &mappingv1.GetLibraryMappingRequest{Name: moved.Name})
	wantError(t, err, codes.NotFound, "LIBRARY_MAPPING_NOT_FOUND")
	_, err = f.c.DeleteLibrary(ctx, &mappingv1.DeleteLibraryRequest{Name: f.kb.Name})
	noErr(t, err)

	// A deleted code can be mapped again, under a new name.
	again, err := f.c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
		System: libris, ExternalCode: "GBG", LocalLibraryCode: "GUB",
	}})
	noErr(t, err)
	if again.Name != "libraryMappings/5" {
		t.Errorf("re-created mapping is %s, want libraryMappings/5", again.Name)
	}
}

func TestPartners(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if f.abc.Status != active || f.abc.Name != "partners/ABC" {
		t.Errorf("created = %v, want ACTIVE by default", f.abc)
	}

	// Codes are unique ignoring case; Get is exact.
	_, err := f.c.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{
		Code: "abc", DisplayName: "Another", System: netpunkt,
	}})
	if md := wantError(t, err, codes.AlreadyExists, "PARTNER_ALREADY_EXISTS"); md["name"] != "partners/ABC" {
		t.Errorf("metadata = %v, want the partner holding the code", md)
	}
	_, err = f.c.GetPartner(ctx, &mappingv1.GetPartnerRequest{Name: "partners/abc"})
	wantError(t, err, codes.NotFound, "PARTNER_NOT_FOUND")
	got, err := f.c.GetPartner(ctx, &mappingv1.GetPartnerRequest{Name: "partners/ABC"})
	noErr(t, err)
	equal(t, got, f.abc)

	xyz, err := f.c.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{
		Code: "XYZ", DisplayName: "XYZ library", System: netpunkt, Status: inactive,
		Contact: &mappingv1.Contact{Address: "Box 1\n123 45 Staden"},
	}})
	noErr(t, err)

	// A subfield mask changes only that subfield.
	updated, err := f.c.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{
		Partner:    &mappingv1.Partner{Name: f.abc.Name, Contact: &mappingv1.Contact{Email: "fjarrlan@abc.example"}},
		UpdateMask: mask("contact.email"),
	})
	noErr(t, err)
	if updated.Contact.GetEmail() != "fjarrlan@abc.example" || updated.Contact.GetPerson() != "Anna" || updated.DisplayName != f.abc.DisplayName {
		t.Errorf("subfield update = %v", updated)
	}
	// Implied mask from the set fields.
	updated, err = f.c.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{Partner: &mappingv1.Partner{
		Name: f.abc.Name, Status: inactive, Etag: updated.Etag,
	}})
	noErr(t, err)
	if updated.Status != inactive || updated.Contact.GetPerson() != "Anna" {
		t.Errorf("implied-mask update = %v", updated)
	}
	// `*` is a full replace: omitted fields take their defaults (status ACTIVE, no contact).
	updated, err = f.c.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{
		Partner:    &mappingv1.Partner{Name: f.abc.Name, DisplayName: "ABC", System: netpunkt},
		UpdateMask: mask("*"),
	})
	noErr(t, err)
	if updated.Status != active || updated.Contact != nil || updated.System != netpunkt || updated.Code != "ABC" {
		t.Errorf("*-mask update = %v", updated)
	}

	for _, tc := range []struct {
		req  *mappingv1.ListPartnersRequest
		want []*mappingv1.Partner
	}{
		{&mappingv1.ListPartnersRequest{}, []*mappingv1.Partner{updated, xyz}},
		{&mappingv1.ListPartnersRequest{Status: inactive}, []*mappingv1.Partner{xyz}},
		{&mappingv1.ListPartnersRequest{Status: active, System: libris}, nil},
	} {
		list, err := f.c.ListPartners(ctx, tc.req)
		noErr(t, err)
		equal(t, list, &mappingv1.ListPartnersResponse{Partners: tc.want})
	}

	_, err = f.c.DeletePartner(ctx, &mappingv1.DeletePartnerRequest{Name: f.abc.Name, Etag: updated.Etag})
	noErr(t, err)
	_, err = f.c.GetPartner(ctx, &mappingv1.GetPartnerRequest{Name: f.abc.Name})
	wantError(t, err, codes.NotFound, "PARTNER_NOT_FOUND")
	// Deleting frees the code in every case.
	_, err = f.c.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{
		Code: "abc", DisplayName: "abc", System: libris,
	}})
	noErr(t, err)
}

func TestPaging(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	for _, code := range []string{"E", "A", "D", "B", "C"} {
		_, err := c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{Code: code, DisplayName: code}})
		noErr(t, err)
	}
	var seen []string
	pages := 0
	for tok := ""; ; {
		resp, err := c.ListLibraries(ctx, &mappingv1.ListLibrariesRequest{PageSize: 2, PageToken: tok})
		noErr(t, err)
		pages++
		for _, l := range resp.Libraries {
			seen = append(seen, l.Code)
		}
		if tok = resp.NextPageToken; tok == "" {
			break
		}
	}
	if got := strings.Join(seen, ""); got != "ABCDE" || pages != 3 {
		t.Errorf("libraries %q in %d pages, want ABCDE in 3", got, pages)
	}

	// Mappings: ordered by system, then external code, whatever the creation order.
	for _, m := range []struct {
		system typev1.ExternalSystem
		code   string
		lib    string
	}{
		{netpunkt, "2", "A"}, {libris, "d", "B"}, {libris, "b", "A"}, {netpunkt, "1", "B"},
		{libris, "a", "B"}, {libris, "e", "A"}, {libris, "c", "A"},
	} {
		_, err := c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
			System: m.system, ExternalCode: m.code, LocalLibraryCode: m.lib,
		}})
		noErr(t, err)
	}
	for _, tc := range []struct {
		req  *mappingv1.ListLibraryMappingsRequest
		want string
	}{
		{&mappingv1.ListLibraryMappingsRequest{}, "a b c d e 1 2"},
		{&mappingv1.ListLibraryMappingsRequest{System: libris}, "a b c d e"},
		{&mappingv1.ListLibraryMappingsRequest{LocalLibraryCode: "A"}, "b c e 2"},
		{&mappingv1.ListLibraryMappingsRequest{LocalLibraryCode: "B", System: netpunkt}, "1"},
	} {
		var got []string
		req := proto.CloneOf(tc.req)
		req.PageSize = 2
		pages := 0
		for {
			resp, err := c.ListLibraryMappings(ctx, req)
			noErr(t, err)
			pages++
			for _, m := range resp.LibraryMappings {
				got = append(got, m.ExternalCode)
			}
			if req.PageToken = resp.NextPageToken; req.PageToken == "" {
				break
			}
		}
		// Full pages, and no empty page after the last item.
		if g := strings.Join(got, " "); g != tc.want || pages != (len(got)+1)/2 {
			t.Errorf("%v: got %q in %d pages, want %q", tc.req, g, pages, tc.want)
		}
	}

	// A token only continues the listing it came from.
	first, err := c.ListLibraryMappings(ctx, &mappingv1.ListLibraryMappingsRequest{System: libris, PageSize: 2})
	noErr(t, err)
	for _, req := range []*mappingv1.ListLibraryMappingsRequest{
		{System: netpunkt, PageToken: first.NextPageToken},
		{PageToken: first.NextPageToken},
		{System: libris, LocalLibraryCode: "A", PageToken: first.NextPageToken},
	} {
		_, err := c.ListLibraryMappings(ctx, req)
		wantError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "page_token")
	}
	_, err = c.ListLibraries(ctx, &mappingv1.ListLibrariesRequest{PageToken: first.NextPageToken})
	wantError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "page_token")
	next, err := c.ListLibraryMappings(ctx, &mappingv1.ListLibraryMappingsRequest{System: libris, PageSize: 2, PageToken: first.NextPageToken})
	noErr(t, err)
	if len(next.LibraryMappings) != 2 || next.LibraryMappings[0].ExternalCode != "c" {
		t.Errorf("second page = %v", next)
	}
}

func TestResolveLibraryCodes(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()

	resp, err := f.c.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{
		System: libris, ExternalCodes: []string{" Gbg ", "GBG", "Gbg", "gbg", "710100", ""},
	})
	noErr(t, err)
	hit := func(code string) *mappingv1.LibraryCodeResolution {
		return &mappingv1.LibraryCodeResolution{ExternalCode: code, Found: true, LocalLibraryCode: "GUB", LibraryMapping: f.gbg.Name}
	}
	miss := func(code string) *mappingv1.LibraryCodeResolution {
		return &mappingv1.LibraryCodeResolution{ExternalCode: code}
	}
	// Libris sigels are case-sensitive: Gbg is mapped, GBG and gbg are not; a NETPUNKT
	// code is not found under LIBRIS.
	equal(t, resp, &mappingv1.ResolveLibraryCodesResponse{Resolutions: []*mappingv1.LibraryCodeResolution{
		hit(" Gbg "), miss("GBG"), hit("Gbg"), miss("gbg"), miss("710100"), miss(""),
	}})

	resp, err = f.c.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{
		System: netpunkt, ExternalCodes: []string{"0710100", "710100"},
	})
	noErr(t, err)
	equal(t, resp, &mappingv1.ResolveLibraryCodesResponse{Resolutions: []*mappingv1.LibraryCodeResolution{
		miss("0710100"),
		{ExternalCode: "710100", Found: true, LocalLibraryCode: "KB", LibraryMapping: f.agency.Name},
	}})

	// The largest batch is accepted and answered in order.
	batch := make([]string, 1000)
	for i := range batch {
		batch[i] = fmt.Sprint("X", i)
	}
	batch[999] = "Gbg"
	resp, err = f.c.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{System: libris, ExternalCodes: batch})
	noErr(t, err)
	if n := len(resp.Resolutions); n != 1000 || resp.Resolutions[0].Found || !resp.Resolutions[999].Found {
		t.Errorf("%d resolutions, first %v, last %v", n, resp.Resolutions[0], resp.Resolutions[n-1])
	}
}

func TestResolvePartnerCodes(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()

	resp, err := f.c.ResolvePartnerCodes(ctx, &mappingv1.ResolvePartnerCodesRequest{Codes: []string{"  abc ", "ABC", "aBc", "abd", ""}})
	noErr(t, err)
	hit := func(code string) *mappingv1.PartnerCodeResolution {
		return &mappingv1.PartnerCodeResolution{Code: code, Found: true, Partner: f.abc}
	}
	equal(t, resp, &mappingv1.ResolvePartnerCodesResponse{Resolutions: []*mappingv1.PartnerCodeResolution{
		hit("  abc "), hit("ABC"), hit("aBc"), {Code: "abd"}, {Code: ""},
	}})

	batch := slices.Repeat([]string{"abc"}, 1000)
	resp, err = f.c.ResolvePartnerCodes(ctx, &mappingv1.ResolvePartnerCodesRequest{Codes: batch})
	noErr(t, err)
	if len(resp.Resolutions) != 1000 || !resp.Resolutions[999].Found {
		t.Errorf("%d resolutions", len(resp.Resolutions))
	}
}

// TestInvalidInput sends every RPC requests it must refuse, checking the code, the
// ErrorInfo reason and the BadRequest fields, and then that nothing changed.
func TestInvalidInput(t *testing.T) {
	f := newFixture(t)
	c := f.c
	before := f.snapshot(t)
	long := strings.Repeat("x", 201)
	tooMany := make([]string, 1001)
	firstPage, err := c.ListLibraryMappings(t.Context(), &mappingv1.ListLibraryMappingsRequest{PageSize: 1})
	noErr(t, err)

	const (
		invalid = codes.InvalidArgument
		reason  = "INVALID_ARGUMENT"
	)
	for _, tc := range []struct {
		name   string
		call   func(context.Context) error
		code   codes.Code
		reason string
		fields []string
	}{
		// CreateLibrary
		{"CreateLibrary/empty", func(ctx context.Context) error {
			_, err := c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{})
			return err
		}, invalid, reason, []string{"library.code", "library.display_name"}},
		{"CreateLibrary/bad code and long name", func(ctx context.Context) error {
			_, err := c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{Code: "a b", DisplayName: long}})
			return err
		}, invalid, reason, []string{"library.code", "library.display_name"}},
		{"CreateLibrary/blank name", func(ctx context.Context) error {
			_, err := c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{Code: "NEW", DisplayName: " \t"}})
			return err
		}, invalid, reason, []string{"library.display_name"}},
		{"CreateLibrary/control character", func(ctx context.Context) error {
			_, err := c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{Code: "NEW", DisplayName: "a\x07b"}})
			return err
		}, invalid, reason, []string{"library.display_name"}},
		{"CreateLibrary/exists", func(ctx context.Context) error {
			_, err := c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{Code: "GUB", DisplayName: "again"}})
			return err
		}, codes.AlreadyExists, "LIBRARY_ALREADY_EXISTS", nil},

		{"CreateLibrary/long request_id and bad code", func(ctx context.Context) error {
			_, err := c.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{
				Library: &mappingv1.Library{Code: "a b", DisplayName: "x"}, RequestId: strings.Repeat("r", 129),
			})
			return err
		}, invalid, reason, []string{"request_id", "library.code"}},

		// GetLibrary
		{"GetLibrary/no name", func(ctx context.Context) error {
			_, err := c.GetLibrary(ctx, &mappingv1.GetLibraryRequest{})
			return err
		}, invalid, reason, []string{"name"}},
		{"GetLibrary/other collection", func(ctx context.Context) error {
			_, err := c.GetLibrary(ctx, &mappingv1.GetLibraryRequest{Name: "partners/GUB"})
			return err
		}, invalid, reason, []string{"name"}},
		{"GetLibrary/bad code", func(ctx context.Context) error {
			_, err := c.GetLibrary(ctx, &mappingv1.GetLibraryRequest{Name: "libraries/a b"})
			return err
		}, invalid, reason, []string{"name"}},
		{"GetLibrary/unknown", func(ctx context.Context) error {
			_, err := c.GetLibrary(ctx, &mappingv1.GetLibraryRequest{Name: "libraries/gub"})
			return err
		}, codes.NotFound, "LIBRARY_NOT_FOUND", nil},

		// ListLibraries
		{"ListLibraries/negative page size", func(ctx context.Context) error {
			_, err := c.ListLibraries(ctx, &mappingv1.ListLibrariesRequest{PageSize: -1})
			return err
		}, invalid, reason, []string{"page_size"}},
		{"ListLibraries/garbage token", func(ctx context.Context) error {
			_, err := c.ListLibraries(ctx, &mappingv1.ListLibrariesRequest{PageToken: "garbage"})
			return err
		}, invalid, reason, []string{"page_token"}},

		// UpdateLibrary
		{"UpdateLibrary/no library", func(ctx context.Context) error {
			_, err := c.UpdateLibrary(ctx, &mappingv1.UpdateLibraryRequest{})
			return err
		}, invalid, reason, []string{"library.name"}},
		{"UpdateLibrary/immutable code", func(ctx context.Context) error {
			_, err := c.UpdateLibrary(ctx, &mappingv1.UpdateLibraryRequest{
				Library: &mappingv1.Library{Name: f.gub.Name, Code: "NEW"}, UpdateMask: mask("code"),
			})
			return err
		}, invalid, reason, []string{"update_mask"}},
		{"UpdateLibrary/nothing to update", func(ctx context.Context) error {
			_, err := c.UpdateLibrary(ctx, &mappingv1.UpdateLibraryRequest{Library: &mappingv1.Library{Name: f.gub.Name}})
			return err
		}, invalid, reason, []string{"update_mask"}},
		{"UpdateLibrary/clearing the display name", func(ctx context.Context) error {
			_, err := c.UpdateLibrary(ctx, &mappingv1.UpdateLibraryRequest{
				Library: &mappingv1.Library{Name: f.gub.Name}, UpdateMask: mask("display_name"),
			})
			return err
		}, invalid, reason, []string{"library.display_name"}},
		{"UpdateLibrary/unknown", func(ctx context.Context) error {
			_, err := c.UpdateLibrary(ctx, &mappingv1.UpdateLibraryRequest{Library: &mappingv1.Library{Name: "libraries/NOPE", DisplayName: "x"}})
			return err
		}, codes.NotFound, "LIBRARY_NOT_FOUND", nil},
		{"UpdateLibrary/stale etag", func(ctx context.Context) error {
			_, err := c.UpdateLibrary(ctx, &mappingv1.UpdateLibraryRequest{Library: &mappingv1.Library{Name: f.gub.Name, DisplayName: "x", Etag: "stale"}})
			return err
		}, codes.Aborted, "ETAG_MISMATCH", nil},

		// DeleteLibrary
		{"DeleteLibrary/bad name", func(ctx context.Context) error {
			_, err := c.DeleteLibrary(ctx, &mappingv1.DeleteLibraryRequest{Name: "libraries/"})
			return err
		}, invalid, reason, []string{"name"}},
		{"DeleteLibrary/unknown", func(ctx context.Context) error {
			_, err := c.DeleteLibrary(ctx, &mappingv1.DeleteLibraryRequest{Name: "libraries/NOPE"})
			return err
		}, codes.NotFound, "LIBRARY_NOT_FOUND", nil},
		{"DeleteLibrary/stale etag", func(ctx context.Context) error {
			_, err := c.DeleteLibrary(ctx, &mappingv1.DeleteLibraryRequest{Name: f.gub.Name, Etag: "stale"})
			return err
		}, codes.Aborted, "ETAG_MISMATCH", nil},
		{"DeleteLibrary/in use", func(ctx context.Context) error {
			_, err := c.DeleteLibrary(ctx, &mappingv1.DeleteLibraryRequest{Name: f.gub.Name, Etag: f.gub.Etag})
			return err
		}, codes.FailedPrecondition, "LIBRARY_IN_USE", nil},

		// CreateLibraryMapping
		{"CreateLibraryMapping/empty", func(ctx context.Context) error {
			_, err := c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{})
			return err
		}, invalid, reason, []string{"library_mapping.system", "library_mapping.external_code", "library_mapping.local_library_code"}},
		{"CreateLibraryMapping/blank code", func(ctx context.Context) error {
			_, err := c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
				System: libris, ExternalCode: " \t ", LocalLibraryCode: "GUB",
			}})
			return err
		}, invalid, reason, []string{"library_mapping.external_code"}},
		{"CreateLibraryMapping/inner space, unknown system, bad library code", func(ctx context.Context) error {
			_, err := c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
				System: 9, ExternalCode: "G bg", LocalLibraryCode: "G UB",
			}})
			return err
		}, invalid, reason, []string{"library_mapping.system", "library_mapping.external_code", "library_mapping.local_library_code"}},
		{"CreateLibraryMapping/code too long", func(ctx context.Context) error {
			_, err := c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
				System: libris, ExternalCode: strings.Repeat("G", 65), LocalLibraryCode: "GUB",
			}})
			return err
		}, invalid, reason, []string{"library_mapping.external_code"}},
		{"CreateLibraryMapping/control character", func(ctx context.Context) error {
			_, err := c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
				System: libris, ExternalCode: "G\x00bg", LocalLibraryCode: "GUB",
			}})
			return err
		}, invalid, reason, []string{"library_mapping.external_code"}},
		{"CreateLibraryMapping/missing library", func(ctx context.Context) error {
			_, err := c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
				System: libris, ExternalCode: "Xyz", LocalLibraryCode: "NOPE",
			}})
			return err
		}, codes.FailedPrecondition, "LOCAL_LIBRARY_NOT_FOUND", nil},
		{"CreateLibraryMapping/duplicate after trimming", func(ctx context.Context) error {
			_, err := c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
				System: libris, ExternalCode: " Gbg ", LocalLibraryCode: "KB",
			}})
			return err
		}, codes.AlreadyExists, "LIBRARY_MAPPING_ALREADY_EXISTS", nil},

		{"CreateLibraryMapping/long request_id", func(ctx context.Context) error {
			_, err := c.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{
				LibraryMapping: &mappingv1.LibraryMapping{System: libris, ExternalCode: "Xyz", LocalLibraryCode: "GUB"},
				RequestId:      strings.Repeat("r", 129),
			})
			return err
		}, invalid, reason, []string{"request_id"}},

		// GetLibraryMapping
		{"GetLibraryMapping/not a number", func(ctx context.Context) error {
			_, err := c.GetLibraryMapping(ctx, &mappingv1.GetLibraryMappingRequest{Name: "libraryMappings/Gbg"})
			return err
		}, invalid, reason, []string{"name"}},
		{"GetLibraryMapping/leading zero", func(ctx context.Context) error {
			_, err := c.GetLibraryMapping(ctx, &mappingv1.GetLibraryMappingRequest{Name: "libraryMappings/01"})
			return err
		}, invalid, reason, []string{"name"}},
		{"GetLibraryMapping/zero", func(ctx context.Context) error {
			_, err := c.GetLibraryMapping(ctx, &mappingv1.GetLibraryMappingRequest{Name: "libraryMappings/0"})
			return err
		}, invalid, reason, []string{"name"}},
		{"GetLibraryMapping/unknown", func(ctx context.Context) error {
			_, err := c.GetLibraryMapping(ctx, &mappingv1.GetLibraryMappingRequest{Name: "libraryMappings/99"})
			return err
		}, codes.NotFound, "LIBRARY_MAPPING_NOT_FOUND", nil},

		// ListLibraryMappings
		{"ListLibraryMappings/bad filters", func(ctx context.Context) error {
			_, err := c.ListLibraryMappings(ctx, &mappingv1.ListLibraryMappingsRequest{System: 9, LocalLibraryCode: "a b"})
			return err
		}, invalid, reason, []string{"system", "local_library_code"}},
		{"ListLibraryMappings/negative page size", func(ctx context.Context) error {
			_, err := c.ListLibraryMappings(ctx, &mappingv1.ListLibraryMappingsRequest{PageSize: -5})
			return err
		}, invalid, reason, []string{"page_size"}},
		{"ListLibraryMappings/token with other filters", func(ctx context.Context) error {
			_, err := c.ListLibraryMappings(ctx, &mappingv1.ListLibraryMappingsRequest{System: libris, PageToken: firstPage.NextPageToken})
			return err
		}, invalid, reason, []string{"page_token"}},

		// UpdateLibraryMapping
		{"UpdateLibraryMapping/no name", func(ctx context.Context) error {
			_, err := c.UpdateLibraryMapping(ctx, &mappingv1.UpdateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{LocalLibraryCode: "KB"}})
			return err
		}, invalid, reason, []string{"library_mapping.name"}},
		{"UpdateLibraryMapping/immutable identity", func(ctx context.Context) error {
			_, err := c.UpdateLibraryMapping(ctx, &mappingv1.UpdateLibraryMappingRequest{
				LibraryMapping: &mappingv1.LibraryMapping{Name: f.gbg.Name, System: netpunkt, ExternalCode: "x"},
				UpdateMask:     mask("system", "external_code"),
			})
			return err
		}, invalid, reason, []string{"update_mask", "update_mask"}},
		{"UpdateLibraryMapping/bad library code", func(ctx context.Context) error {
			_, err := c.UpdateLibraryMapping(ctx, &mappingv1.UpdateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
				Name: f.gbg.Name, LocalLibraryCode: "-KB",
			}})
			return err
		}, invalid, reason, []string{"library_mapping.local_library_code"}},
		{"UpdateLibraryMapping/missing library", func(ctx context.Context) error {
			_, err := c.UpdateLibraryMapping(ctx, &mappingv1.UpdateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
				Name: f.gbg.Name, LocalLibraryCode: "NOPE",
			}})
			return err
		}, codes.FailedPrecondition, "LOCAL_LIBRARY_NOT_FOUND", nil},
		{"UpdateLibraryMapping/unknown", func(ctx context.Context) error {
			_, err := c.UpdateLibraryMapping(ctx, &mappingv1.UpdateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
				Name: "libraryMappings/99", LocalLibraryCode: "KB",
			}})
			return err
		}, codes.NotFound, "LIBRARY_MAPPING_NOT_FOUND", nil},
		{"UpdateLibraryMapping/stale etag", func(ctx context.Context) error {
			_, err := c.UpdateLibraryMapping(ctx, &mappingv1.UpdateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
				Name: f.gbg.Name, LocalLibraryCode: "KB", Etag: f.agency.Etag,
			}})
			return err
		}, codes.Aborted, "ETAG_MISMATCH", nil},

		// DeleteLibraryMapping
		{"DeleteLibraryMapping/bad name", func(ctx context.Context) error {
			_, err := c.DeleteLibraryMapping(ctx, &mappingv1.DeleteLibraryMappingRequest{Name: "libraryMappings/1/x"})
			return err
		}, invalid, reason, []string{"name"}},
		{"DeleteLibraryMapping/unknown", func(ctx context.Context) error {
			_, err := c.DeleteLibraryMapping(ctx, &mappingv1.DeleteLibraryMappingRequest{Name: "libraryMappings/99"})
			return err
		}, codes.NotFound, "LIBRARY_MAPPING_NOT_FOUND", nil},
		{"DeleteLibraryMapping/stale etag", func(ctx context.Context) error {
			_, err := c.DeleteLibraryMapping(ctx, &mappingv1.DeleteLibraryMappingRequest{Name: f.gbg.Name, Etag: "stale"})
			return err
		}, codes.Aborted, "ETAG_MISMATCH", nil},

		// CreatePartner
		{"CreatePartner/empty", func(ctx context.Context) error {
			_, err := c.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{})
			return err
		}, invalid, reason, []string{"partner.code", "partner.display_name", "partner.system"}},
		{"CreatePartner/bad contact and status", func(ctx context.Context) error {
			_, err := c.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{
				Code: "NEW", DisplayName: "New", System: libris, Status: 7,
				Contact: &mappingv1.Contact{Email: "not an address", Phone: "1\n2", Person: long},
			}})
			return err
		}, invalid, reason, []string{"partner.status", "partner.contact.email", "partner.contact.phone", "partner.contact.person"}},
		{"CreatePartner/address with a display name", func(ctx context.Context) error {
			_, err := c.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{
				Code: "NEW", DisplayName: "New", System: libris, Contact: &mappingv1.Contact{Email: "ILL <ill@new.example>"},
			}})
			return err
		}, invalid, reason, []string{"partner.contact.email"}},
		{"CreatePartner/code differing in case only", func(ctx context.Context) error {
			_, err := c.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{Code: "abc", DisplayName: "abc", System: libris}})
			return err
		}, codes.AlreadyExists, "PARTNER_ALREADY_EXISTS", nil},

		{"CreatePartner/long request_id and no system", func(ctx context.Context) error {
			_, err := c.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{
				Partner: &mappingv1.Partner{Code: "NEW", DisplayName: "New"}, RequestId: strings.Repeat("r", 129),
			})
			return err
		}, invalid, reason, []string{"request_id", "partner.system"}},

		// GetPartner
		{"GetPartner/no code", func(ctx context.Context) error {
			_, err := c.GetPartner(ctx, &mappingv1.GetPartnerRequest{Name: "partners/"})
			return err
		}, invalid, reason, []string{"name"}},
		{"GetPartner/other case", func(ctx context.Context) error {
			_, err := c.GetPartner(ctx, &mappingv1.GetPartnerRequest{Name: "partners/Abc"})
			return err
		}, codes.NotFound, "PARTNER_NOT_FOUND", nil},

		// ListPartners
		{"ListPartners/unknown filters", func(ctx context.Context) error {
			_, err := c.ListPartners(ctx, &mappingv1.ListPartnersRequest{Status: 7, System: 9})
			return err
		}, invalid, reason, []string{"status", "system"}},
		{"ListPartners/garbage token", func(ctx context.Context) error {
			_, err := c.ListPartners(ctx, &mappingv1.ListPartnersRequest{PageToken: "e30"})
			return err
		}, invalid, reason, []string{"page_token"}},

		// UpdatePartner
		{"UpdatePartner/immutable code", func(ctx context.Context) error {
			_, err := c.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{
				Partner: &mappingv1.Partner{Name: f.abc.Name, Code: "ABD"}, UpdateMask: mask("code"),
			})
			return err
		}, invalid, reason, []string{"update_mask"}},
		{"UpdatePartner/no such subfield", func(ctx context.Context) error {
			_, err := c.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{
				Partner: &mappingv1.Partner{Name: f.abc.Name}, UpdateMask: mask("contact.fax"),
			})
			return err
		}, invalid, reason, []string{"update_mask"}},
		{"UpdatePartner/clearing the system", func(ctx context.Context) error {
			_, err := c.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{
				Partner: &mappingv1.Partner{Name: f.abc.Name}, UpdateMask: mask("system"),
			})
			return err
		}, invalid, reason, []string{"partner.system"}},
		{"UpdatePartner/bad email", func(ctx context.Context) error {
			_, err := c.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{
				Partner:    &mappingv1.Partner{Name: f.abc.Name, Contact: &mappingv1.Contact{Email: "ill@"}},
				UpdateMask: mask("contact.email"),
			})
			return err
		}, invalid, reason, []string{"partner.contact.email"}},
		{"UpdatePartner/unknown", func(ctx context.Context) error {
			_, err := c.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{Partner: &mappingv1.Partner{Name: "partners/abc", DisplayName: "x"}})
			return err
		}, codes.NotFound, "PARTNER_NOT_FOUND", nil},
		{"UpdatePartner/stale etag", func(ctx context.Context) error {
			_, err := c.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{Partner: &mappingv1.Partner{Name: f.abc.Name, DisplayName: "x", Etag: "stale"}})
			return err
		}, codes.Aborted, "ETAG_MISMATCH", nil},

		// DeletePartner
		{"DeletePartner/bad name", func(ctx context.Context) error {
			_, err := c.DeletePartner(ctx, &mappingv1.DeletePartnerRequest{Name: "ABC"})
			return err
		}, invalid, reason, []string{"name"}},
		{"DeletePartner/unknown", func(ctx context.Context) error {
			_, err := c.DeletePartner(ctx, &mappingv1.DeletePartnerRequest{Name: "partners/abc"})
			return err
		}, codes.NotFound, "PARTNER_NOT_FOUND", nil},
		{"DeletePartner/stale etag", func(ctx context.Context) error {
			_, err := c.DeletePartner(ctx, &mappingv1.DeletePartnerRequest{Name: f.abc.Name, Etag: "stale"})
			return err
		}, codes.Aborted, "ETAG_MISMATCH", nil},

		// ResolveLibraryCodes
		{"ResolveLibraryCodes/empty", func(ctx context.Context) error {
			_, err := c.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{})
			return err
		}, invalid, reason, []string{"system", "external_codes"}},
		{"ResolveLibraryCodes/unknown system", func(ctx context.Context) error {
			_, err := c.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{System: 9, ExternalCodes: []string{"Gbg"}})
			return err
		}, invalid, reason, []string{"system"}},
		{"ResolveLibraryCodes/too many", func(ctx context.Context) error {
			_, err := c.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{System: libris, ExternalCodes: tooMany})
			return err
		}, invalid, reason, []string{"external_codes"}},

		// ResolvePartnerCodes
		{"ResolvePartnerCodes/empty", func(ctx context.Context) error {
			_, err := c.ResolvePartnerCodes(ctx, &mappingv1.ResolvePartnerCodesRequest{})
			return err
		}, invalid, reason, []string{"codes"}},
		{"ResolvePartnerCodes/too many", func(ctx context.Context) error {
			_, err := c.ResolvePartnerCodes(ctx, &mappingv1.ResolvePartnerCodesRequest{Codes: tooMany})
			return err
		}, invalid, reason, []string{"codes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, tc.call(t.Context()), tc.code, tc.reason, tc.fields...)
		})
	}

	after := f.snapshot(t)
	for i := range before {
		equal(t, after[i], before[i])
	}
}
