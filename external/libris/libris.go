// Package libris is the harvester's connector for the Libris fjärrlån (ILL) HTTP API: it
// streams one library's outgoing (borrowing) requests for a window of days and fetches one
// request by id (GET illrequests/{sigel}/outgoing and illrequests/{sigel}/{id}).
//
// Answers are decoded token by token, one request at a time, so the size of a Libris answer
// never decides how much memory the harvester uses. The API key travels only in the
// `api-key` header; it is never logged (this package logs nothing) and is scrubbed from
// every error.
package libris

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/external/httpcall"
)

// Defaults for the zero values of Config.
const (
	DefaultChunkDays       = 7
	DefaultMaxAttempts     = httpcall.DefaultMaxAttempts
	DefaultBaseBackoff     = httpcall.DefaultBaseBackoff
	DefaultMaxBackoff      = httpcall.DefaultMaxBackoff
	DefaultReadIdleTimeout = 60 * time.Second
)

// Config binds a Client to one profile's Libris system and credentials.
type Config struct {
	// BaseURL is the profile's system base URL, e.g.
	// https://iller.libris.kb.se/librisfjarrlan/api (absolute http or https, no credentials).
	BaseURL string
	// Sigel is the profile's library code. Case-sensitive: it is path-escaped, never folded.
	Sigel string
	// APIKey is sent as header `api-key` on every call. It never appears in errors.
	APIKey string
	// HTTPClient defaults to a client with dial, TLS and response-header timeouts but no
	// overall timeout (which would cut a long streaming answer); the caller's ctx governs.
	// A given client is copied so that redirects to another host (which would carry the
	// API key away) are refused.
	HTTPClient *http.Client
	// ChunkDays is the most days one outgoing call asks for (default 7), so a long
	// back-fill becomes several moderate calls.
	ChunkDays int
	// MaxAttempts is how many times one call is tried when Libris answers 5xx/429 or the
	// network fails (default 4, i.e. 3 retries).
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the exponential backoff with full jitter between
	// attempts (default 500ms and 10s). MaxBackoff also caps a Retry-After from Libris.
	BaseBackoff, MaxBackoff time.Duration
	// Sleep waits between attempts; tests inject it. Default: a timer that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// ReadIdleTimeout aborts an answer when reading its body waits this long for Libris to
	// send more (default 60s; negative disables). Only time blocked on the network counts,
	// not time spent in visit. A silent Libris is retried; an answer that never falls
	// silent but trickles or never ends meets Limits instead.
	ReadIdleTimeout time.Duration
	// Limits bound each call (its whole exchange, and how slowly its answer may trickle
	// in) and the bytes read over the client's life (httpcall.Bounded); zero fields take
	// connector's defaults. Reaching one ends Fetch or Get with a *connector.LimitError,
	// never retried.
	Limits connector.Limits
}

// Client is a connector.Connector for one Libris library. It is safe for concurrent use.
type Client struct {
	base      string // without a trailing slash
	sigel     string
	apiKey    string
	hc        *http.Client
	loop      httpcall.Loop // retries, backoff, and errors without the API key
	chunkDays int
	idle      time.Duration
}

var _ connector.Connector = (*Client)(nil)

// New validates cfg and returns a client. Errors name the offending setting, never the key.
func New(cfg Config) (*Client, error) {
	// Credentials in the URL would end up in errors and logs; the key has its own field.
	u, err := httpcall.BaseURL("libris", cfg.BaseURL, "the API key")
	if err != nil {
		return nil, err
	}
	if cfg.Sigel == "" || strings.TrimSpace(cfg.Sigel) != cfg.Sigel {
		return nil, fmt.Errorf("libris: library code (sigel) %q is empty or has surrounding spaces", cfg.Sigel)
	}
	if cfg.Sigel == "." || cfg.Sigel == ".." {
		return nil, fmt.Errorf("libris: library code (sigel) %q is not a library code", cfg.Sigel)
	}
	for _, r := range cfg.APIKey {
		if r < ' ' || r == 0x7f {
			return nil, errors.New("libris: the API key contains control characters, which an HTTP header cannot carry")
		}
	}

	c := &Client{
		base:   strings.TrimRight(u.String(), "/"),
		sigel:  cfg.Sigel,
		apiKey: cfg.APIKey,
		loop: httpcall.Loop{
			Peer: "Libris", Package: "libris",
			Retrying:   httpcall.Retrying{MaxAttempts: cfg.MaxAttempts, BaseBackoff: cfg.BaseBackoff, MaxBackoff: cfg.MaxBackoff, Sleep: cfg.Sleep}.WithDefaults(),
			Secret:     httpcall.NewSecret(cfg.APIKey, "[api-key]"),
			Credential: "the API key",
		},
		chunkDays: cfg.ChunkDays,
		idle:      cfg.ReadIdleTimeout,
		// The api-key header would follow a redirect (net/http copies custom headers), so
		// only the same origin, or its upgrade to https, is followed.
		hc: httpcall.Bounded(httpcall.Client(cfg.HTTPClient, "Libris", httpcall.Redirects{UpgradeToHTTPS: true, KeepCallers: true}), cfg.Limits),
	}
	if c.chunkDays <= 0 {
		c.chunkDays = DefaultChunkDays
	}
	if c.idle == 0 {
		c.idle = DefaultReadIdleTimeout
	}
	return c, nil
}

// Fetch streams the outgoing requests ordered in w, oldest chunk first, calling visit for
// each request as soon as it is decoded.
//
// The window is split into chunks of at most ChunkDays days, one call each. A call that
// fails before any of its requests reached visit (5xx, 429, network, timeout) is retried
// with backoff. Once visit has seen a request of a chunk, a failure of that chunk is
// returned, not retried: visit may therefore have seen part of a chunk (or of the window)
// when Fetch fails. That is safe for the harvester, whose ingest is idempotent, but the
// window counts as fetched only when Fetch returns nil — a truncated answer (count
// mismatch, early end) is an error, never a short success.
//
// Errors are *connector.Error (auth, unreachable, garbage), *connector.LimitError (a bound
// of Config.Limits), an error returned by visit (as is), or, when ctx ends, an error
// wrapping ctx.Err().
func (c *Client) Fetch(ctx context.Context, w connector.Window, visit func(*connector.Request) error) error {
	if !w.Valid() {
		return fmt.Errorf("libris: invalid window %s", w)
	}
	if visit == nil {
		return errors.New("libris: Fetch needs a visit function")
	}
	for _, ch := range w.Chunks(c.chunkDays) {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("libris: fetching %s stopped: %w", ch, err)
		}
		what := "outgoing " + ch.String()
		u := c.base + "/illrequests/" + url.PathEscape(c.sigel) + "/outgoing?start_date=" + ch.From.String() + "&end_date=" + ch.To.String()
		read := func(resp *http.Response, br *bodyReader) (int, error) {
			return c.readEnvelope(br, what, resp.Header.Get("Content-Type"), visit)
		}
		if err := c.call(ctx, "outgoing", u, what, isOK, read); err != nil {
			return err
		}
	}
	return nil
}

// maxGetBody bounds the answer for one request: it is read whole so that an error answer
// can be quoted, and one request is a few kilobytes.
const maxGetBody = 8 << 20

// Get fetches one request by lf_number (or request_id). Libris answers an unknown id with
// an envelope of count 0; whether under HTTP 200, 400 or 404 is not known for certain
// (its clients disagree), so all three are "not found". A 404 is "not found" whatever its body, unless that body is an envelope holding
// requests. Errors are as for Fetch.
func (c *Client) Get(ctx context.Context, externalID string) (*connector.Request, bool, error) {
	id := strings.TrimSpace(externalID)
	if id == "" {
		return nil, false, errors.New("libris: Get needs an external id")
	}
	what := "request " + id
	u := c.base + "/illrequests/" + url.PathEscape(c.sigel) + "/" + url.PathEscape(id)

	var found *connector.Request
	read := func(resp *http.Response, br *bodyReader) (int, error) {
		found = nil
		br.mark()
		body, err := readAllLimited(br, maxGetBody)
		if err != nil {
			if br.err != nil {
				return 0, c.fail(connector.KindUnreachable, br.err, "the connection to Libris broke while reading the answer for %s", what)
			}
			return 0, c.fail(connector.KindGarbage, nil, "Libris answered more than %d MiB for %s", maxGetBody>>20, what)
		}
		var got []*connector.Request
		collect := func(r *connector.Request) error {
			if len(got) < 100 {
				got = append(got, r)
			}
			return nil
		}
		// The answer is in memory, so the reader below cannot fail on the network.
		n, derr := c.readEnvelope(&bodyReader{r: bytes.NewReader(body)}, what, resp.Header.Get("Content-Type"), collect)
		if resp.StatusCode == http.StatusNotFound && n == 0 {
			// A 404's body is not known for certain, and Get only asks for ids seen
			// before at a base URL that just served them, so a 404 without items (empty,
			// text, HTML, odd JSON) is the id being gone, not a broken Libris.
			return 0, nil
		}
		if resp.StatusCode != http.StatusOK && (derr != nil || n > 0) {
			// A 400/404 that is not the "not found" envelope is a real error answer.
			return 0, c.fail(connector.KindGarbage, nil, "Libris answered %s for %s: %q", statusText(resp.StatusCode), what, c.snippet(body, resp.Header.Get("Content-Type")))
		}
		if derr != nil {
			return 0, derr
		}
		for _, r := range got {
			if r.ExternalID == id || r.ExternalRequestID == id {
				found = r
				return 1, nil
			}
		}
		if len(got) > 0 {
			return 0, c.fail(connector.KindGarbage, nil, "Libris answered request %q when asked for %s", got[0].ExternalID, what)
		}
		return 0, nil
	}
	accept := func(code int) bool {
		return code == http.StatusOK || code == http.StatusBadRequest || code == http.StatusNotFound
	}
	if err := c.call(ctx, "request", u, what, accept, read); err != nil {
		return nil, false, err
	}
	return found, found != nil, nil
}

func isOK(code int) bool { return code >= 200 && code < 300 }
