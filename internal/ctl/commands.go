package ctl

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/interloan/interloan/platform/config"
)

// commands is every operator command with its own flags (the common ones are bound in
// run).
var commands = []command{
	{path: "profiles list", brief: "list integration profiles", run: profilesList,
		flags: func(s *config.Set, o *opts) {
			bindPaging(s, o)
			s.StringVar(&o.system, "system", "", "only this system: libris or netpunkt")
			s.BoolVar(&o.activeOnly, "active-only", false, "only active profiles")
		}},
	{path: "profiles get", args: "CODE", brief: "show a profile", run: profilesGet},
	{path: "profiles create", args: "(-f FILE | --code C --display-name N ...)", brief: "create a profile", run: profilesCreate,
		flags: bindProfileCreate},
	{path: "import run", args: "--profile CODE [--wait]", brief: "start an import run now; --wait shows its progress until it ends",
		run: importRun, flags: func(s *config.Set, o *opts) {
			s.StringVar(&o.profile, "profile", "", "the profile to run (code or integrationProfiles/CODE)")
			s.BoolVar(&o.wait, "wait", false, "follow the run to its end; the exit code says how it ended")
			s.StringVar(&o.requestID, "request-id", "", "idempotency key: repeating the start returns the same run")
		}},
	{path: "runs list", brief: "list runs newest first (the job history)", run: runsList,
		flags: func(s *config.Set, o *opts) {
			bindPaging(s, o)
			s.StringVar(&o.profile, "profile", "", "only runs of this profile")
			s.StringVar(&o.state, "state", "", "only runs in this state, e.g. failed, completed-success")
		}},
	{path: "runs report", args: "RUN", brief: "a run's report: state, window, counters, alerts", run: runsReport},
	{path: "runs events", args: "RUN", brief: "a run's events, one per external request", run: runsEvents,
		flags: func(s *config.Set, o *opts) {
			bindPaging(s, o)
			s.StringVar(&o.outcome, "outcome", "", "only this outcome: created, updated, unchanged, skipped, failed")
			s.StringVar(&o.reasonCode, "reason-code", "", "only this reason, e.g. PARTNER_UNKNOWN")
		}},
	{path: "runs watch", args: "RUN", brief: "follow a run's progress until it ends (exit codes as import run --wait)", run: runsWatch},
	{path: "runs cancel", args: "RUN", brief: "ask a pending or running run to stop", run: runsCancel},
	{path: "requests list", brief: "list borrowing requests, most recently changed first", run: requestsList,
		flags: func(s *config.Set, o *opts) {
			bindPaging(s, o)
			s.StringVar(&o.status, "status", "", "only this status, e.g. created, request-sent")
			s.StringVar(&o.owner, "owner", "", "only this owning library code")
			s.StringVar(&o.partner, "partner", "", "only this partner code")
			s.StringVar(&o.profile, "profile", "", "only requests imported by this profile")
			s.StringVar(&o.externalID, "external-id", "", "only the request with this external id")
			s.BoolVar(&o.openOnly, "open", false, "only open requests")
			s.BoolVar(&o.needsAttention, "needs-attention", false, "only requests flagged for attention")
			s.StringVar(&o.query, "query", "", "words that must occur in the title, author, ids, ISBN or ISSN")
			s.StringVar(&o.orderBy, "order-by", "", "update_time desc (default), update_time, create_time desc or create_time")
		}},
	{path: "requests get", args: "ID", brief: "show a borrowing request", run: requestsGet},
	{path: "requests actions", args: "ID", brief: "the actions a request allows now, with its etag", run: requestsActions},
	{path: "requests act", args: "ID --action A", brief: "perform a lifecycle action (see `requests actions ID`)", run: requestsAct,
		flags: func(s *config.Set, o *opts) {
			s.StringVar(&o.action, "action", "", "the action, e.g. mark-ready-to-send, send, receive-physically, add-note")
			s.StringVar(&o.etag, "etag", "", "fail with ABORTED if the request changed since you read this etag")
			s.StringVar(&o.note, "note", "", "note for the audit trail (required by add-note and declare-lost)")
			s.StringVar(&o.partner, "partner", "", "send: send to this partner code instead of the current one")
		}},
	{path: "mappings list", brief: "list library mappings (external code → local library)", run: mappingsList,
		flags: func(s *config.Set, o *opts) {
			bindPaging(s, o)
			s.StringVar(&o.system, "system", "", "only this system: libris or netpunkt")
			s.StringVar(&o.localLibrary, "local-library", "", "only mappings to this local library code")
		}},
	{path: "partners list", brief: "list resource-sharing partners", run: partnersList,
		flags: func(s *config.Set, o *opts) {
			bindPaging(s, o)
			s.StringVar(&o.system, "system", "", "only this system: libris or netpunkt")
		}},
}

// parseEnum reads an enum value as an operator writes it: `completed-success`,
// `COMPLETED_SUCCESS` or the full `RUN_STATE_COMPLETED_SUCCESS`, any case. The zero
// (unspecified) value is never accepted.
func parseEnum[E interface {
	~int32
	protoreflect.Enum
}](s, flagName string) (E, error) {
	var zero E
	d := zero.Descriptor()
	name := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
	prefix := enumPrefix(d)
	for _, n := range []string{name, prefix + name} {
		if v := d.Values().ByName(protoreflect.Name(n)); v != nil && v.Number() != 0 {
			return E(v.Number()), nil
		}
	}
	var valid []string
	for i := 1; i < d.Values().Len(); i++ {
		valid = append(valid, strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(string(d.Values().Get(i).Name()), prefix)), "_", "-"))
	}
	return zero, usagef("%s %q: want one of %s", flagName, s, strings.Join(valid, ", "))
}
