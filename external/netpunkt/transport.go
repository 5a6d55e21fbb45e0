package netpunkt

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/external/httpcall"
)

const userAgent = "interloan-harvester (netpunkt connector)"

// readFunc consumes an accepted answer and reports how many orders it handed to the
// caller, so call knows whether a retry could show the caller anything twice.
type readFunc func(d *decoder) (visited int, err error)

// call POSTs the SOAP request body of operation op until an answer is read, retrying what may be transient: HTTP
// 5xx/429/408, network errors, and a body that broke before any order was visited. A
// bound of Config.Limits ends it with its *connector.LimitError.
func (c *Client) call(ctx context.Context, op string, body []byte, what string, read readFunc) error {
	return c.loop.Run(ctx, op, what, func() (*httpcall.Retry, time.Duration, error) {
		return c.attempt(ctx, op, body, what, read)
	})
}

func (c *Client) attempt(ctx context.Context, op string, body []byte, what string, read readFunc) (*httpcall.Retry, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base, bytes.NewReader(body))
	if err != nil {
		return nil, 0, c.fail(connector.KindUnreachable, err, "cannot build the Netpunkt request for %s", what)
	}
	// SOAP 1.1 as DBC's WSDL binds it: the operation's name is its soapAction.
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"`+op+`"`)
	req.Header.Set("Accept", "text/xml, application/xml")
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
		return nil, 0, c.fail(connector.KindAuth, nil, "Netpunkt refused the DBC credentials for agency %s (%s)", c.agency, statusText(code))
	case code >= 200 && code < 300:
		d := newDecoder(resp.Body)
		n, err := read(d)
		if err == nil {
			return nil, 0, nil
		}
		if le := c.loop.Exceeded(d.br.err, what); le != nil {
			return nil, 0, le // a bound of Config.Limits: not retried
		}
		var de *decodeError
		switch {
		case ctx.Err() != nil:
			return nil, 0, c.ctxErr(ctx, what)
		case errors.As(err, &de) && de.kind == errAuth:
			return nil, 0, c.fail(connector.KindAuth, nil, "Netpunkt refused the DBC credentials for agency %s (%s)", c.agency, de.msg)
		case errors.As(err, &de) && de.kind == errAgency:
			e := c.fail(connector.KindAuth, nil, "Netpunkt does not let the DBC group %s read the orders of agency %s (%s): check the profile's agency and group", c.group, c.agency, de.msg)
			e.Library = true // the credentials passed; the agency is unknown or not theirs
			return nil, 0, e
		case errors.As(err, &de) && de.kind == errUnavailable && n == 0:
			return &httpcall.Retry{Last: de.msg}, 0, nil
		case errors.As(err, &de) && d.netErr != nil:
			if n == 0 {
				return &httpcall.Retry{Last: "answer broke off", Err: d.netErr}, 0, nil
			}
			return nil, 0, c.fail(connector.KindUnreachable, d.netErr, "the connection to Netpunkt broke while reading the answer for %s, after %d orders", what, n)
		case errors.As(err, &de):
			return nil, 0, c.fail(connector.KindGarbage, nil, "Netpunkt answered an unusable document for %s (%s) after %d orders: %s", what, mediaType(resp.Header.Get("Content-Type")), n, de.msg)
		}
		return nil, 0, err // the visit function's own error or a connector error, as is
	default:
		// Netpunkt answers XML, so every error answer is stripped of tags.
		body := httpcall.ReadErrorAnswer(resp.Body, c.loop.Secret)
		snippet := httpcall.Snippet(body, resp.Header.Get("Content-Type"), httpcall.MarkupAlways, c.loop.Secret)
		return nil, 0, c.fail(connector.KindGarbage, nil, "Netpunkt answered %s for %s: %q", statusText(code), what, snippet)
	}
}

func (c *Client) ctxErr(ctx context.Context, what string) error { return c.loop.CtxErr(ctx, what) }

// fail builds a connector error whose text cannot contain the password, plain or
// XML-escaped.
func (c *Client) fail(kind connector.Kind, err error, format string, args ...any) *connector.Error {
	return c.loop.Secret.Fail(kind, err, format, args...)
}

var statusText = httpcall.StatusText

// mediaType is the content type up to its parameters, as sent: unlike Libris's
// (httpcall.MediaType) it does not parse, so an odd header is named rather than quoted.
func mediaType(ctype string) string {
	if ctype == "" {
		return "no content type"
	}
	if i := strings.IndexByte(ctype, ';'); i >= 0 {
		ctype = ctype[:i]
	}
	return strings.TrimSpace(ctype)
}
