// Package auth authenticates gRPC callers by bearer token and authorises them by role,
// with one method→roles table (DefaultPolicy) for every RPC of the suite.
//
// Tokens are random secrets handed to people and services once; the server keeps only
// their SHA-256 hashes in a token file (see Load and NewToken). The interceptors read
// `authorization: Bearer <token>` metadata, map the token to a Principal and check the
// called method against the Policy, denying by default. Clients send their token with
// BearerToken. Tools such as grpcurl pass it with `-H "authorization: Bearer <token>"`.
package auth

import (
	"errors"
	"fmt"
	"strings"
)

// Role is what a principal may do. Roles are granted in the token file.
type Role string

// The roles. A principal may hold several; its rights are their union.
const (
	// RoleAdmin (the General System Administrator) configures profiles, libraries,
	// mappings and partners, and may do everything an operator may.
	RoleAdmin Role = "admin"
	// RoleOperator starts and cancels runs, acts on requests and reads everything
	// except secrets.
	RoleOperator Role = "operator"
	// RoleViewer only reads, never secrets.
	RoleViewer Role = "viewer"
	// RoleHarvester is the harvester service's identity: it reads profiles and their
	// decrypted credentials, resolves codes, reads open requests and ingests.
	RoleHarvester Role = "harvester"
)

// Pseudo-roles for a Policy only: they describe who may call a method without naming a
// role, and are never accepted in a token file.
const (
	// Public methods need no token at all (health checks).
	Public Role = "*public"
	// Authenticated methods need a valid token, whatever its roles (reflection).
	Authenticated Role = "*authenticated"
)

// Roles returns every grantable role, in a fixed order.
func Roles() []Role { return []Role{RoleAdmin, RoleOperator, RoleViewer, RoleHarvester} }

// ErrUnknownRole is wrapped by ParseRole and ParseRoles for a name that is not a role.
var ErrUnknownRole = errors.New("unknown role")

// Valid reports whether r is a grantable role (pseudo-roles are not).
func (r Role) Valid() bool { return roleBit(r) != 0 }

func (r Role) String() string { return string(r) }

// ParseRole parses one grantable role name (exact, lower case). The error never quotes
// the input, which may be a misplaced secret.
func ParseRole(s string) (Role, error) {
	if r := Role(s); r.Valid() {
		return r, nil
	}
	return "", fmt.Errorf("%w (want one of %s)", ErrUnknownRole, roleList())
}

// ParseRoles parses a comma-separated, non-empty list of distinct roles ("admin,viewer").
func ParseRoles(s string) ([]Role, error) {
	if s == "" {
		return nil, errors.New("no role given")
	}
	parts := strings.Split(s, ",")
	roles := make([]Role, 0, len(parts))
	var seen mask
	for i, part := range parts {
		r, err := ParseRole(part)
		if err != nil {
			return nil, fmt.Errorf("role %d: %w", i+1, err)
		}
		if seen&roleBit(r) != 0 {
			return nil, fmt.Errorf("role %d: %s is listed twice", i+1, r)
		}
		seen |= roleBit(r)
		roles = append(roles, r)
	}
	return roles, nil
}

func roleList() string {
	names := make([]string, 0, 4)
	for _, r := range Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}

// mask is a set of roles and pseudo-roles; checks on the hot path are one AND.
type mask uint8

const (
	bitAdmin mask = 1 << iota
	bitOperator
	bitViewer
	bitHarvester
	bitAuthenticated
	bitPublic
)

// roleBit is the bit of a grantable role, 0 for anything else.
func roleBit(r Role) mask {
	switch r {
	case RoleAdmin:
		return bitAdmin
	case RoleOperator:
		return bitOperator
	case RoleViewer:
		return bitViewer
	case RoleHarvester:
		return bitHarvester
	}
	return 0
}

// policyBit is roleBit extended with the pseudo-roles a Policy may name.
func policyBit(r Role) mask {
	switch r {
	case Public:
		return bitPublic
	case Authenticated:
		return bitAuthenticated
	}
	return roleBit(r)
}

func maskOf(roles []Role) mask {
	var m mask
	for _, r := range roles {
		m |= roleBit(r)
	}
	return m
}
