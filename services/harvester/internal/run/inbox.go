package run

import (
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// InboxDecoder is implemented by the connectors of systems that push messages (Netpunkt's
// OrderReceipt): it turns a message stored in the profile's inbox back into a request.
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
	newest := map[string]uint64{}
	var last uint64
	if err := x.eachInbox(0, func(it store.InboxItem) error {
		newest[it.ExternalID] = it.Seq
		last = it.Seq
		return nil
	}); err != nil {
		return err
	}
	if last == 0 {
		return nil
	}
	if _, err := x.update(func(run *harvesterv1.Run) { run.Progress.Phase = "draining the inbox" }); err != nil {
		return err
	}
	var handled []uint64
	if err := x.eachInbox(last, func(it store.InboxItem) error {
		handled = append(handled, it.Seq)
		if newest[it.ExternalID] != it.Seq {
			return nil
		}
		req := dec.DecodeInbox(it.Message)
		if req.ExternalID == "" {
			req.ExternalID = it.ExternalID // so its event names the order
		}
		return x.add(req)
	}); err != nil {
		return err
	}
	if err := x.flush(); err != nil {
		return err
	}
	return x.r.d.Store.DeleteInbox(x.code, handled)
}

// eachInbox calls fn on the profile's inbox messages oldest first, reading a page at a
// time, up to and including sequence number upTo (0: all of them).
func (x *execution) eachInbox(upTo uint64, fn func(store.InboxItem) error) error {
	for after := uint64(0); upTo == 0 || after < upTo; {
		items, err := x.r.d.Store.Inbox(x.code, after, inboxPage)
		if err != nil || len(items) == 0 {
			return err
		}
		for _, it := range items {
			if upTo != 0 && it.Seq > upTo {
				return nil
			}
			if err := fn(it); err != nil {
				return err
			}
		}
		after = items[len(items)-1].Seq
	}
	return nil
}
