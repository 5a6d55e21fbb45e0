package api_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/server/servertest"
	"github.com/interloan/interloan/services/requests/internal/api"
)

// TestListReadMask lists the masking fixture's request with read masks as a role that
// sees patron data (admin) and two that do not (viewer, harvester): the answer holds
// exactly the fields the mask keeps, and patron data in a kept field is masked as in a
// whole request.
func TestListReadMask(t *testing.T) {
	mf := newMaskFixture(t)
	ref := &requestsv1.ExternalReference{System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, Profile: "integrationProfiles/p", ExternalId: "E1"}
	patron := func(sees bool) (id, name, note string) {
		if sees {
			return secretPatronID, secretName, secretMessage
		}
		return api.Masked, api.Masked, api.Masked
	}
	for _, tc := range []struct {
		name  string
		paths []string
		want  func(sees bool) *requestsv1.BorrowingRequest // nil: the whole request
	}{
		{"absent", nil, nil},
		{"empty", []string{}, nil},
		{"star", []string{"*"}, nil},
		{"refresh listing", []string{"name", "external_reference.external_id"}, func(bool) *requestsv1.BorrowingRequest {
			return &requestsv1.BorrowingRequest{Name: mf.name, ExternalReference: &requestsv1.ExternalReference{ExternalId: "E1"}}
		}},
		{"nested scalars", []string{"external_reference.system", "external_reference.profile", "external_reference.external_id"}, func(bool) *requestsv1.BorrowingRequest {
			return &requestsv1.BorrowingRequest{ExternalReference: ref}
		}},
		{"whole requester", []string{"requester"}, func(sees bool) *requestsv1.BorrowingRequest {
			id, name, _ := patron(sees)
			return &requestsv1.BorrowingRequest{Requester: &requestsv1.Requester{PatronId: id, Name: name, Approved: true}}
		}},
		{"patron name and message", []string{"requester.name", "note", "status"}, func(sees bool) *requestsv1.BorrowingRequest {
			_, name, note := patron(sees)
			return &requestsv1.BorrowingRequest{Requester: &requestsv1.Requester{Name: name}, Note: note, Status: requestsv1.Status_STATUS_CREATED}
		}},
		{"approval only", []string{"requester.approved"}, func(bool) *requestsv1.BorrowingRequest {
			return &requestsv1.BorrowingRequest{Requester: &requestsv1.Requester{Approved: true}}
		}},
		{"overlapping paths", []string{"external_reference.external_id", "name", "external_reference"}, func(bool) *requestsv1.BorrowingRequest {
			return &requestsv1.BorrowingRequest{Name: mf.name, ExternalReference: mf.whole(t).ExternalReference}
		}},
	} {
		for _, who := range []struct {
			principal string
			sees      bool
		}{{"admin", true}, {"viewer", false}, {"harvester", false}} {
			t.Run(tc.name+"/"+who.principal, func(t *testing.T) {
				req := &requestsv1.ListBorrowingRequestsRequest{}
				if tc.paths != nil {
					req.ReadMask = &fieldmaskpb.FieldMask{Paths: tc.paths}
				}
				resp, err := mf.as[who.principal].ListBorrowingRequests(t.Context(), req)
				noErr(t, err)
				if len(resp.BorrowingRequests) != 1 {
					t.Fatalf("%d requests, want 1", len(resp.BorrowingRequests))
				}
				got := resp.BorrowingRequests[0]
				if tc.want == nil {
					checkPatronData(t, resp.BorrowingRequests, nil, who.sees)
					if got.GetName() != mf.name || got.GetBibliographic().GetTitle() == "" || got.GetEtag() == "" {
						t.Errorf("want the whole request, got %v", got)
					}
				} else if want := tc.want(who.sees); !proto.Equal(got, want) {
					t.Errorf("got %v\nwant %v", got, want)
				}
				if !who.sees {
					requireNoPatronData(t, resp)
				}
			})
		}
	}

	// Masking a reduced page in place changes nothing the ledger holds.
	mf.requireStoredPatron(t)
	checkPatronData(t, []*requestsv1.BorrowingRequest{mf.whole(t)}, nil, true)
}

// whole is the fixture's request as admin lists it, without a read mask.
func (mf *maskFixture) whole(t *testing.T) *requestsv1.BorrowingRequest {
	t.Helper()
	resp, err := mf.as["admin"].ListBorrowingRequests(t.Context(), &requestsv1.ListBorrowingRequestsRequest{})
	noErr(t, err)
	return resp.BorrowingRequests[0]
}

// TestListReadMaskInvalid: a path that names no BorrowingRequest field is a violation of
// read_mask, reported with the other invalid fields of the call.
func TestListReadMaskInvalid(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name   string
		req    *requestsv1.ListBorrowingRequestsRequest
		fields []string
	}{
		{"unknown field", &requestsv1.ListBorrowingRequestsRequest{ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"name", "title"}}}, []string{"read_mask"}},
		{"unknown subfield", &requestsv1.ListBorrowingRequestsRequest{ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"external_reference.id"}}}, []string{"read_mask"}},
		{"into a scalar", &requestsv1.ListBorrowingRequestsRequest{ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"name.x"}}}, []string{"read_mask"}},
		{"into a repeated field", &requestsv1.ListBorrowingRequestsRequest{ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"rota.partner"}}}, []string{"read_mask"}},
		{"JSON name", &requestsv1.ListBorrowingRequestsRequest{ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"externalReference"}}}, []string{"read_mask"}},
		{"empty path", &requestsv1.ListBorrowingRequestsRequest{ReadMask: &fieldmaskpb.FieldMask{Paths: []string{""}}}, []string{"read_mask"}},
		{"star and more", &requestsv1.ListBorrowingRequestsRequest{ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"*", "name"}}}, []string{"read_mask"}},
		{"with a bad filter", &requestsv1.ListBorrowingRequestsRequest{Owner: "G UB", ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"nope"}}}, []string{"owner", "read_mask"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.requests.ListBorrowingRequests(t.Context(), tc.req)
			servertest.RequireError(t, err, codes.InvalidArgument, invalidArgument, tc.fields...)
		})
	}
}

// BenchmarkListOpenPage lists a page of 1000 open requests of a profile as the
// harvester's refresh does (patron data masked for it), whole or with the refresh's read
// mask, and encodes and decodes the answer as gRPC would: the cost per listed request.
func BenchmarkListOpenPage(b *testing.B) {
	f := newFixture(b)
	items := make([]*requestsv1.IngestItem, 1000)
	for i := range items {
		items[i] = item("P", fmt.Sprint(i), t0, func(it *requestsv1.IngestItem) {
			it.Bibliographic = &requestsv1.Bibliographic{Title: "Röda rummet: skildringar ur artist- och författarlivet", Author: "Strindberg, August",
				Isbn: "9789100000000", Publisher: "Albert Bonniers förlag", PlaceOfPublication: "Stockholm", Year: "1879"}
			it.Rota = []*requestsv1.RotaEntry{{PartnerCode: "A", Partner: "partners/A", Active: true, Response: "Utlånad"}, {PartnerCode: "B", Response: "Ej svar"}}
			it.Requester = &requestsv1.Requester{PatronId: "1234567890", Name: "Ada Lovelace", Approved: true}
			it.Note = "Behöver boken före terminsstart"
		})
	}
	resps, err := f.send(b, batch("all", items...))
	noErr(b, err)
	if n := len(resps[0].Results); n != len(items) {
		b.Fatalf("%d results", n)
	}
	for _, bc := range []struct {
		name string
		mask *fieldmaskpb.FieldMask
	}{
		{"whole", nil},
		{"read_mask", &fieldmaskpb.FieldMask{Paths: []string{"name", "external_reference.external_id"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := &requestsv1.ListBorrowingRequestsRequest{Profile: "integrationProfiles/P", OpenOnly: true, PageSize: 1000, ReadMask: bc.mask}
			var size int
			for b.Loop() {
				resp, err := f.svc.ListBorrowingRequests(context.Background(), req)
				noErr(b, err)
				wire, err := proto.Marshal(resp)
				noErr(b, err)
				got := &requestsv1.ListBorrowingRequestsResponse{}
				noErr(b, proto.Unmarshal(wire, got))
				if len(got.BorrowingRequests) != len(items) {
					b.Fatalf("%d requests listed", len(got.BorrowingRequests))
				}
				size = len(wire)
			}
			b.ReportMetric(float64(size)/float64(len(items)), "B/request")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/request")
		})
	}
}
