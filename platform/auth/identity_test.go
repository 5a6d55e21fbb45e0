package auth

import (
	"context"
	"slices"
	"testing"

	adminv1 "github.com/interloan/interloan/gen/interloan/admin/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestIdentityServiceGetCaller(t *testing.T) {
	ctx := NewContext(context.Background(), Principal{Name: "ann", Roles: []Role{RoleOperator, RoleViewer}})
	got, err := IdentityService{}.GetCaller(ctx, &adminv1.GetCallerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetPrincipal() != "ann" || !slices.Equal(got.GetRoles(), []string{"operator", "viewer"}) {
		t.Errorf("GetCaller = %v", got)
	}
	_, err = IdentityService{}.GetCaller(context.Background(), &adminv1.GetCallerRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("without a principal: %v, want Unauthenticated", err)
	}
}
