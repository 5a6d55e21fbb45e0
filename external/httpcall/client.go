package httpcall

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// BaseURL validates a connector's configured base URL: absolute http or https, without
// credentials (they would end up in errors and logs; credentialsField names where they
// belong instead), query or fragment. pkg prefixes the errors.
func BaseURL(pkg, raw, credentialsField string) (*url.URL, error) {
	base := strings.TrimSpace(raw)
	u, err := url.Parse(base)
	if err != nil || base == "" {
		return nil, fmt.Errorf("%s: base URL %q is not a valid URL", pkg, raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%s: base URL %q must be an absolute http or https URL", pkg, raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s: base URL must not contain user credentials; set %s instead", pkg, credentialsField)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s: base URL %q must not have a query or fragment", pkg, raw)
	}
	return u, nil
}

// ErrOutboundRefused is wrapped by the error of a connection that the dial check given
// to NewClient refused (the harvester's outbound policy): no retry can mend it.
var ErrOutboundRefused = errors.New("outbound address refused")

// Transport bounds each phase that can hang before an answer starts (dial, TLS,
// response header), but not the body, which may legitimately stream for minutes.
// check, when not nil, is the dialer's Control: it sees each address about to be
// connected to, after name resolution, and refuses it by returning an error. No proxy
// is taken from the environment: through a proxy, check would see the proxy's address
// instead of the external system's.
func Transport(check func(network, address string, c syscall.RawConn) error) *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second, Control: check}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
}

// NewClient is the client a connector calls peer with: Transport(check) with no overall
// timeout (the caller's ctx governs a long streaming answer). Each call is a client span
// named "<peer> <method>" of the run's trace and counted in the http.client.* metrics;
// otelhttp records no request headers.
func NewClient(peer string, check func(network, address string, c syscall.RawConn) error) *http.Client {
	return &http.Client{Transport: otelhttp.NewTransport(Transport(check),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return peer + " " + r.Method }))}
}

// ErrRedirectRefused stops a redirect that would carry a credential (a header, or a
// resent POST body) to another origin.
var ErrRedirectRefused = errors.New("redirect to another origin refused")

// Redirects is a connector's redirect policy beyond "same origin only".
type Redirects struct {
	// UpgradeToHTTPS lets http → https on the same host through.
	UpgradeToHTTPS bool
	// KeepCallers consults the given client's own CheckRedirect after the origin check.
	KeepCallers bool
}

// Client returns a copy of given (NewClient(peer, nil) when nil) that refuses redirects
// to another origin; the caller's client keeps its own policy.
func Client(given *http.Client, peer string, policy Redirects) *http.Client {
	if given == nil {
		given = NewClient(peer, nil)
	}
	cp := *given
	var next func(*http.Request, []*http.Request) error
	if policy.KeepCallers {
		next = given.CheckRedirect
	}
	cp.CheckRedirect = sameOrigin(policy.UpgradeToHTTPS, next)
	return &cp
}

func sameOrigin(upgrade bool, next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		upgrading := upgrade && first.Scheme == "http" && req.URL.Scheme == "https"
		if req.URL.Host != first.Host || req.URL.Scheme != first.Scheme && !upgrading {
			return ErrRedirectRefused
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
}
