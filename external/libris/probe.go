package libris

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/interloan/interloan/external/connector"
)

// Probe reads the outgoing list of the client's sigel for today: one call, whose 401
// says the key is unknown, 403 that it is another sigel's, and an answer that Libris
// knows the sigel and lets the key read it.
func (c *Client) Probe(ctx context.Context, today connector.Day) (connector.ProbeResult, error) {
	what := "outgoing " + today.String()
	u := c.base + "/illrequests/" + url.PathEscape(c.sigel) + "/outgoing?start_date=" + today.String() + "&end_date=" + today.String()
	n := 0
	read := func(resp *http.Response, br *bodyReader) (int, error) {
		return c.readEnvelope(br, what, resp.Header.Get("Content-Type"), func(*connector.Request) error { n++; return nil })
	}
	if err := c.call(ctx, "probe", u, what, isOK, read); err != nil {
		return connector.ProbeResult{}, err
	}
	return connector.ProbeResult{
		Credential: "Libris accepted the API key",
		Library:    fmt.Sprintf("Libris lists the outgoing requests of sigel %s for %s (%d requests)", c.sigel, today, n),
	}, nil
}
