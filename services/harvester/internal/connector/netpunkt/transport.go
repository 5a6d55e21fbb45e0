package netpunkt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/interloan/interloan/services/harvester/internal/connector"
)

const userAgent = "interloan-harvester (netpunkt connector)"

// readFunc consumes an accepted answer and reports how many orders it handed to the
// caller, so call knows whether a retry could show the caller anything twice.
type readFunc func(d *decoder) (visited int, err error)

// call POSTs form until an answer is read, retrying what may be transient: HTTP
// 5xx/429/408, network errors, and a body that broke before any order was visited.
func (c *Client) call(ctx context.Context, form url.Values, what string, read readFunc) error {
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return c.ctxErr(ctx, what)
		}
		retry, retryAfter, err := c.attempt(ctx, form, what, read)
		if retry == nil {
			return err
		}
		if attempt >= c.maxAttempts {
			return c.fail(connector.KindUnreachable, retry.err, "Netpunkt did not answer usefully for %s after %d attempts (last: %s)", what, attempt, retry.last)
		}
		if err := c.sleep(ctx, c.backoff(attempt, retryAfter)); err != nil {
			if ctx.Err() != nil {
				return c.ctxErr(ctx, what)
			}
			return fmt.Errorf("netpunkt: waiting to retry %s: %w", what, err)
		}
	}
}

type retryReason struct {
	last string
	err  error
}

func (c *Client) attempt(ctx context.Context, form url.Values, what string, read readFunc) (*retryReason, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, 0, c.fail(connector.KindUnreachable, err, "cannot build the Netpunkt request for %s", what)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/xml, text/xml")
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, c.ctxErr(ctx, what)
		}
		if errors.Is(err, errRedirectRefused) {
			return nil, 0, c.fail(connector.KindUnreachable, err, "Netpunkt redirected %s to another site; the password is not sent there (check the base URL)", what)
		}
		last := "network error"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			last = "timeout"
		}
		return &retryReason{last, err}, 0, nil
	}
	defer resp.Body.Close()
	code := resp.StatusCode
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		drain(resp.Body)
		return nil, 0, c.fail(connector.KindAuth, nil, "Netpunkt refused the DBC credentials for agency %s (%s)", c.agency, statusText(code))
	case code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		drain(resp.Body)
		return &retryReason{statusText(code), nil}, retryAfter(resp.Header.Get("Retry-After")), nil
	case code >= 200 && code < 300:
		d := newDecoder(resp.Body)
		n, err := read(d)
		if err == nil {
			return nil, 0, nil
		}
		var de *decodeError
		switch {
		case ctx.Err() != nil:
			return nil, 0, c.ctxErr(ctx, what)
		case errors.As(err, &de) && de.auth:
			return nil, 0, c.fail(connector.KindAuth, nil, "Netpunkt refused the DBC credentials for agency %s (%s)", c.agency, de.msg)
		case errors.As(err, &de) && d.netErr != nil:
			if n == 0 {
				return &retryReason{"answer broke off", d.netErr}, 0, nil
			}
			return nil, 0, c.fail(connector.KindUnreachable, d.netErr, "the connection to Netpunkt broke while reading the answer for %s, after %d orders", what, n)
		case errors.As(err, &de):
			return nil, 0, c.fail(connector.KindGarbage, nil, "Netpunkt answered an unusable document for %s (%s) after %d orders: %s", what, mediaType(resp.Header.Get("Content-Type")), n, de.msg)
		}
		return nil, 0, err // the visit function's own error or a connector error, as is
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096+int64(len(c.password))))
		return nil, 0, c.fail(connector.KindGarbage, nil, "Netpunkt answered %s for %s: %q", statusText(code), what, c.snippet(body))
	}
}

// backoff is exponential with full jitter, raised to Retry-After, capped at MaxBackoff.
func (c *Client) backoff(failures int, retryAfter time.Duration) time.Duration {
	ceil := c.baseBackoff
	for i := 1; i < failures && ceil < c.maxBackoff; i++ {
		ceil *= 2
	}
	ceil = min(ceil, c.maxBackoff)
	d := max(time.Duration(c.jitter(int64(ceil)+1)), retryAfter)
	return min(max(d, 0), c.maxBackoff)
}

func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(min(s, 86400)) * time.Second
	}
	return 0
}

// ctxErr wraps ctx.Err() and is deliberately not a connector *Error, so a cancelled run
// is not mistaken for an unreachable Netpunkt.
func (c *Client) ctxErr(ctx context.Context, what string) error {
	return fmt.Errorf("netpunkt: %s stopped: %w", what, ctx.Err())
}

// fail builds a connector error whose text cannot contain the password.
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
	if c.password == "" {
		return s
	}
	s = strings.ReplaceAll(s, c.password, "[password]")
	// The password also travels form-encoded; an echo of the request would show that form.
	if enc := url.QueryEscape(c.password); enc != c.password {
		s = strings.ReplaceAll(s, enc, "[password]")
	}
	return s
}

const maxSnippet = 200

// snippet turns the start of an error answer into one short printable line: tags and
// control characters removed, the password redacted, at most 200 bytes.
func (c *Client) snippet(body []byte) string {
	s := c.redact(strings.ToValidUTF8(string(body), "\uFFFD"))
	var b strings.Builder
	space, inTag := false, false
	for _, r := range s {
		switch {
		case r == '<':
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
	if i := strings.IndexByte(ctype, ';'); i >= 0 {
		ctype = ctype[:i]
	}
	return strings.TrimSpace(ctype)
}

func drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10)) }
