package netpunkt

import (
	"context"
	"errors"
	"fmt"

	"github.com/interloan/interloan/external/connector"
)

// Probe asks OpenFindOrder for the first of today's orders of the client's agency: one
// call, which DBC answers authentication_error for credentials it refuses and
// cannot_find_agency or requester_not_in_agency for an agency the group may not read.
// DBC authenticates a user of a group for an agency, so a refusal does not say whether
// the password or the agency is wrong; when the group is another library number than
// the agency, a second call asks for the group's own agency, and its success shows the
// credentials are good and the agency is what to fix.
func (c *Client) Probe(ctx context.Context, today connector.Day) (connector.ProbeResult, error) {
	total, err := c.probe(ctx, today)
	var ce *connector.Error
	if errors.As(err, &ce) && ce.Kind == connector.KindAuth && !ce.Library {
		if own, ok := NormalizeAgency(c.group); ok && own != c.agency {
			alt := *c
			alt.agency = own
			if _, aerr := alt.probe(ctx, today); aerr == nil {
				e := c.fail(connector.KindAuth, nil, "Netpunkt accepts the DBC credentials of group %s for its own agency %s but not for agency %s: check the profile's agency", c.group, own, c.agency)
				e.Library = true
				return connector.ProbeResult{}, e
			}
		}
	}
	if err != nil {
		return connector.ProbeResult{}, err
	}
	return connector.ProbeResult{
		Credential: fmt.Sprintf("Netpunkt accepted the DBC credentials of user %s, group %s", c.user, c.group),
		Library:    fmt.Sprintf("Netpunkt answers for agency %s (%d orders on %s)", c.agency, total, today),
	}, nil
}

// probe asks for the first order of today and returns how many there are.
func (c *Client) probe(ctx context.Context, today connector.Day) (int, error) {
	body := c.envelope("findAllIllOrders", nil,
		[]param{{"fromDate", today.String()}, {"toDate", today.String()}},
		[]param{{"sortKey", "creationDateAscending"}, {"start", "1"}, {"stepValue", "1"}})
	var res result
	err := c.call(ctx, "findAllIllOrders", body, "orders "+today.String(), func(d *decoder) (int, error) {
		var err error
		res, err = d.findOrders(func(*order) error { return nil })
		return 0, err
	})
	return res.total, err
}
