package libris

import (
	"net/http"
	"strings"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/validate"

	"github.com/interloan/interloan/external/connector"
)

// maxSigel bounds a sigel; real ones are a few letters.
const maxSigel = 32

// System is Libris as the suite knows it.
var System = &connector.System{
	Enum:      typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS,
	Name:      "Libris",
	CodeName:  "sigel",
	CodeField: "library_code",
	Block:     "libris",
	Validate: func(v *apierr.Violations, f string, p *profilesv1.IntegrationProfile) {
		c := p.GetLibris()
		validate.BaseURL(v, f+"base_url", c.GetBaseUrl())
		validate.Token(v, f+"library_code", c.GetLibraryCode(), maxSigel)
		if strings.Contains(c.GetLibraryCode(), "/") {
			v.Add(f+"library_code", "must not contain '/': it is a path segment of the Libris API")
		}
	},
	// Sigels are case-sensitive: only surrounding spaces are dropped.
	LibraryCode: strings.TrimSpace,
	// The outgoing list is asked for by day.
	WholeDays: true,
	Connect: func(p *profilesv1.IntegrationProfile, apiKey string, hc *http.Client, lim connector.Limits) (connector.Connector, error) {
		c, err := New(Config{BaseURL: p.GetLibris().GetBaseUrl(), Sigel: p.GetLibris().GetLibraryCode(), APIKey: apiKey, HTTPClient: hc, Limits: lim})
		if err != nil {
			return nil, err // not c: a nil *Client in the interface would not compare to nil
		}
		return c, nil
	},
}
