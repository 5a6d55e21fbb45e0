package lifecycle

import "fmt"

// Verdict is what an external status does to a request's local status.
type Verdict int

const (
	// Keep: the local status stays; the external one is behind it or says the same (the
	// external system does not know about local steps, e.g. Libris keeps saying
	// "Levererad" after the item was received here).
	Keep Verdict = iota
	// Apply: the external status moves the request forward (or ends it before anything
	// was shipped).
	Apply
	// Conflict: the external status contradicts a local step; the local status stays and
	// the request is flagged for attention with a reason, so the news is not lost.
	Conflict
)

func (v Verdict) String() string {
	switch v {
	case Keep:
		return "keep"
	case Apply:
		return "apply"
	case Conflict:
		return "conflict"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// rank places each status of the main path by progress: an external status moves a
// request only forward along it. Shipped and received have one rank for both kinds.
var rank = map[Status]int{
	created: 0, readyToSend: 1, sent: 2, willSupply: 3,
	shippedPhys: 4, shippedDig: 4, receivedPhys: 5, receivedDig: 5,
	loaned: 6, returnedByP: 7, returnedToP: 8, completed: 9,
}

// negative are the statuses that close a request without supply: every closed status
// but completed.
func negative(s Status) bool { return Final(s) && s != completed }

// partnerSide are the statuses only the partner (through the external system) knows
// best: the external system may correct one into another of the same rank (a shipment
// reported as physical, then as digital).
func partnerSide(s Status) bool {
	switch s {
	case sent, willSupply, shippedPhys, shippedDig:
		return true
	}
	return false
}

// Reconcile decides what an external status does to a request whose local status is
// local, and, for a conflict, a hint for staff on what it means. It is the one
// reconciliation table; its rules, in order:
//
//  1. the same status: keep;
//  2. local closed without supply (rejected, cancelled, expired): another closing
//     status is kept (both say the request is over); any status of the main path is a
//     conflict, since the external system has the request alive or shipped;
//  3. local completed: a closing status without supply is a conflict; the main path is
//     behind or equal: keep;
//  4. local open, external closing without supply: applied while nothing was shipped
//     (up to will supply), a conflict once shipped or received here;
//  5. local open, external further along the main path: apply; behind: keep; the same
//     rank: apply between partner-side statuses (a corrected shipment), else conflict.
func Reconcile(local, external Status) (Verdict, string) {
	_, knownLocal := rank[local]
	_, knownExternal := rank[external]
	if external == local || (!knownExternal && !negative(external)) || (!knownLocal && !negative(local)) {
		return Keep, ""
	}
	switch {
	case negative(local):
		if negative(external) {
			return Keep, ""
		}
		if rank[external] >= rank[shippedPhys] {
			return Conflict, "the partner reports progress on a request closed here; an item may be on its way: reactivate it to follow it, or settle it with the partner"
		}
		return Conflict, "the request is still active in the external system but closed here: close it there too, or reactivate it here"
	case local == completed:
		if negative(external) {
			return Conflict, "the external system closed a request completed here; check with the partner"
		}
		return Keep, ""
	case negative(external):
		if rank[local] <= rank[willSupply] {
			return Apply, ""
		}
		return Conflict, "the external system closed a request that was shipped or received here; settle it with the partner"
	case rank[external] > rank[local]:
		return Apply, ""
	case rank[external] < rank[local]:
		return Keep, ""
	case partnerSide(local) && partnerSide(external):
		return Apply, ""
	}
	return Conflict, "the external system reports a different outcome of the same step; check which is right"
}
