package external

import (
	"fmt"
	"net/url"
	"strings"
)

// AllowedHosts are the hosts the harvester may call external systems on; empty allows
// every host. Redirects never leave the base URL's origin (the connectors check that),
// so the base URL's host is the only one to check.
type AllowedHosts []string

// ParseAllowedHosts parses a comma-separated list of host names, each exact or
// "*.domain" (any subdomain of domain, not domain itself). Names are compared
// case-insensitively; ports and schemes are not part of a host.
func ParseAllowedHosts(list string) (AllowedHosts, error) {
	var out AllowedHosts
	for _, h := range strings.Split(list, ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		name := strings.TrimPrefix(h, "*.")
		if name == "" || strings.ContainsAny(name, "*/:@ ") {
			return nil, fmt.Errorf("%q is not a host name or *.domain pattern", h)
		}
		out = append(out, h)
	}
	return out, nil
}

// Allows reports whether host may be called.
func (a AllowedHosts) Allows(host string) bool {
	if len(a) == 0 {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, h := range a {
		if suffix, ok := strings.CutPrefix(h, "*"); ok {
			if strings.HasSuffix(host, suffix) && len(host) > len(suffix) {
				return true
			}
		} else if host == h {
			return true
		}
	}
	return false
}

// check refuses a base URL whose host is not allowed, or that does not parse (so no
// connector gets to interpret it differently).
func (a AllowedHosts) check(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("its base URL does not parse: %w", err)
	}
	if !a.Allows(u.Hostname()) {
		return fmt.Errorf("its base URL's host %q is not in the harvester's --allowed-hosts", u.Hostname())
	}
	return nil
}
