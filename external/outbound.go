package external

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"

	"github.com/interloan/interloan/external/httpcall"
)

// Outbound is the harvester's policy for calls to external systems. A profile's base URL
// must name an allowed host, spelled as a name or a plain IP address; and every
// connection, to the base URL or after a redirect, must reach a global address. The
// address is checked when the socket is about to connect, after name resolution, so a
// name that resolves (or later re-resolves) to an internal address is refused too.
type Outbound struct {
	// Hosts, when not empty, are the only hosts a base URL may name (ParseAllowedHosts).
	Hosts AllowedHosts
	// AllowPrivate lets connections reach loopback, private, link-local and the other
	// non-global addresses (nonGlobal): for development, the demo and tests, whose fake
	// systems listen on loopback.
	AllowPrivate bool
}

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

// check refuses, before any connection, a base URL that does not parse (so no connector
// gets to interpret it differently), whose host is not allowed, is a number spelled
// other than as a plain IP address, or is an address the policy refuses.
func (o Outbound) check(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("its base URL does not parse: %w", err)
	}
	host := u.Hostname()
	if !o.Hosts.Allows(host) {
		return fmt.Errorf("its base URL's host %q is not in the harvester's --allowed-hosts", host)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		if numeric(host) {
			// 0x7f000001, 127.1, 0177.0.0.1: resolvers and browsers disagree on what
			// these mean, so none of them is trusted to mean what the policy checked.
			return fmt.Errorf("its base URL's host %q is a number but not a plain IP address (write it as a.b.c.d or a name)", host)
		}
		return nil
	}
	if ip.Zone() != "" {
		return fmt.Errorf("its base URL's host %q carries an IPv6 zone, which names a local interface", host)
	}
	if class := nonGlobal(ip); class != "" && !o.AllowPrivate {
		return fmt.Errorf("its base URL's host %s is a %s address, which the harvester's outbound policy refuses (--allow-private-networks permits it)", host, class)
	}
	return nil
}

// numeric reports a host whose last label is a number (decimal, or 0x hex): the WHATWG
// URL standard takes such a host for an IPv4 address in some spelling. No registered
// top-level domain is numeric, so no name is refused for it.
func numeric(host string) bool {
	host = strings.TrimSuffix(host, ".")
	last := host[strings.LastIndexByte(host, '.')+1:]
	digits := "0123456789"
	if l := strings.ToLower(last); strings.HasPrefix(l, "0x") {
		last, digits = l[2:], "0123456789abcdef"
	}
	for _, r := range last {
		if !strings.ContainsRune(digits, r) {
			return false
		}
	}
	return host != ""
}

// control is the dialer's check of each address it is about to connect to (after name
// resolution, once per address tried). nil when the policy allows every address.
func (o Outbound) control() func(network, address string, _ syscall.RawConn) error {
	if o.AllowPrivate {
		return nil
	}
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s address %q is not an IP address and port", httpcall.ErrOutboundRefused, network, address)
		}
		if class := nonGlobal(ap.Addr()); class != "" {
			return fmt.Errorf("%w: %s is a %s address (--allow-private-networks permits it)", httpcall.ErrOutboundRefused, ap.Addr(), class)
		}
		return nil
	}
}

// client is the HTTP client a connector of system peer calls it with: httpcall's
// transport, dialling through the policy's check.
func (o Outbound) client(peer string) *http.Client {
	return httpcall.NewClient(peer, o.control())
}

// reserved are special-purpose blocks (IANA's registries) that netip's predicates leave
// out but that no external system is reached on.
var reserved = []struct {
	prefix netip.Prefix
	class  string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `"this network"`},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (carrier-grade NAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible (deprecated)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("fec0::/10"), "site-local (deprecated)"},
}

// Prefixes that carry an IPv4 address inside an IPv6 one: the IPv4 address decides.
var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052: the last 32 bits
	sixToF4 = netip.MustParsePrefix("2002::/16")    // RFC 3056: bits 16–47
)

// nonGlobal names the class of an address the policy refuses, or "" for a global one.
// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is judged as its IPv4 address, as are
// the NAT64 and 6to4 forms, which a gateway would turn into it.
func nonGlobal(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	if b := ip.As16(); ip.Is6() && nat64.Contains(ip) {
		ip = netip.AddrFrom4([4]byte(b[12:16]))
	} else if ip.Is6() && sixToF4.Contains(ip) {
		ip = netip.AddrFrom4([4]byte(b[2:6]))
	}
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "link-local"
	case ip.IsMulticast():
		return "multicast"
	case ip.IsPrivate():
		return "private"
	}
	for _, r := range reserved {
		if r.prefix.Contains(ip) {
			return r.class
		}
	}
	if !ip.IsGlobalUnicast() { // e.g. the IPv4 broadcast address
		return "non-global"
	}
	return ""
}
