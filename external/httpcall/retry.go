package httpcall

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/interloan/interloan/external/connector"
)

// Defaults for a connector's retry settings left zero.
const (
	DefaultMaxAttempts = 4
	DefaultBaseBackoff = 500 * time.Millisecond
	DefaultMaxBackoff  = 10 * time.Second
)

// Retrying is how a connector retries one call: attempts, backoff bounds and the wait.
type Retrying struct {
	MaxAttempts             int
	BaseBackoff, MaxBackoff time.Duration
	Sleep                   func(ctx context.Context, d time.Duration) error
}

// WithDefaults fills what is zero or negative with the defaults, and keeps the base
// backoff no larger than the maximum.
func (r Retrying) WithDefaults() Retrying {
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	if r.BaseBackoff <= 0 {
		r.BaseBackoff = DefaultBaseBackoff
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = DefaultMaxBackoff
	}
	r.BaseBackoff = min(r.BaseBackoff, r.MaxBackoff)
	if r.Sleep == nil {
		r.Sleep = connector.Sleep
	}
	return r
}

// Retry says why an attempt failed in a way worth trying again.
type Retry struct {
	Last string // short, for the final message ("HTTP 503 Service Unavailable")
	Err  error  // the underlying error, if any
}

// networkRetry is the Retry for an error of the HTTP client that was neither the
// caller's context ending nor a refused redirect.
func networkRetry(err error) *Retry {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Retry{"timeout", err}
	}
	return &Retry{"network error", err}
}

// IsAuthRefusal reports the codes that mean the credentials were refused: retrying
// cannot help.
func IsAuthRefusal(code int) bool {
	return code == http.StatusUnauthorized || code == http.StatusForbidden
}

// isTransient reports the codes worth retrying: 5xx, 429 and 408.
func isTransient(code int) bool {
	return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
}

// maxRetryAfter bounds what a server may ask for; Backoff caps it further.
const maxRetryAfter = 86400

// retryAfterSeconds reads a Retry-After header given as delay seconds; anything else is 0.
func retryAfterSeconds(v string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(min(s, maxRetryAfter)) * time.Second
	}
	return 0
}

// retryAfter reads a Retry-After header given as delay seconds or as an HTTP date.
func retryAfter(v string) time.Duration {
	if d := retryAfterSeconds(v); d > 0 {
		return d
	}
	if t, err := http.ParseTime(strings.TrimSpace(v)); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// Backoff is exponential with full jitter: uniform in [0, min(max, base·2^(failures-1))],
// raised to retryAfter when the server asks for more, and never above max so that a run
// stays bounded. jitter returns a uniform value in [0, n).
func Backoff(base, maxWait time.Duration, jitter func(n int64) int64, failures int, retryAfter time.Duration) time.Duration {
	ceil := base
	for i := 1; i < failures && ceil < maxWait; i++ {
		ceil *= 2
	}
	ceil = min(ceil, maxWait)
	d := max(time.Duration(jitter(int64(ceil)+1)), retryAfter)
	return min(max(d, 0), maxWait)
}

// Loop is how a connector makes one call: its attempts, the waits between them, and the
// messages of the errors that end it. A client builds it once in New.
type Loop struct {
	Peer    string // the system as staff know it: "Libris"
	Package string // the prefix of errors that are not connector errors: "libris"
	Retrying
	// Jitter returns a uniform value in [0, n) (default rand.Int64N); tests replace it to
	// make backoff exact.
	Jitter func(n int64) int64
	Secret Secret
	// Credential names what a refused redirect keeps from another site: "the API key".
	Credential string
}

// Backoff is the wait after the given number of failures (see the function Backoff).
func (l Loop) Backoff(failures int, retryAfter time.Duration) time.Duration {
	jitter := l.Jitter
	if jitter == nil {
		jitter = rand.Int64N
	}
	return Backoff(l.BaseBackoff, l.MaxBackoff, jitter, failures, retryAfter)
}

// Attempt makes one try of a call: a nil Retry ends the loop with err; otherwise the
// loop waits (at least retryAfter) and tries again, until MaxAttempts.
type Attempt func() (retry *Retry, retryAfter time.Duration, err error)

// Run tries attempt until it ends the call, the attempts run out (KindUnreachable, naming
// the last failure) or ctx ends (an error wrapping ctx.Err(), see CtxErr). op names the
// kind of call for the metrics (interloan.external.requests, labelled with Package as the
// system): a fixed word per kind ("outgoing", "findSpecificOrder"), never an id or URL,
// which belong in what. Every attempt is counted and timed here, the one place all of
// them pass.
func (l Loop) Run(ctx context.Context, op, what string, attempt Attempt) error {
	for n := 1; ; n++ {
		if ctx.Err() != nil {
			return l.CtxErr(ctx, what)
		}
		start := time.Now()
		retry, retryAfter, err := attempt()
		recordAttempt(ctx, l.Package, op, time.Since(start), outcomeOf(ctx, retry, err))
		if retry == nil {
			return err
		}
		if n >= l.MaxAttempts {
			return l.Secret.Fail(connector.KindUnreachable, retry.Err, "%s did not answer usefully for %s after %d attempts (last: %s)", l.Peer, what, n, retry.Last)
		}
		if err := l.Sleep(ctx, l.Backoff(n, retryAfter)); err != nil {
			if ctx.Err() != nil {
				return l.CtxErr(ctx, what)
			}
			return fmt.Errorf("%s: waiting to retry %s: %w", l.Package, what, err)
		}
	}
}

// Send sends req with hc and returns the answer, unless the call should end or be tried
// again: then it returns the error that ends it (the caller's ctx ended; a bound of
// Bounded was reached; the outbound policy refused the address; a redirect to another
// origin was refused; the certificate was not accepted, which no retry mends), or the
// Retry of a network error or a transient status (isTransient), with the wait the
// server asked for (Retry-After in seconds or as an HTTP date).
func (l Loop) Send(ctx context.Context, hc *http.Client, req *http.Request, what string) (resp *http.Response, retry *Retry, wait time.Duration, err error) {
	resp, err = hc.Do(req)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, nil, 0, l.CtxErr(ctx, what)
	case l.Exceeded(err, what) != nil:
		return nil, nil, 0, l.Exceeded(err, what) // a bound of Bounded: ends the call
	case errors.Is(err, ErrOutboundRefused):
		return nil, nil, 0, l.Secret.Fail(connector.KindUnreachable, err, "%s was not called for %s: the harvester's outbound policy refuses the address it resolves to", l.Peer, what)
	case errors.Is(err, ErrRedirectRefused):
		return nil, nil, 0, l.Secret.Fail(connector.KindUnreachable, err, "%s redirected %s to another site; %s is not sent there (check the base URL)", l.Peer, what, l.Credential)
	case certificateProblem(err):
		return nil, nil, 0, l.Secret.Fail(connector.KindUnreachable, err, "%s's TLS certificate was not accepted for %s", l.Peer, what)
	default:
		return nil, networkRetry(err), 0, nil
	}
	if isTransient(resp.StatusCode) {
		Drain(resp.Body)
		resp.Body.Close()
		return nil, &Retry{Last: StatusText(resp.StatusCode)}, retryAfter(resp.Header.Get("Retry-After")), nil
	}
	return resp, nil, 0, nil
}

func certificateProblem(err error) bool {
	var verr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var ierr x509.CertificateInvalidError
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &ierr)
}

// CtxErr reports that the caller's context ended; it wraps ctx.Err() and is deliberately
// not a connector *Error, so a cancelled run is not mistaken for an unreachable system.
func (l Loop) CtxErr(ctx context.Context, what string) error {
	return fmt.Errorf("%s: %s stopped: %w", l.Package, what, ctx.Err())
}
