package run

import (
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"

	"github.com/interloan/interloan/services/harvester/internal/connector"
)

// InboxDecoder is implemented by the connectors of systems that push messages (Netpunkt's
// OpenReceipt): it turns a message stored in the profile's inbox back into a request.
type InboxDecoder interface {
	DecodeInbox(message []byte) *connector.Request
}

// inboxPage is how many inbox messages are read at a time.
const inboxPage = 500

// drainInbox sends the profile's pushed messages through the same validate → resolve →
// ingest path as fetched requests, then deletes them: once flush returns, each has
// reached the ledger or a recorded run event. Of several messages for one order only the
// newest counts (the older ones describe a state the order has left), and an order the
// fetch already handled this run is not handled twice. Messages pushed while the inbox
// drains stay for the next run.
func (x *execution) drainInbox() error {
	dec, ok := x.conn.(InboxDecoder)
	if !ok {
		return nil
	}
	st := x.r.d.Store
	newest := map[string]uint64{}
	var last uint64
	for after := uint64(0); ; {
		items, err := st.Inbox(x.code, after, inboxPage)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			break
		}
		for _, it := range items {
			newest[it.ExternalID] = it.Seq
		}
		after = items[len(items)-1].Seq
		last = after
	}
	if last == 0 {
		return nil
	}
	if _, err := x.update(func(run *harvesterv1.Run) { run.Progress.Phase = "draining the inbox" }); err != nil {
		return err
	}
	var handled []uint64
	for after := uint64(0); after < last; {
		items, err := st.Inbox(x.code, after, inboxPage)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			break
		}
		for _, it := range items {
			if it.Seq > last {
				break
			}
			after = it.Seq
			handled = append(handled, it.Seq)
			if newest[it.ExternalID] != it.Seq {
				continue
			}
			req := dec.DecodeInbox(it.Message)
			if req.ExternalID == "" {
				req.ExternalID = it.ExternalID // so its event names the order
			}
			if err := x.add(req); err != nil {
				return err
			}
		}
		if items[len(items)-1].Seq > last {
			break
		}
	}
	if err := x.flush(); err != nil {
		return err
	}
	return st.DeleteInbox(x.code, handled)
}
