package lifecycle

import (
	"fmt"
	"strings"
)

// NotAllowedError is returned for an action the request's status (or, for resolving
// attention, its flag) does not allow. It carries what a client needs to recover: the
// current status and the actions allowed instead.
type NotAllowedError struct {
	Action         Action
	Status         Status
	Allowed        []Action
	NeedsAttention bool
}

func (e *NotAllowedError) Error() string {
	if e.Action == ResolveAttention && !e.NeedsAttention {
		return "the request does not need attention; there is nothing to resolve"
	}
	allowed := e.AllowedList()
	if allowed == "" {
		allowed = "none"
	}
	return fmt.Sprintf("%s is not allowed in status %s; allowed: %s", e.Action, e.Status, allowed)
}

// AllowedList is the allowed actions' enum names, comma-separated.
func (e *NotAllowedError) AllowedList() string {
	names := make([]string, len(e.Allowed))
	for i, a := range e.Allowed {
		names[i] = a.String()
	}
	return strings.Join(names, ",")
}
