package external

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// defaultPorts are the ports an http or https URL without one connects to.
var defaultPorts = map[string]int{"http": 80, "https": 443}

// Origin returns the origin of an external system's base URL, `scheme://host:port`, in
// one spelling for every way of writing the same address: scheme and host in lower case,
// a trailing dot dropped from the host, the port explicit and without leading zeros
// (80 for http, 443 for https when the URL has none). A profile's credential is bound to
// it: the harvester sends a secret to no other origin than the one it was entered for.
// Surrounding spaces are ignored as the connectors ignore them; anything but an absolute
// http or https URL with a host is an error.
func Origin(baseURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return "", fmt.Errorf("base URL does not parse: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	port, ok := defaultPorts[scheme]
	if !ok || u.Host == "" {
		return "", fmt.Errorf("base URL %q is not an absolute http or https URL", baseURL)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return "", fmt.Errorf("base URL %q has no host", baseURL)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("base URL %q has port %q, not one of 1-65535", baseURL, p)
		}
		port = n
	}
	// JoinHostPort brackets an IPv6 address.
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)), nil
}
