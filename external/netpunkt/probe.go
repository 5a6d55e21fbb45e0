package netpunkt

import (
	"context"
	"fmt"

	"github.com/interloan/interloan/external/connector"
)

// Probe asks OpenFindOrder for the first of today's orders of the client's agency: one
// call, which DBC answers authentication_error for credentials it refuses and
// cannot_find_agency or requester_not_in_agency for an agency the group may not read.
func (c *Client) Probe(ctx context.Context, today connector.Day) (connector.ProbeResult, error) {
	body := c.envelope("findAllIllOrders", nil,
		[]param{{"fromDate", today.String()}, {"toDate", today.String()}},
		[]param{{"sortKey", "creationDateAscending"}, {"start", "1"}, {"stepValue", "1"}})
	var res result
	err := c.call(ctx, "findAllIllOrders", body, "orders "+today.String(), func(d *decoder) (int, error) {
		var err error
		res, err = d.findOrders(func(*order) error { return nil })
		return 0, err
	})
	if err != nil {
		return connector.ProbeResult{}, err
	}
	return connector.ProbeResult{
		Credential: fmt.Sprintf("Netpunkt accepted the DBC credentials of user %s, group %s", c.user, c.group),
		Library:    fmt.Sprintf("Netpunkt answers for agency %s (%d orders on %s)", c.agency, res.total, today),
	}, nil
}
