package lifecycle

import (
	"fmt"
	"strings"
)

// NotAllowedError is returned for an action the request's status (or a condition beside
// it: the attention flag, the media) does not allow. It carries what a client needs to
// recover: the current status and the actions allowed instead.
type NotAllowedError struct {
	Action  Action
	Status  Status
	Allowed []Action
	// Why names the condition beside the status that rules the action out; empty when
	// the status itself does.
	Why string
}

func (e *NotAllowedError) Error() string {
	allowed := e.AllowedList()
	if allowed == "" {
		allowed = "none"
	}
	if e.Why != "" {
		return fmt.Sprintf("%s is not allowed: %s; allowed: %s", e.Action, e.Why, allowed)
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
