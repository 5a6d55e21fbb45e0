package web

import (
	"testing"
	"time"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
)

// TestEveryCodeHasWords: each value of the enums the operations pages show has its
// catalog key (the keys are built from the value's name, so the catalog test cannot see
// them), every known alert and reason code's sentence exists, and every action has a call.
func TestEveryCodeHasWords(t *testing.T) {
	msgs, err := loadCatalog("en")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for v := range harvesterv1.RunState_name {
		keys = append(keys, runStateKey(harvesterv1.RunState(v)))
	}
	for v := range harvesterv1.Trigger_name {
		keys = append(keys, triggerKey(harvesterv1.Trigger(v)))
	}
	for v := range harvesterv1.Outcome_name {
		keys = append(keys, outcomeKey(harvesterv1.Outcome(v)))
	}
	for v := range harvesterv1.ConnectionStep_name {
		keys = append(keys, stepKey(harvesterv1.ConnectionStep(v)))
	}
	for v := range typev1.ExternalSystem_name {
		keys = append(keys, systemKey(typev1.ExternalSystem(v)))
	}
	for v := range requestsv1.Status_name {
		keys = append(keys, statusKey(requestsv1.Status(v)))
	}
	for v := range requestsv1.Format_name {
		keys = append(keys, formatKey(requestsv1.Format(v)))
	}
	for v := range requestsv1.Media_name {
		keys = append(keys, mediaKey(requestsv1.Media(v)))
	}
	for _, a := range enumValues[requestsv1.Action](requestsv1.Action_name) {
		keys = append(keys, actionKey(a))
		if actionCalls[a] == nil {
			t.Errorf("%v has no call in actionCalls", a)
		}
		if got, ok := actionOfSlug(actionSlug(a)); !ok || got != a {
			t.Errorf("actionOfSlug(%q) = %v, %v", actionSlug(a), got, ok)
		}
	}
	for _, a := range enumValues[harvesterv1.AlertCode](harvesterv1.AlertCode_name) {
		if alertKeys[a] == "" {
			t.Errorf("alert %v has no sentence in alertKeys", a)
		}
	}
	for _, k := range alertKeys {
		keys = append(keys, k)
	}
	for _, k := range reasonKeys {
		keys = append(keys, k)
	}
	for _, e := range []string{"import", "external_update", "flag", "send", "add_note"} {
		keys = append(keys, eventActionKey(e))
	}
	for _, k := range keys {
		if _, ok := msgs[k]; !ok {
			t.Errorf("message %q is missing from messages/en", k)
		}
	}
}

func TestCodesInWords(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  coded
		key  string
		code string
	}{
		{"known alert", alertText(&harvesterv1.Alert{Code: harvesterv1.AlertCode_ALERT_CODE_AUTH_FAILED, Message: "401"}), "runs.alert.auth_failed", "AUTH_FAILED"},
		{"alert from a newer service", alertText(&harvesterv1.Alert{Code: 99}), "", "99"},
		{"known reason", reasonText("PARTNER_UNKNOWN", "lender Zz"), "runs.reason.partner_unknown", "PARTNER_UNKNOWN"},
		{"unknown reason", reasonText("SOMETHING_NEW", ""), "", "SOMETHING_NEW"},
	} {
		if tc.got.Key != tc.key || tc.got.Code != tc.code {
			t.Errorf("%s: %+v, want key %q code %q", tc.name, tc.got, tc.key, tc.code)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"import", "requests.event.import"}, {"receive_physically", "requests.action.receive_physically"},
		{"RECEIVE_PHYSICALLY", ""}, {"unspecified", ""}, {"something_new", ""},
	} {
		if got := eventActionKey(tc.in); got != tc.want {
			t.Errorf("eventActionKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDurationAndDays(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {-time.Second, "0s"}, {42*time.Second + 400*time.Millisecond, "42s"},
		{3*time.Minute + 5*time.Second, "3m 05s"}, {2*time.Hour + 7*time.Minute + 59*time.Second, "2h 07m"},
	} {
		if got := duration(tc.d); got != tc.want {
			t.Errorf("duration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if ts, err := day("", 0); ts != nil || err != nil {
		t.Errorf("empty day: %v, %v", ts, err)
	}
	if ts, err := day("2026-03-01", 1); err != nil || !ts.AsTime().Equal(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("inclusive end day: %v, %v", ts, err)
	}
	if _, err := day("1/3/2026", 0); err == nil {
		t.Error("a day not in YYYY-MM-DD was accepted")
	}
	if got := localTime("2026-11-30T06:00:00+01:00", "Europe/Stockholm"); got != "2026-11-30 06:00 Europe/Stockholm" {
		t.Errorf("localTime = %q", got)
	}
}
