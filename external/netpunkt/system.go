package netpunkt

import (
	"net/http"
	"strings"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/validate"

	"github.com/interloan/interloan/external/connector"
)

// maxDBCName bounds DBC's user and group names.
const maxDBCName = 64

// System is Netpunkt (DBC's OpenFindOrder and OrderReceipt) as the suite knows it.
var System = &connector.System{
	Enum:      typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT,
	Name:      "Netpunkt",
	CodeName:  "agency",
	CodeField: "agency_id",
	Block:     "netpunkt",
	// The profile keeps our agency id as the six digits DBC's services take.
	Normalize: func(p *profilesv1.IntegrationProfile) {
		c := p.GetNetpunkt()
		if c == nil {
			return
		}
		if d, ok := agencyDigits(c.AgencyId); ok {
			c.AgencyId = d
		}
		c.User, c.Group = strings.TrimSpace(c.User), strings.TrimSpace(c.Group)
	},
	Validate: func(v *apierr.Violations, f string, p *profilesv1.IntegrationProfile) {
		c := p.GetNetpunkt()
		validate.BaseURL(v, f+"base_url", c.GetBaseUrl())
		if d, ok := agencyDigits(c.GetAgencyId()); !ok || d != c.GetAgencyId() {
			v.Add(f+"agency_id", "must be a six-digit DBC agency id (or its ISIL form DK-nnnnnn)")
		}
		// DBC's user and group travel as XML text; control characters are refused.
		validate.Text(v, f+"user", c.GetUser(), maxDBCName, false)
		validate.Text(v, f+"group", c.GetGroup(), maxDBCName, false)
	},
	// Mapping keys Danish library numbers by their ISIL and still finds one stored as
	// the bare digits.
	LibraryCode:    normalizeCode,
	OtherSpelling:  otherSpelling,
	PushesReceipts: true,
	Connect: func(p *profilesv1.IntegrationProfile, password string, hc *http.Client, lim connector.Limits) (connector.Connector, error) {
		np := p.GetNetpunkt()
		// The profile's api_key is the DBC password (passwordAut).
		c, err := New(Config{BaseURL: np.GetBaseUrl(), AgencyID: np.GetAgencyId(), User: np.GetUser(), Group: np.GetGroup(), Password: password, HTTPClient: hc, Limits: lim})
		if err != nil {
			return nil, err // not c: a nil *Client in the interface would not compare to nil
		}
		return c, nil
	},
}
