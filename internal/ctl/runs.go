package ctl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
)

func runsList(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	req := &harvesterv1.ListRunsRequest{}
	if e.o.profile != "" {
		req.Profile = resourceName("integrationProfiles", e.o.profile)
	}
	if e.o.state != "" {
		s, err := parseEnum[harvesterv1.RunState](e.o.state, "--state")
		if err != nil {
			return err
		}
		req.State = s
	}
	resp := &harvesterv1.ListRunsResponse{}
	if err := e.list(harvesterv1.HarvesterService_ListRuns_FullMethodName, req, resp); err != nil {
		return err
	}
	return e.out.print(resp, func() view {
		t := table{header: []string{"RUN", "PROFILE", "STATE", "TRIGGER", "SUBMITTED", "FETCHED", "CREATED", "UPDATED", "UNCHANGED", "SKIPPED", "FAILED"}}
		for _, r := range resp.GetRuns() {
			c := r.GetCounters()
			t.rows = append(t.rows, []string{lastSegment(r.GetName()), lastSegment(r.GetProfile()), enumName(r.GetState()),
				enumName(r.GetTrigger()), when(r.GetSubmitTime()), itoa(c.GetFetched()), itoa(c.GetCreated()),
				itoa(c.GetUpdated()), itoa(c.GetUnchanged()), itoa(c.GetSkipped()), itoa(c.GetFailed())})
		}
		return t
	})
}

// runsReport is the run report: the run with its counters and alerts and, in a table,
// the first events that were not imported.
func runsReport(e *env, pos []string) error {
	if err := wantArgs(pos, "RUN"); err != nil {
		return err
	}
	run, err := e.getRun(resourceName("runs", pos[0]))
	if err != nil {
		return err
	}
	if e.out.format != formatTable {
		return e.out.print(run, nil) // the Run message itself, as GetRun answers
	}
	report := views{runReport(run)}
	c := run.GetCounters()
	if c.GetSkipped()+c.GetFailed() > 0 {
		notImported, err := e.notImported(run.GetName())
		if err != nil {
			return err
		}
		report = append(report, notImported)
	}
	return report.render(e.out.w)
}

// reportEvents is how many skipped and how many failed events a report shows.
const reportEvents = 10

// notImported is the first events of a run that were skipped or failed, with why.
func (e *env) notImported(run string) (view, error) {
	t := table{header: []string{"NOT IMPORTED", "OUTCOME", "REASON CODE", "ATTEMPT", "REASON"}}
	for _, outcome := range []harvesterv1.Outcome{harvesterv1.Outcome_OUTCOME_FAILED, harvesterv1.Outcome_OUTCOME_SKIPPED} {
		resp := &harvesterv1.ListRunEventsResponse{}
		err := e.call(harvesterv1.HarvesterService_ListRunEvents_FullMethodName,
			&harvesterv1.ListRunEventsRequest{Parent: run, Outcome: outcome, PageSize: reportEvents}, resp)
		if err != nil {
			return nil, err
		}
		for _, ev := range resp.GetRunEvents() {
			t.rows = append(t.rows, []string{ev.GetExternalId(), enumName(ev.GetOutcome()), ev.GetReasonCode(),
				strconv.Itoa(int(ev.GetAttempt())), ev.GetReason()})
		}
		if resp.GetNextPageToken() != "" {
			t.rows = append(t.rows, []string{"…", enumName(outcome), "", "", "more: interloan runs events " + lastSegment(run) + " --outcome " + strings.ToLower(enumName(outcome))})
		}
	}
	return t, nil
}

func (e *env) getRun(name string) (*harvesterv1.Run, error) {
	run := &harvesterv1.Run{}
	return run, e.call(harvesterv1.HarvesterService_GetRun_FullMethodName, &harvesterv1.GetRunRequest{Name: name}, run)
}

func runReport(r *harvesterv1.Run) view {
	c := r.GetCounters()
	d := detail{
		{"Run", r.GetName()},
		{"Job", r.GetDisplayName()},
		{"Profile", r.GetProfile()},
		{"State", enumName(r.GetState())},
		{"Trigger", enumName(r.GetTrigger()) + " by " + r.GetSubmittedBy()},
		{"Submitted", when(r.GetSubmitTime())},
		{"Started", when(r.GetStartTime())},
		{"Ended", when(r.GetEndTime())},
	}
	if dur := duration(r.GetStartTime(), r.GetEndTime()); dur != "" {
		d = append(d, field{"Duration", dur})
	}
	if w := r.GetWindow(); w != nil {
		d = append(d, field{"Window", when(w.GetStartTime()) + " .. " + when(w.GetEndTime())})
	}
	if p := r.GetProgress(); p != nil && !final(r.GetState()) {
		d = append(d, field{"Progress", fmt.Sprintf("%d%% %s", p.GetPercent(), p.GetPhase())})
	}
	d = append(d, field{"Counters", fmt.Sprintf("fetched %d, created %d, updated %d, unchanged %d, skipped %d, failed %d",
		c.GetFetched(), c.GetCreated(), c.GetUpdated(), c.GetUnchanged(), c.GetSkipped(), c.GetFailed())})
	if len(r.GetAlerts()) == 0 {
		return d
	}
	alerts := table{header: []string{"ALERT", "TIME", "MESSAGE"}}
	for _, a := range r.GetAlerts() {
		alerts.rows = append(alerts.rows, []string{enumName(a.GetCode()), when(a.GetTime()), a.GetMessage()})
	}
	return views{d, alerts}
}

func runsEvents(e *env, pos []string) error {
	if err := wantArgs(pos, "RUN"); err != nil {
		return err
	}
	req := &harvesterv1.ListRunEventsRequest{Parent: resourceName("runs", pos[0]), ReasonCode: e.o.reasonCode}
	if e.o.outcome != "" {
		o, err := parseEnum[harvesterv1.Outcome](e.o.outcome, "--outcome")
		if err != nil {
			return err
		}
		req.Outcome = o
	}
	resp := &harvesterv1.ListRunEventsResponse{}
	if err := e.list(harvesterv1.HarvesterService_ListRunEvents_FullMethodName, req, resp); err != nil {
		return err
	}
	return e.out.print(resp, func() view {
		t := table{header: []string{"EXTERNAL ID", "OUTCOME", "REASON CODE", "REQUEST", "ATTEMPT", "REASON"}}
		for _, ev := range resp.GetRunEvents() {
			t.rows = append(t.rows, []string{ev.GetExternalId(), enumName(ev.GetOutcome()), ev.GetReasonCode(),
				lastSegment(ev.GetBorrowingRequest()), strconv.Itoa(int(ev.GetAttempt())), ev.GetReason()})
		}
		return t
	})
}

func runsCancel(e *env, pos []string) error {
	if err := wantArgs(pos, "RUN"); err != nil {
		return err
	}
	run := &harvesterv1.Run{}
	if err := e.call(harvesterv1.HarvesterService_CancelRun_FullMethodName,
		&harvesterv1.CancelRunRequest{Name: resourceName("runs", pos[0])}, run); err != nil {
		return err
	}
	return e.out.print(run, func() view { return runReport(run) })
}

// runsWatch follows a run until it ends, like import run --wait for a run already
// started (e.g. by the schedule).
func runsWatch(e *env, pos []string) error {
	if err := wantArgs(pos, "RUN"); err != nil {
		return err
	}
	return e.follow(resourceName("runs", pos[0]))
}

// importRun is `import run --profile X [--wait]`.
func importRun(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	if e.o.profile == "" {
		return usagef("--profile CODE is required")
	}
	run := &harvesterv1.Run{}
	err := e.call(harvesterv1.HarvesterService_StartRun_FullMethodName,
		&harvesterv1.StartRunRequest{Profile: resourceName("integrationProfiles", e.o.profile), RequestId: e.o.requestID}, run)
	if err != nil {
		return err
	}
	if !e.o.wait {
		if e.out.format == formatTable {
			fmt.Fprintln(e.out.w, sanitize(run.GetName()))
			return nil
		}
		return e.out.print(run, nil)
	}
	fmt.Fprintf(e.stderr, "started %s (%s)\n", sanitize(run.GetName()), sanitize(run.GetDisplayName()))
	return e.follow(run.GetName())
}

// follow watches a run to its end, drawing progress on stderr, then prints the final run
// and turns its state into the exit code. The stream may end early (the gateway or a
// proxy closing an idle connection, the harvester restarting): follow then reads the
// run and watches again, so only an error answer or a final state ends it.
func (e *env) follow(name string) error {
	bar := &progress{w: e.stderr, tty: e.tty}
	var last *harvesterv1.Run
	for attempt := 0; ; attempt++ {
		err := e.client.stream(e.ctx, harvesterv1.HarvesterService_WatchRun_FullMethodName,
			&harvesterv1.WatchRunRequest{Name: name},
			func() proto.Message { return &harvesterv1.Run{} },
			func(m proto.Message) error {
				r := m.(*harvesterv1.Run)
				if last == nil || !proto.Equal(r, last) {
					attempt = 0 // news: the watch is alive
				}
				last = r
				bar.show(r)
				return nil
			})
		if err != nil {
			bar.done()
			if errors.Is(err, context.Canceled) {
				// Only the watch stops: say so, or the operator may think the run did.
				return fmt.Errorf("%w; %s goes on (interloan runs watch %s to follow it again, runs cancel to stop it)", err, name, lastSegment(name))
			}
			return err
		}
		if last != nil && final(last.GetState()) {
			break
		}
		if attempt >= 3 {
			bar.done()
			return fmt.Errorf("the watch of %s ended %d times without news; its last state: %s", name, attempt+1, stateOf(last))
		}
	}
	bar.done()
	if err := e.out.print(last, func() view { return runReport(last) }); err != nil {
		return err
	}
	return runOutcome(last)
}

// runOutcome maps a final run to the exit status of --wait.
func runOutcome(r *harvesterv1.Run) error {
	switch s := r.GetState(); s {
	case harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS, harvesterv1.RunState_RUN_STATE_COMPLETED_NO_RECORDS:
		return nil
	case harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS, harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_ERRORS:
		return &runExit{code: exitRunNotClean, msg: fmt.Sprintf("%s ended %s: not every request was imported (see: interloan runs events %s)", r.GetName(), enumName(s), lastSegment(r.GetName()))}
	default:
		return &runExit{code: exitRunFailed, msg: fmt.Sprintf("%s ended %s%s", r.GetName(), enumName(s), alertsBrief(r))}
	}
}

func alertsBrief(r *harvesterv1.Run) string {
	var parts []string
	for _, a := range r.GetAlerts() {
		parts = append(parts, enumName(a.GetCode())+": "+a.GetMessage())
	}
	if len(parts) == 0 {
		return ""
	}
	return " — " + strings.Join(parts, "; ")
}

func final(s harvesterv1.RunState) bool {
	return s != harvesterv1.RunState_RUN_STATE_PENDING && s != harvesterv1.RunState_RUN_STATE_RUNNING &&
		s != harvesterv1.RunState_RUN_STATE_UNSPECIFIED
}

func stateOf(r *harvesterv1.Run) string {
	if r == nil {
		return "unknown"
	}
	return enumName(r.GetState())
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
