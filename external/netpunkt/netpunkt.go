// Package netpunkt is the harvester's connector for Netpunkt, DBC's Danish ILL system: it
// pulls the orders where our library (or one of its branches) is the requester from DBC's
// OpenFindOrder service over SOAP 1.1, by a window of days and paged with start/stepValue,
// and it decodes the OrderReceipt messages DBC pushes (receipt.go). docs/connectors/netpunkt.md lists every
// assumption made about DBC's formats; they all live in this package.
//
// Answers are decoded token by token, one order at a time, so the size of an answer never
// decides how much memory the harvester uses. The DBC password travels only in the POST
// body (never in a URL, which traces and proxies record); it is never logged (this package
// logs nothing) and is scrubbed from every error.
package netpunkt

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/external/httpcall"
)

// Namespace is OpenFindOrder's XML namespace; SOAPNamespace is SOAP 1.1's envelope.
const (
	Namespace     = "http://oss.dbc.dk/ns/openfindorder"
	SOAPNamespace = "http://schemas.xmlsoap.org/soap/envelope/"
)

// Defaults for the zero values of Config.
const (
	DefaultStepValue   = 50
	DefaultMaxAttempts = httpcall.DefaultMaxAttempts
	DefaultBaseBackoff = httpcall.DefaultBaseBackoff
	DefaultMaxBackoff  = httpcall.DefaultMaxBackoff
	// MaxPages bounds one window's paging, so a service that keeps announcing more orders
	// than it sends cannot keep a run going for ever.
	MaxPages = 10000
)

// Config binds a Client to one profile's Netpunkt agency and DBC credentials.
type Config struct {
	// BaseURL is the OpenFindOrder endpoint, e.g. https://openfindorder.addi.dk/2.8/
	// (absolute http or https, no credentials, query or fragment).
	BaseURL string
	// AgencyID is our library: `DK-nnnnnn` or the bare six digits (kept as DK-nnnnnn,
	// sent to DBC as the digits).
	AgencyID string
	// User, Group and Password are DBC's three-part authentication (userIdAut,
	// groupIdAut, passwordAut). Password never appears in errors.
	User, Group, Password string
	// HTTPClient defaults to a client with dial, TLS and response-header timeouts; a given
	// client is copied so that redirects to another origin are refused.
	HTTPClient *http.Client
	// StepValue is the page size (default 50).
	StepValue int
	// MaxAttempts is how many times one page is tried on 5xx/429/network errors (default 4).
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the exponential backoff with full jitter.
	BaseBackoff, MaxBackoff time.Duration
	// Sleep waits between attempts; tests inject it. Default: a timer that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Limits bound each call (its whole exchange, and how slowly its answer may trickle
	// in) and the bytes read over the client's life (httpcall.Bounded); zero fields take
	// connector's defaults. Reaching one ends Fetch or Get with a *connector.LimitError,
	// never retried.
	Limits connector.Limits
}

// Client is a connector.Connector for one Netpunkt agency. It is safe for concurrent use.
type Client struct {
	base        string
	agency      string // normalised, DK-nnnnnn
	user, group string
	password    string
	hc          *http.Client
	loop        httpcall.Loop // retries, backoff, and errors without the password
	step        int
}

var _ connector.Connector = (*Client)(nil)

// New validates cfg and returns a client. Errors name the offending setting, never the
// password.
func New(cfg Config) (*Client, error) {
	u, err := httpcall.BaseURL("netpunkt", cfg.BaseURL, "the DBC user and password")
	if err != nil {
		return nil, err
	}
	agency, ok := NormalizeAgency(cfg.AgencyID)
	if !ok {
		return nil, fmt.Errorf("netpunkt: agency id %q is neither DK-nnnnnn nor six digits", cfg.AgencyID)
	}
	c := &Client{
		base:     u.String(),
		agency:   agency,
		user:     cfg.User,
		group:    cfg.Group,
		password: cfg.Password,
		loop: httpcall.Loop{
			Peer: "Netpunkt", Package: "netpunkt",
			Retrying: httpcall.Retrying{MaxAttempts: cfg.MaxAttempts, BaseBackoff: cfg.BaseBackoff, MaxBackoff: cfg.MaxBackoff, Sleep: cfg.Sleep}.WithDefaults(),
			// The password travels XML-escaped; an echo of the request would show that form.
			Secret:     httpcall.NewSecret(cfg.Password, "[password]", xmlEscaped),
			Credential: "the password",
		},
		step: cfg.StepValue,
		// A 307/308 would resend the body, and with it the password, wherever it points:
		// only the very same origin is followed, whatever the given client's policy.
		hc: httpcall.Bounded(httpcall.Client(cfg.HTTPClient, "Netpunkt", httpcall.Redirects{}), cfg.Limits),
	}
	if c.group == "" {
		// DBC's group is the agency number in examples (docs/connectors/netpunkt.md, "The request we send").
		c.group = strings.TrimPrefix(agency, "DK-")
	}
	if c.step <= 0 {
		c.step = DefaultStepValue
	}
	return c, nil
}

// Agency returns the client's normalised agency id.
func (c *Client) Agency() string { return c.agency }

// Fetch streams the orders created in w where we are the requester, page by page
// (findAllIllOrders, start/stepValue; "no orders found" ends the window), calling visit for each as soon as it is decoded.
// A page that fails before any of its orders reached visit is retried with backoff; a
// failure after that is returned. The window counts as fetched only when Fetch returns nil:
// a page shorter than announced is an error, never a short success.
func (c *Client) Fetch(ctx context.Context, w connector.Window, visit func(*connector.Request) error) error {
	if !w.Valid() {
		return fmt.Errorf("netpunkt: invalid window %s", w)
	}
	if visit == nil {
		return errors.New("netpunkt: Fetch needs a visit function")
	}
	start := 1
	for page := 0; ; page++ {
		if page >= MaxPages {
			return c.fail(connector.KindGarbage, nil, "Netpunkt kept announcing more orders for %s after %d pages", w, MaxPages)
		}
		body := c.envelope("findAllIllOrders", nil,
			[]param{{"fromDate", w.From.String()}, {"toDate", w.To.String()}},
			[]param{{"sortKey", "creationDateAscending"}, {"start", strconv.Itoa(start)}, {"stepValue", strconv.Itoa(c.step)}})
		what := fmt.Sprintf("orders %s from %d", w, start)
		var res result
		err := c.call(ctx, "findAllIllOrders", body, what, func(d *decoder) (int, error) {
			var err error
			res, err = d.findOrders(func(o *order) error { return visit(mapPulledOrder(o, c.agency)) })
			return res.orders, err
		})
		if err != nil {
			return err
		}
		if res.orders < c.step && start-1+res.orders < res.total {
			return c.fail(connector.KindGarbage, nil, "Netpunkt announced %d orders for %s but page %d held only %d (truncated or inconsistent answer)", res.total, w, page+1, res.orders)
		}
		start += res.orders
		if res.orders == 0 || start > res.total {
			return nil
		}
	}
}

// Get fetches one order by orderId (findSpecificOrder); found is false when Netpunkt
// does not know it, or knows it only for another requester.
func (c *Client) Get(ctx context.Context, externalID string) (*connector.Request, bool, error) {
	id := strings.TrimSpace(externalID)
	if id == "" {
		return nil, false, errors.New("netpunkt: Get needs an external id")
	}
	body := c.envelope("findSpecificOrder", []param{{"orderId", id}}, nil, nil)
	var found *connector.Request
	what := "order " + id
	err := c.call(ctx, "findSpecificOrder", body, what, func(d *decoder) (int, error) {
		found = nil
		res, err := d.findOrders(func(o *order) error {
			r := mapPulledOrder(o, c.agency)
			if found == nil && r.ExternalID == id {
				found = r
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		if found == nil && res.orders > 0 {
			return 0, c.fail(connector.KindGarbage, nil, "Netpunkt answered another order when asked for %s", what)
		}
		return 0, nil
	})
	if err != nil {
		return nil, false, err
	}
	return found, found != nil, nil
}

// param is one element of a request, in the order written.
type param struct{ name, value string }

// envelope writes the SOAP 1.1 request of operation op as DBC's openfindorder.xsd orders
// its elements: authentication (groupIdAut, passwordAut, userIdAut), requesterAgencyId,
// the operation's own elements (own), then the common group: agency, the window
// elements (fromDate, toDate), outputType, the paging elements (sortKey, start,
// stepValue), each list in the XSD's order. Agency ids travel as bare digits, as DBC's
// data holds them.
func (c *Client) envelope(op string, own, window, paging []param) []byte {
	digits := strings.TrimPrefix(c.agency, "DK-")
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<soapenv:Envelope xmlns:soapenv="` + SOAPNamespace + `" xmlns:ofo="` + Namespace + `"><soapenv:Body>`)
	b.WriteString("<ofo:" + op + "Request>")
	b.WriteString("<ofo:authentication>")
	element(&b, "groupIdAut", c.group)
	element(&b, "passwordAut", c.password)
	element(&b, "userIdAut", c.user)
	b.WriteString("</ofo:authentication>")
	element(&b, "requesterAgencyId", digits)
	elements(&b, own)
	element(&b, "agency", digits)
	elements(&b, window)
	element(&b, "outputType", "xml")
	elements(&b, paging)
	b.WriteString("</ofo:" + op + "Request></soapenv:Body></soapenv:Envelope>")
	return b.Bytes()
}

// elements writes each of ps with element, in order.
func elements(b *bytes.Buffer, ps []param) {
	for _, p := range ps {
		element(b, p.name, p.value)
	}
}

// element writes <ofo:name>value</ofo:name>, value escaped.
func element(b *bytes.Buffer, name, value string) {
	b.WriteString("<ofo:" + name + ">")
	_ = xml.EscapeText(b, []byte(value)) // a buffer does not fail
	b.WriteString("</ofo:" + name + ">")
}

// xmlEscaped is s as it appears in the request body.
func xmlEscaped(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
