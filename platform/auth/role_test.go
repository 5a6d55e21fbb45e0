package auth

import (
	"errors"
	"slices"
	"testing"
)

func TestParseRoles(t *testing.T) {
	tests := []struct {
		in      string
		want    []Role
		wantErr bool
	}{
		{"admin", []Role{RoleAdmin}, false},
		{"viewer,harvester", []Role{RoleViewer, RoleHarvester}, false},
		{"admin,operator,viewer,harvester", Roles(), false},
		{"", nil, true},
		{"Admin", nil, true},             // exact, lower case
		{"admin,", nil, true},            // empty element
		{",admin", nil, true},            // empty element
		{"admin,admin", nil, true},       // listed twice
		{"admin, viewer", nil, true},     // no spaces inside the list
		{"*public", nil, true},           // pseudo-roles are not grantable
		{"*authenticated", nil, true},    // pseudo-roles are not grantable
		{"root", nil, true},              // unknown
		{"admin,viewer,root", nil, true}, // one unknown spoils the list
	}
	for _, tt := range tests {
		got, err := ParseRoles(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("ParseRoles(%q) = %v, %v; want %v, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseRoleDoesNotEchoInput(t *testing.T) {
	const secret = "il_thisLooksLikeASecretToken"
	_, err := ParseRole(secret)
	if !errors.Is(err, ErrUnknownRole) {
		t.Fatalf("err = %v, want ErrUnknownRole", err)
	}
	if contains(err.Error(), secret) {
		t.Fatalf("error quotes its input: %v", err)
	}
}

func TestRoleValid(t *testing.T) {
	for _, r := range Roles() {
		if !r.Valid() {
			t.Errorf("%s not valid", r)
		}
	}
	for _, r := range []Role{"", Public, Authenticated, "ADMIN", "root"} {
		if r.Valid() {
			t.Errorf("%q valid", r)
		}
	}
}
