package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// DefaultRolesClaim is the claim RoleMap reads when none is configured.
const DefaultRolesClaim = "groups"

// maxClaimValues bounds how many values of the roles claim are looked at: only the
// first maxClaimValues of a longer array are mapped.
const maxClaimValues = 1000

// RoleMap turns an OpenID Connect token's claims into roles: the values of one claim
// (a string or an array of strings: groups, app roles, a domain) are looked up in a
// configured table (--oidc-role-map 'ill-admins=admin,ill-staff=operator'). A value not
// in the table grants nothing; a person whose values grant nothing has no roles and is
// refused. The services (for access tokens) and the console (for ID tokens) share it,
// so one configuration decides both.
type RoleMap struct {
	claim   string
	byValue map[string][]Role
}

// ParseRoleMap parses the claim name and the table `value=role[,value=role...]`. A
// value may be listed more than once to grant several roles. Only staff roles (admin,
// operator, viewer) can be granted: service identities stay on tokens and certificates.
// A claim name with dots (`realm_access.roles`) also finds a nested claim.
func ParseRoleMap(claim, table string) (RoleMap, error) {
	if claim == "" {
		claim = DefaultRolesClaim
	}
	m := RoleMap{claim: claim, byValue: map[string][]Role{}}
	for i, entry := range strings.Split(table, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		cut := strings.LastIndex(entry, "=")
		if cut <= 0 {
			return RoleMap{}, fmt.Errorf("role map entry %d: want value=role", i+1)
		}
		value, name := strings.TrimSpace(entry[:cut]), strings.TrimSpace(entry[cut+1:])
		r, err := ParseRole(name)
		if err != nil {
			return RoleMap{}, fmt.Errorf("role map entry %d (%s): %w", i+1, value, err)
		}
		if r == RoleHarvester {
			return RoleMap{}, fmt.Errorf("role map entry %d (%s): %s is a service identity's role, not a person's", i+1, value, r)
		}
		if !slices.Contains(m.byValue[value], r) {
			m.byValue[value] = append(m.byValue[value], r)
		}
	}
	if len(m.byValue) == 0 {
		return RoleMap{}, errors.New("role map is empty: without it no one signed in by the provider has a role (e.g. --oidc-role-map 'ill-admins=admin,ill-staff=operator,ill-readers=viewer')")
	}
	return m, nil
}

// Claim is the name of the claim the map reads.
func (m RoleMap) Claim() string { return m.claim }

// Roles returns the roles claims grant, in the fixed order of Roles(); none when the
// claim is missing, of another type, or holds no mapped value.
func (m RoleMap) Roles(claims map[string]any) []Role {
	var granted mask
	for _, v := range ClaimStrings(claims, m.claim) {
		for _, r := range m.byValue[v] {
			granted |= roleBit(r)
		}
	}
	var out []Role
	for _, r := range Roles() {
		if granted&roleBit(r) != 0 {
			out = append(out, r)
		}
	}
	return out
}

// ClaimStrings returns the string values of claim: a string is one value, an array its
// string elements (others skipped). A name absent at the top level is tried as a dotted
// path into nested objects (Keycloak's realm_access.roles).
func ClaimStrings(claims map[string]any, claim string) []string {
	v, ok := claims[claim]
	if !ok {
		v, ok = nested(claims, claim)
	}
	if !ok {
		return nil
	}
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, min(len(x), maxClaimValues))
		for _, e := range x[:min(len(x), maxClaimValues)] {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func nested(claims map[string]any, path string) (any, bool) {
	parts := strings.Split(path, ".")
	if len(parts) < 2 {
		return nil, false
	}
	var cur any = claims
	for _, p := range parts {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}
