package auth

import (
	"context"
	"slices"
)

// Principal is an authenticated caller: a person or a service, with its roles.
type Principal struct {
	Name  string
	Roles []Role
}

// Has reports whether p holds role r.
func (p Principal) Has(r Role) bool { return slices.Contains(p.Roles, r) }

type principalKey struct{}

// NewContext returns ctx carrying p; the interceptors call it for every authenticated call.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal the interceptors authenticated, if any (public
// methods such as health carry none).
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Caller names the authenticated principal of ctx for audit trails and job histories;
// "unknown" only where no authentication ran (never in a served call: the interceptor
// refuses those first).
func Caller(ctx context.Context) string {
	if p, ok := FromContext(ctx); ok {
		return p.Name
	}
	return "unknown"
}
