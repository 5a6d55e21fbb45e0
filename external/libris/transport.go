package libris

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/external/httpcall"
)

const userAgent = "interloan-harvester (libris connector)"

// errIdle is the cancel cause when an answer's body stops flowing for ReadIdleTimeout.
var errIdle = errors.New("answer stalled")

// readFunc consumes an accepted answer and reports how many requests it handed to the
// caller, so that call knows whether retrying could show the caller anything twice.
type readFunc func(resp *http.Response, br *bodyReader) (visited int, err error)

// call GETs u until an answer is read, retrying (with backoff) what may be transient:
// HTTP 5xx/429/408, network errors and timeouts, and a body that broke before any request
// of it was visited. 401/403 end at once with KindAuth, a bound of Config.Limits with its
// *connector.LimitError. op names the kind of call for the metrics (httpcall.Loop.Run).
func (c *Client) call(ctx context.Context, op, u, what string, accept func(int) bool, read readFunc) error {
	return c.loop.Run(ctx, op, what, func() (*httpcall.Retry, time.Duration, error) {
		return c.attempt(ctx, u, what, accept, read)
	})
}

func (c *Client) attempt(ctx context.Context, u, what string, accept func(int) bool, read readFunc) (*httpcall.Retry, time.Duration, error) {
	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, c.fail(connector.KindUnreachable, err, "cannot build the Libris URL for %s", what)
	}
	if c.apiKey != "" {
		// Set directly, not with Header.Set (which would send `Api-Key`), so the header
		// goes out spelled exactly `api-key`, the name Libris documents.
		req.Header["api-key"] = []string{c.apiKey}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)

	resp, retry, retryAfter, err := c.loop.Send(ctx, c.hc, req, what)
	if resp == nil {
		return retry, retryAfter, err
	}
	defer resp.Body.Close()

	code := resp.StatusCode
	switch {
	case httpcall.IsAuthRefusal(code):
		httpcall.Drain(resp.Body)
		if c.apiKey == "" {
			return nil, 0, c.fail(connector.KindAuth, nil, "Libris refused the request for library %s (%s): no API key is configured", c.sigel, statusText(code))
		}
		e := c.fail(connector.KindAuth, nil, "Libris refused the API key for library %s (%s); check the key and the library code, which is case-sensitive", c.sigel, statusText(code))
		// Libris answers 401 for a key it does not know and 403 for a key of another
		// sigel: the key is good, the sigel is not its.
		e.Library = code == http.StatusForbidden
		return nil, 0, e
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
		if le := c.loop.Exceeded(br.err, what); le != nil {
			return nil, 0, le // a bound of Config.Limits: not retried
		}
		if ctx.Err() != nil {
			return nil, 0, c.ctxErr(ctx, what)
		}
		if errors.Is(context.Cause(reqCtx), errIdle) {
			err = c.fail(connector.KindUnreachable, nil, "Libris stopped sending the answer for %s for %s, after %d requests", what, c.idle, n)
		}
		if connector.KindOf(err) == connector.KindUnreachable && n == 0 {
			// Nothing of this answer reached the caller: trying again cannot duplicate.
			return &httpcall.Retry{Last: "answer broke off", Err: err}, 0, nil
		}
		return nil, 0, err
	default:
		ctype := resp.Header.Get("Content-Type")
		body := httpcall.ReadErrorAnswer(resp.Body, c.loop.Secret)
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

func (c *Client) ctxErr(ctx context.Context, what string) error { return c.loop.CtxErr(ctx, what) }

// fail builds a connector error whose text cannot contain the API key.
func (c *Client) fail(kind connector.Kind, err error, format string, args ...any) *connector.Error {
	return c.loop.Secret.Fail(kind, err, format, args...)
}

// snippet quotes an error answer for staff; only an HTML answer is stripped of tags, as
// a JSON one may hold a '<' worth keeping.
func (c *Client) snippet(body []byte, ctype string) string {
	return httpcall.Snippet(body, ctype, httpcall.MarkupIfHTML, c.loop.Secret)
}

var (
	statusText = httpcall.StatusText
	mediaType  = httpcall.MediaType
)

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
