package libris

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/interloan/interloan/services/harvester/internal/connector"
)

const userAgent = "interloan-harvester (libris connector)"

// errIdle is the cancel cause when an answer's body stops flowing for ReadIdleTimeout.
var errIdle = errors.New("answer stalled")

// readFunc consumes an accepted answer and reports how many requests it handed to the
// caller, so that call knows whether retrying could show the caller anything twice.
type readFunc func(resp *http.Response, br *bodyReader) (visited int, err error)

// call GETs u until an answer is read, retrying (with backoff) what may be transient:
// HTTP 5xx/429/408, network errors and timeouts, and a body that broke before any request
// of it was visited. 401/403 end at once with KindAuth.
func (c *Client) call(ctx context.Context, u, what string, accept func(int) bool, read readFunc) error {
	var last string   // what went wrong last, for the final message
	var lastErr error // the underlying error of the last attempt, if any
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return c.ctxErr(ctx, what)
		}
		retry, retryAfter, err := c.attempt(ctx, u, what, accept, read)
		if retry == nil {
			return err
		}
		last, lastErr = retry.last, retry.err
		if attempt >= c.maxAttempts {
			return c.fail(connector.KindUnreachable, lastErr, "Libris did not answer usefully for %s after %d attempts (last: %s)", what, attempt, last)
		}
		if err := c.sleep(ctx, c.backoff(attempt, retryAfter)); err != nil {
			if ctx.Err() != nil {
				return c.ctxErr(ctx, what)
			}
			return fmt.Errorf("libris: waiting to retry %s: %w", what, err)
		}
	}
}

// retryReason says why an attempt failed in a way worth retrying.
type retryReason struct {
	last string // short, for the final message ("HTTP 503 Service Unavailable")
	err  error  // the underlying error, if any
}

func retryWith(last string, err error) *retryReason { return &retryReason{last, err} }

func (c *Client) attempt(ctx context.Context, u, what string, accept func(int) bool, read readFunc) (*retryReason, time.Duration, error) {
	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, c.fail(connector.KindUnreachable, err, "cannot build the Libris URL for %s", what)
	}
	if c.apiKey != "" {
		// Set directly so the header goes out spelled exactly `api-key` (reference §1).
		req.Header["api-key"] = []string{c.apiKey}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)

	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, c.ctxErr(ctx, what)
		}
		if errors.Is(err, errRedirectRefused) {
			return nil, 0, c.fail(connector.KindUnreachable, err, "Libris redirected %s to another site; the API key is not sent there (check the base URL)", what)
		}
		if certificateProblem(err) {
			return nil, 0, c.fail(connector.KindUnreachable, err, "Libris's TLS certificate was not accepted for %s", what)
		}
		last := "network error"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			last = "timeout"
		}
		return retryWith(last, err), 0, nil
	}
	defer resp.Body.Close()

	code := resp.StatusCode
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		drain(resp.Body)
		if c.apiKey == "" {
			return nil, 0, c.fail(connector.KindAuth, nil, "Libris refused the request for library %s (%s): no API key is configured", c.sigel, statusText(code))
		}
		return nil, 0, c.fail(connector.KindAuth, nil, "Libris refused the API key for library %s (%s); check the key and the library code, which is case-sensitive", c.sigel, statusText(code))
	case code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		drain(resp.Body)
		return retryWith(statusText(code), nil), retryAfter(resp.Header.Get("Retry-After")), nil
	case accept(code):
		br := &bodyReader{r: resp.Body}
		if c.idle > 0 {
			t := time.AfterFunc(c.idle, func() { cancel(errIdle) })
			t.Stop() // br.Read arms it only while blocked on the network
			defer t.Stop()
			br.idle, br.idleFor = t, c.idle
		}
		n, err := read(resp, br)
		if err == nil || connector.KindOf(err) == 0 && br.err == nil {
			return nil, 0, err // success, or the visit function's own error, as is
		}
		if ctx.Err() != nil {
			return nil, 0, c.ctxErr(ctx, what)
		}
		if context.Cause(reqCtx) == errIdle {
			err = c.fail(connector.KindUnreachable, nil, "Libris stopped sending the answer for %s for %s, after %d requests", what, c.idle, n)
		}
		if connector.KindOf(err) == connector.KindUnreachable && n == 0 {
			// Nothing of this answer reached the caller: trying again cannot duplicate.
			return retryWith("answer broke off", err), 0, nil
		}
		return nil, 0, err
	default:
		ctype := resp.Header.Get("Content-Type")
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096+int64(len(c.apiKey))))
		hint := ""
		if code == http.StatusBadRequest && strings.HasPrefix(what, "outgoing ") {
			hint = " (if Libris limits the date range, lower the chunk size)"
		}
		if code >= 300 && code < 400 {
			hint = " (a redirect that was not followed; check the base URL)"
		}
		return nil, 0, c.fail(connector.KindGarbage, nil, "Libris answered %s for %s%s: %q", statusText(code), what, hint, c.snippet(body, ctype))
	}
}

// backoff is exponential with full jitter: uniform in [0, min(MaxBackoff, Base·2^(n-1))],
// raised to Retry-After when Libris asks for more, and never above MaxBackoff so that a run
// stays bounded.
func (c *Client) backoff(failures int, retryAfter time.Duration) time.Duration {
	ceil := c.baseBackoff
	for i := 1; i < failures && ceil < c.maxBackoff; i++ {
		ceil *= 2
	}
	ceil = min(ceil, c.maxBackoff)
	d := time.Duration(c.jitter(int64(ceil) + 1))
	d = max(d, retryAfter)
	return min(max(d, 0), c.maxBackoff)
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		if s > 86400 {
			s = 86400
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

func certificateProblem(err error) bool {
	var verr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var ierr x509.CertificateInvalidError
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &ierr)
}

// ctxErr reports that the caller's context ended; it wraps ctx.Err() and is deliberately
// not a connector *Error, so a cancelled run is not mistaken for an unreachable Libris.
func (c *Client) ctxErr(ctx context.Context, what string) error {
	return fmt.Errorf("libris: %s stopped: %w", what, ctx.Err())
}

// fail builds a connector error whose text cannot contain the API key, whatever an
// underlying error or a quoted answer held.
func (c *Client) fail(kind connector.Kind, err error, format string, args ...any) *connector.Error {
	msg := c.redact(fmt.Sprintf(format, args...))
	if err != nil {
		if s := err.Error(); c.redact(s) != s {
			err = errors.New(c.redact(s))
		}
	}
	return &connector.Error{Kind: kind, Message: msg, Err: err}
}

func (c *Client) redact(s string) string {
	if c.apiKey == "" {
		return s
	}
	return strings.ReplaceAll(s, c.apiKey, "[api-key]")
}

const maxSnippet = 200

// snippet turns the start of an error answer into one short, printable line for staff:
// HTML tags and control characters removed, the key redacted, at most 200 bytes.
func (c *Client) snippet(body []byte, ctype string) string {
	s := strings.ToValidUTF8(string(body), "\uFFFD")
	s = c.redact(s)
	html := strings.Contains(ctype, "html") || strings.HasPrefix(strings.TrimSpace(s), "<")
	var b strings.Builder
	space, inTag := false, false
	for _, r := range s {
		switch {
		case html && r == '<':
			inTag, space = true, true
			continue
		case inTag:
			inTag = r != '>'
			continue
		case unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError:
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
		if b.Len() > maxSnippet {
			break
		}
	}
	out := b.String()
	if len(out) > maxSnippet {
		cut := maxSnippet
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut] + "…"
	}
	return out
}

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("HTTP %d %s", code, t)
	}
	return fmt.Sprintf("HTTP %d", code)
}

func mediaType(ctype string) string {
	if ctype == "" {
		return "no content type"
	}
	if mt, _, err := mime.ParseMediaType(ctype); err == nil {
		return mt
	}
	return "content type " + strconv.Quote(ctype)
}

// drain reads a little of a body we do not need so the connection can be reused.
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10)) }

func readAllLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errors.New("answer too large")
	}
	return b, nil
}
