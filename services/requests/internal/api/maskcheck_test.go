package api

import (
	"testing"

	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
)

// TestMayHoldPatronData: the responses that can carry a Requester, a BorrowingRequest or
// a RequestEvent at any depth are masked; the others go out without a copy.
func TestMayHoldPatronData(t *testing.T) {
	for _, tc := range []struct {
		msg  proto.Message
		want bool
	}{
		{&requestsv1.BorrowingRequest{}, true},
		{&requestsv1.Requester{}, true},
		{&requestsv1.ListBorrowingRequestsResponse{}, true},
		{&requestsv1.ListRequestEventsResponse{}, true},
		{&requestsv1.WatchBorrowingRequestsResponse{}, true},
		{&requestsv1.BatchActBorrowingRequestsResponse{}, true},
		{&requestsv1.IngestBorrowingRequestsResponse{}, false},
		{&requestsv1.CountBorrowingRequestsResponse{}, false},
	} {
		md := tc.msg.ProtoReflect().Descriptor()
		if got := mayHoldPatronData(md); got != tc.want {
			t.Errorf("%s: mayHoldPatronData = %v, want %v", md.FullName(), got, tc.want)
		}
	}
}
