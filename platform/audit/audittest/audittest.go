// Package audittest holds what the services' audit-trail tests share: the principals
// who call, with real tokens, and the checks every service's trail must pass.
package audittest

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/auth"
)

// Admin is the principal that reads the trail in the checks below.
const Admin = "ada"

// NonAdmins are the principals who may neither configure nor read the trail: an
// operator, a viewer and a harvester.
var NonAdmins = []string{"oscar", "vera", "hana"}

// roles of the principals: ada and root2 are admins.
var roles = map[string]auth.Role{
	"ada": auth.RoleAdmin, "root2": auth.RoleAdmin, "oscar": auth.RoleOperator,
	"vera": auth.RoleViewer, "hana": auth.RoleHarvester,
}

// Tokens makes a token for each principal (ada and root2, admins; oscar, operator;
// vera, viewer; hana, harvester) and returns the token file to serve with and, by
// principal, the call option that sends that principal's token.
func Tokens(t testing.TB) (*auth.Tokens, map[string]grpc.CallOption) {
	t.Helper()
	as := map[string]grpc.CallOption{}
	var file strings.Builder
	for name, role := range roles {
		token, line, err := auth.NewToken(name, role)
		if err != nil {
			t.Fatal(err)
		}
		file.WriteString(line + "\n")
		as[name] = grpc.PerRPCCredentials(auth.BearerToken(token, false))
	}
	tokens, err := auth.Parse([]byte(file.String()))
	if err != nil {
		t.Fatal(err)
	}
	return tokens, as
}

// CheckNewest checks that all, a whole trail of the service parent (e.g.
// "services/mapping") newest first, holds n events, and that the newest is want, named
// as the n-th event of the trail and with an event time. step labels the failures.
func CheckNewest(t testing.TB, step, parent string, all []*typev1.AuditEvent, n int, want *typev1.AuditEvent) {
	t.Helper()
	if len(all) != n {
		t.Fatalf("after %s: %d events, want %d", step, len(all), n)
	}
	got := all[0]
	want = proto.CloneOf(want)
	want.Name, want.EventTime = fmt.Sprintf("%s/auditEvents/%d", parent, n), got.GetEventTime()
	if !proto.Equal(got, want) {
		t.Errorf("%s: event\n%v\nwant\n%v", step, got, want)
	}
	if got.GetEventTime().AsTime().IsZero() {
		t.Errorf("%s: no event time", step)
	}
}

// CheckRefused checks that call ends with code want when the admin makes it, and with
// PERMISSION_DENIED when any of NonAdmins does. as is what Tokens returned.
func CheckRefused(t testing.TB, as map[string]grpc.CallOption, name string, want codes.Code, call func(grpc.CallOption) error) {
	t.Helper()
	if err := call(as[Admin]); status.Code(err) != want {
		t.Errorf("%s as %s: %v, want %v", name, Admin, err, want)
	}
	// Principals who may not configure are refused before the service runs.
	for _, who := range NonAdmins {
		if err := call(as[who]); status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s as %s: %v, want PERMISSION_DENIED", name, who, err)
		}
	}
}

// CheckAdminsOnly checks that only admins may list the trail: list, a ListAuditEvents
// call, succeeds for both admins, is refused to every other principal and is
// UNAUTHENTICATED without a token. as is what Tokens returned.
func CheckAdminsOnly(t testing.TB, as map[string]grpc.CallOption, list func(...grpc.CallOption) error) {
	t.Helper()
	for who, role := range roles {
		want := codes.PermissionDenied
		if role == auth.RoleAdmin {
			want = codes.OK
		}
		if err := list(as[who]); status.Code(err) != want {
			t.Errorf("ListAuditEvents as %s: %v, want %v", who, err, want)
		}
	}
	if err := list(); status.Code(err) != codes.Unauthenticated {
		t.Errorf("ListAuditEvents without a token: %v, want UNAUTHENTICATED", err)
	}
}
