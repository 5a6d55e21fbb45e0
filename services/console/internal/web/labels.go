package web

import (
	"slices"
	"strings"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
)

// enumKey is the catalog key of an enum value: prefix and the value's name without its
// type's prefix, in lower case (RUN_STATE_RUNNING → runs.state.running). A test checks
// that every value of every enum the pages show has its key.
func enumKey(prefix, name, trim string) string {
	return prefix + strings.ToLower(strings.TrimPrefix(name, trim))
}

func runStateKey(s harvesterv1.RunState) string {
	return enumKey("runs.state.", s.String(), "RUN_STATE_")
}
func triggerKey(t harvesterv1.Trigger) string {
	return enumKey("runs.trigger.", t.String(), "TRIGGER_")
}
func outcomeKey(o harvesterv1.Outcome) string {
	return enumKey("runs.outcome.", o.String(), "OUTCOME_")
}
func stepKey(s harvesterv1.ConnectionStep) string {
	return enumKey("profiles.test.step.", s.String(), "CONNECTION_STEP_")
}
func systemKey(s typev1.ExternalSystem) string {
	return enumKey("runs.system.", s.String(), "EXTERNAL_SYSTEM_")
}
func statusKey(s requestsv1.Status) string { return enumKey("requests.status.", s.String(), "STATUS_") }
func formatKey(f requestsv1.Format) string { return enumKey("requests.format.", f.String(), "FORMAT_") }
func mediaKey(m requestsv1.Media) string   { return enumKey("requests.media.", m.String(), "MEDIA_") }

// actionSlug names an action in URLs and in the audit trail: ACTION_RECEIVE_PHYSICALLY →
// receive_physically, the spelling the ledger writes in RequestEvent.action.
func actionSlug(a requestsv1.Action) string {
	return strings.ToLower(strings.TrimPrefix(a.String(), "ACTION_"))
}

// actionKey is the catalog key of an action's button (and of its audit-trail line).
func actionKey(a requestsv1.Action) string { return "requests.action." + actionSlug(a) }

// actionOfSlug is the action a URL names; false for anything else.
func actionOfSlug(slug string) (requestsv1.Action, bool) {
	v, ok := requestsv1.Action_value["ACTION_"+strings.ToUpper(slug)]
	if !ok || v == 0 || slug != strings.ToLower(slug) {
		return 0, false
	}
	return requestsv1.Action(v), true
}

// running reports whether a run has not reached a final state.
func running(r *harvesterv1.Run) bool {
	s := r.GetState()
	return s == harvesterv1.RunState_RUN_STATE_PENDING || s == harvesterv1.RunState_RUN_STATE_RUNNING
}

// alertKeys and reasonKeys are the machine codes of runs and their events that the
// catalog says in words; a code missing here (a newer service) is shown as it is.
var alertKeys = map[harvesterv1.AlertCode]string{
	harvesterv1.AlertCode_ALERT_CODE_AUTH_FAILED:           "runs.alert.auth_failed",
	harvesterv1.AlertCode_ALERT_CODE_EXTERNAL_UNREACHABLE:  "runs.alert.external_unreachable",
	harvesterv1.AlertCode_ALERT_CODE_MAPPING_MISSING:       "runs.alert.mapping_missing",
	harvesterv1.AlertCode_ALERT_CODE_EXTERNAL_GARBAGE:      "runs.alert.external_garbage",
	harvesterv1.AlertCode_ALERT_CODE_PROFILE_INCOMPLETE:    "runs.alert.profile_incomplete",
	harvesterv1.AlertCode_ALERT_CODE_API_KEY_MISSING:       "runs.alert.api_key_missing",
	harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE:    "runs.alert.ledger_unavailable",
	harvesterv1.AlertCode_ALERT_CODE_LIBRARY_MISSING:       "runs.alert.library_missing",
	harvesterv1.AlertCode_ALERT_CODE_INTERRUPTED:           "runs.alert.interrupted",
	harvesterv1.AlertCode_ALERT_CODE_REQUESTS_NOT_IMPORTED: "runs.alert.requests_not_imported",
	harvesterv1.AlertCode_ALERT_CODE_CANCELLED:             "runs.alert.cancelled",
	harvesterv1.AlertCode_ALERT_CODE_INTERNAL:              "runs.alert.internal",
	harvesterv1.AlertCode_ALERT_CODE_PROFILE_NOT_FOUND:     "runs.alert.profile_not_found",
	harvesterv1.AlertCode_ALERT_CODE_SERVICE_UNAVAILABLE:   "runs.alert.service_unavailable",
	harvesterv1.AlertCode_ALERT_CODE_RUN_LIMIT_EXCEEDED:    "runs.alert.run_limit_exceeded",
	harvesterv1.AlertCode_ALERT_CODE_ITEMS_PARKED:          "runs.alert.items_parked",
}

var reasonKeys = map[string]string{
	"INVALID_EXTERNAL_DATA":   "runs.reason.invalid_external_data",
	"AWAITING_AUTHENTICATION": "runs.reason.awaiting_authentication",
	"PARTNER_UNKNOWN":         "runs.reason.partner_unknown",
	"LIBRARY_UNMAPPED":        "runs.reason.library_unmapped",
	"LEDGER_REJECTED":         "runs.reason.ledger_rejected",
	"EXTERNAL_REQUEST_GONE":   "runs.reason.external_request_gone",
	"EXTERNAL_DATA_WARNING":   "runs.reason.external_data_warning",
	"EXTERNAL_FETCH_FAILED":   "runs.reason.external_fetch_failed",
}

// coded is a machine code as a page shows it: the catalog's sentence when the code is
// known (Key), else the code itself; Detail is the service's own words about this case.
type coded struct {
	Key, Code, Detail string
}

func alertText(a *harvesterv1.Alert) coded {
	return coded{Key: alertKeys[a.GetCode()], Code: strings.TrimPrefix(a.GetCode().String(), "ALERT_CODE_"), Detail: a.GetMessage()}
}

func reasonText(code, detail string) coded {
	return coded{Key: reasonKeys[code], Code: code, Detail: detail}
}

// eventActionKey is the catalog key of an audit-trail action (`import`,
// `external_update` or an action's slug), or "" for one this console does not know.
func eventActionKey(action string) string {
	switch action {
	case "import", "external_update", "flag":
		return "requests.event." + action
	}
	if _, ok := actionOfSlug(action); ok {
		return "requests.action." + action
	}
	return ""
}

// enumValues are the values of an enum (its generated _name map) in order, without the
// unspecified zero.
func enumValues[E ~int32](names map[int32]string) []E {
	out := make([]E, 0, len(names))
	for v := range names {
		if v != 0 {
			out = append(out, E(v))
		}
	}
	slices.Sort(out)
	return out
}
