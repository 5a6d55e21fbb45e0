package netpunkt

import (
	"testing"

	"github.com/interloan/interloan/external/connector"
)

// An order is patron-initiated when a patron placed it (an end-user order, or one still in
// a patron's states); an inter-library request placed by staff is not, whoever it is for.
func TestPatronInitiated(t *testing.T) {
	for _, tc := range []struct {
		name                string
		o                   order
		initiated, approved bool
	}{
		{"staff order without a patron", order{OrderType: "inter_library_request", RequesterOrderState: "requested"}, false, true},
		{"staff order for a patron", order{OrderType: "inter_library_request", RequesterOrderState: "requested", UserID: "0101"}, false, true},
		{"end-user order", order{OrderType: "enduser_illrequest", RequesterOrderState: "requested", UserID: "0101"}, true, true},
		{"end-user request", order{OrderType: " EndUser_Request ", RequesterOrderState: "received"}, true, true},
		{"patron's order not forwarded", order{RequesterOrderState: "user_request", UserID: "0101"}, true, true},
		{"patron not identified", order{RequesterOrderState: "unknown_user"}, true, false},
		{"no type, no state", order{}, false, true},
	} {
		o := tc.o
		o.OrderID, o.LastModification, o.RequesterID = "1001", "2025-03-01T10:00:00", "775100"
		r := mapOrder(&o, "DK-775100")
		if r.PatronInitiated != tc.initiated || r.PatronApproved != tc.approved || r.Problem != "" {
			t.Errorf("%s: initiated %v approved %v problem %q; want %v %v", tc.name, r.PatronInitiated, r.PatronApproved, r.Problem, tc.initiated, tc.approved)
		}
	}
}

// Oddities of an order become data warnings with the Netpunkt field and a code.
func TestWarnings(t *testing.T) {
	o := order{OrderID: "1001", LastModification: "2025-03-01T10:00:00", RequesterID: "775100", CreationDate: "someday", RequesterOrderState: "lost"}
	r := mapOrder(&o, "DK-775100")
	want := map[string]string{"creationDate": connector.WarnUnparsableDate, "requesterOrderState": connector.WarnUnknownStatus}
	if len(r.Warnings) != len(want) {
		t.Fatalf("warnings %v", r.Warnings)
	}
	for _, w := range r.Warnings {
		if want[w.GetField()] != w.GetCode() || w.GetMessage() == "" {
			t.Errorf("warning %v", w)
		}
	}
}
