package external

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/external/httpcall"
)

// Step is one step of a connection test, in the order they run.
type Step int

const (
	// StepAddress: the base URL parses, its host resolves, and the outbound policy
	// allows it and an address it resolves to (the check a run makes).
	StepAddress Step = iota + 1
	// StepTLS: the TLS handshake with the host succeeds (https only).
	StepTLS
	// StepHTTP: the base URL answers HTTP at all.
	StepHTTP
	// StepCredential: the system accepts the profile's credential.
	StepCredential
	// StepLibrary: the system knows the profile's library code.
	StepLibrary
)

// Steps are every step of a connection test, in order.
var Steps = []Step{StepAddress, StepTLS, StepHTTP, StepCredential, StepLibrary}

// Check codes: OK for a step that passed; NOT_RUN for one after a failure; NOT_APPLICABLE
// for TLS on an http base URL; the others name a failure.
const (
	CheckOK                = "OK"
	CheckNotRun            = "NOT_RUN"
	CheckNotApplicable     = "NOT_APPLICABLE"
	CheckSystemUnknown     = "SYSTEM_UNKNOWN"
	CheckBaseURLInvalid    = "BASE_URL_INVALID"
	CheckOutboundRefused   = "OUTBOUND_REFUSED"
	CheckNameNotResolved   = "NAME_NOT_RESOLVED"
	CheckUnreachable       = "UNREACHABLE"
	CheckTLSFailed         = "TLS_FAILED"
	CheckCredentialMissing = "CREDENTIAL_MISSING"
	CheckCredentialInvalid = "CREDENTIAL_INVALID"
	CheckCredentialRefused = "CREDENTIAL_REFUSED"
	CheckLibraryUnknown    = "LIBRARY_UNKNOWN"
	CheckUnexpectedAnswer  = "UNEXPECTED_ANSWER"
	CheckTimeout           = "TIMEOUT"
)

// Check is the result of one step: passed (Code OK), failed, not run or not applicable,
// with what was found in words for staff (never the credential) and how long it took.
type Check struct {
	Step     Step
	Code     string
	Message  string
	Duration time.Duration
}

// Passed reports whether the step passed or did not apply.
func (c Check) Passed() bool { return c.Code == CheckOK || c.Code == CheckNotApplicable }

// probeTimeout bounds each network step of a connection test: a test is interactive.
const probeTimeout = 15 * time.Second

// Probe tests step by step whether profile p can reach its system with secret: the
// address and the outbound policy, TLS, HTTP, the credential and the library code (the
// last two by the connector's Probe, reading today's requests). A failed step names
// what to fix and the steps after it are NOT_RUN. Nothing is stored; secret goes only
// to the system, as a run sends it.
func Probe(ctx context.Context, o Outbound, p *profilesv1.IntegrationProfile, secret string, lim connector.Limits, today connector.Day) []Check {
	var checks []Check
	failed := false
	step := func(s Step, f func(ctx context.Context) (code, msg string)) {
		if failed {
			checks = append(checks, Check{Step: s, Code: CheckNotRun, Message: "not run: an earlier step failed"})
			return
		}
		ctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		start := time.Now()
		code, msg := f(ctx)
		checks = append(checks, Check{Step: s, Code: code, Message: msg, Duration: time.Since(start)})
		failed = code != CheckOK && code != CheckNotApplicable
	}

	s, ok := Of(p)
	var set connector.Settings
	peer := "external system"
	if ok {
		set, _ = s.Settings(p)
		peer = s.Name
	}
	var host, port string
	var tlsWanted bool
	step(StepAddress, func(ctx context.Context) (string, string) {
		if !ok {
			return CheckSystemUnknown, "the profile names no external system this harvester knows; choose Libris or Netpunkt"
		}
		u, err := httpcall.BaseURL(strings.ToLower(s.Name), set.BaseURL, "the profile's credential")
		if err != nil {
			return CheckBaseURLInvalid, err.Error() + "; correct the base URL"
		}
		if err := o.check(set.BaseURL); err != nil {
			return CheckOutboundRefused, "the harvester will not call this address: " + err.Error()
		}
		host, port, tlsWanted = u.Hostname(), u.Port(), u.Scheme == "https"
		if port == "" {
			port = strconv.Itoa(defaultPorts[u.Scheme])
		}
		addrs, err := resolve(ctx, host)
		if err != nil {
			return CheckNameNotResolved, fmt.Sprintf("the host %q does not resolve (%s); check the base URL's spelling", host, plainDNS(err))
		}
		var allowed, refused []string
		for _, a := range addrs {
			if class := nonGlobal(a); class != "" && !o.AllowPrivate {
				refused = append(refused, a.String()+" ("+class+")")
			} else {
				allowed = append(allowed, a.String())
			}
		}
		if len(allowed) == 0 {
			return CheckOutboundRefused, fmt.Sprintf("%s resolves only to addresses the harvester's outbound policy refuses: %s (--allow-private-networks permits them)",
				host, strings.Join(refused, ", "))
		}
		return CheckOK, fmt.Sprintf("%s resolves to %s, which the outbound policy allows", host, strings.Join(allowed, ", "))
	})
	step(StepTLS, func(ctx context.Context) (string, string) {
		if !tlsWanted {
			return CheckNotApplicable, "the base URL is plain http: no TLS, so the credential would cross the network unencrypted"
		}
		return handshake(ctx, o, host, port)
	})
	client := o.client(peer)
	step(StepHTTP, func(ctx context.Context) (string, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, set.BaseURL, nil)
		if err != nil {
			return CheckBaseURLInvalid, "cannot build a request for the base URL; correct it"
		}
		req.Header.Set("User-Agent", "interloan-harvester (connection test)")
		noRedirect := *client
		noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := noRedirect.Do(req)
		if err != nil {
			return failureCode(ctx, err), fmt.Sprintf("no HTTP answer from %s: %s; check the base URL and that the system is up", hostPort(host, port), plainNet(err))
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return CheckOK, fmt.Sprintf("%s answers HTTP (%s without credentials)", hostPort(host, port), httpcall.StatusText(resp.StatusCode))
	})
	var res connector.ProbeResult
	var probeErr error
	step(StepCredential, func(ctx context.Context) (string, string) {
		if secret == "" {
			return CheckCredentialMissing, "the profile has no credential (api_key); enter it"
		}
		conn, err := s.Connect(p, secret, client, lim)
		if err != nil {
			return CheckCredentialInvalid, err.Error()
		}
		res, probeErr = conn.Probe(ctx, today)
		var ce *connector.Error
		var le *connector.LimitError
		switch {
		case probeErr == nil:
			return CheckOK, res.Credential
		case errors.As(probeErr, &ce) && ce.Kind == connector.KindAuth && ce.Library:
			return CheckOK, s.Name + " accepted the credential"
		case errors.As(probeErr, &ce) && ce.Kind == connector.KindAuth:
			return CheckCredentialRefused, ce.Message + "; enter the credential again"
		case errors.As(probeErr, &ce) && ce.Kind == connector.KindUnreachable:
			return CheckUnreachable, ce.Error()
		case errors.As(probeErr, &ce):
			return CheckUnexpectedAnswer, ce.Error() + "; check that the base URL is the system's API"
		case errors.As(probeErr, &le), ctx.Err() != nil:
			return CheckTimeout, fmt.Sprintf("%s did not answer in time: %s", s.Name, probeErr)
		}
		return CheckUnexpectedAnswer, probeErr.Error()
	})
	step(StepLibrary, func(context.Context) (string, string) {
		if probeErr != nil {
			var ce *connector.Error
			errors.As(probeErr, &ce)
			return CheckLibraryUnknown, fmt.Sprintf("%s; the credential itself is good, so check the %s %q", ce.Message, s.CodeName, set.LibraryCode)
		}
		return CheckOK, res.Library
	})
	return checks
}

// resolve returns the addresses of host: itself for an IP address.
func resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// handshake connects to host:port through the policy's dialer check and completes a TLS
// handshake with the connectors' TLS settings.
func handshake(ctx context.Context, o Outbound, host, port string) (string, string) {
	d := &net.Dialer{Control: o.control()}
	raw, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return failureCode(ctx, err), fmt.Sprintf("cannot connect to %s: %s; check the base URL and that the system is up", hostPort(host, port), plainNet(err))
	}
	defer raw.Close()
	cfg := httpcall.Transport(nil).TLSClientConfig.Clone()
	cfg.ServerName = host
	c := tls.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		return CheckTLSFailed, fmt.Sprintf("the TLS handshake with %s failed: %s; the system's certificate must be valid for %s and trusted by the harvester", hostPort(host, port), err, host)
	}
	st := c.ConnectionState()
	return CheckOK, fmt.Sprintf("%s with %s, certificate for %s valid until %s", tls.VersionName(st.Version), hostPort(host, port),
		st.PeerCertificates[0].Subject.CommonName, st.PeerCertificates[0].NotAfter.UTC().Format("2006-01-02"))
}

// failureCode classifies a network failure: refused by the policy's dialer check, timed
// out, or unreachable.
func failureCode(ctx context.Context, err error) string {
	switch {
	case errors.Is(err, httpcall.ErrOutboundRefused):
		return CheckOutboundRefused
	case ctx.Err() != nil:
		return CheckTimeout
	}
	return CheckUnreachable
}

func hostPort(host, port string) string { return net.JoinHostPort(host, port) }

// plainNet is a network error without Go's operation prefixes ("dial tcp …: connect:").
func plainNet(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

func plainDNS(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.Err
	}
	return err.Error()
}
