package ctl

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
)

// previewFlags are import preview's window and bound.
type previewFlags struct {
	from, to string
	limit    int
}

// tryCommands try a profile before trusting it: its connection, step by step, and what
// its next import would do, neither of which writes anything.
func tryCommands() []command {
	return []command{
		{path: "profiles test", args: "CODE", brief: "Test a profile's connection step by step: address and outbound policy, TLS, HTTP, credential, library code",
			long: "Test a profile's connection step by step, importing nothing: the base URL's address and the harvester's outbound policy, " +
				"TLS (https only), HTTP, the credential and the library code. Each step shows its result, a code, what was found and how long it took; " +
				"after a failed step the rest are not run, and the command exits 1.",
			run:  profilesTest,
			rpcs: []string{harvesterv1.HarvesterService_TestConnection_FullMethodName}},
		{path: "import preview", brief: "Predict what the next import of a profile would do with each request, writing nothing",
			long: "Predict what the next import of a profile would do with each request of its window (or of --from/--to), " +
				"at most --limit of them: CREATED, UPDATED, UNCHANGED, SKIPPED or FAILED with the reason a run would give. " +
				"Nothing is written: no run, no ledger change, no cursor move.",
			example: "  interloan import preview --profile libris-abc\n  interloan import preview --profile libris-abc --from 2026-03-01 --to 2026-03-07 --limit 200 -o json",
			run:     importPreview,
			rpcs:    []string{harvesterv1.HarvesterService_PreviewImport_FullMethodName},
			flags: func(s *pflag.FlagSet, o *opts) {
				s.StringVar(&o.profile, "profile", "", "the profile's code (required)")
				s.StringVar(&o.preview.from, "from", "", "first day of the window, YYYY-MM-DD in the profile's zone (with --to; default: the next run's window)")
				s.StringVar(&o.preview.to, "to", "", "last day of the window, YYYY-MM-DD (with --from)")
				s.IntVar(&o.preview.limit, "limit", 0, "the most requests to fetch and predict (default 50, at most 1000)")
			}},
	}
}

func profilesTest(e *env, pos []string) error {
	if err := wantArgs(pos, "CODE"); err != nil {
		return err
	}
	resp := &harvesterv1.TestConnectionResponse{}
	req := &harvesterv1.TestConnectionRequest{Name: resourceName("integrationProfiles", pos[0])}
	if err := e.call(harvesterv1.HarvesterService_TestConnection_FullMethodName, req, resp); err != nil {
		return err
	}
	err := e.out.print(resp, func() view {
		t := table{header: []string{"STEP", "RESULT", "CODE", "TIME", "FOUND"}}
		for _, c := range resp.GetChecks() {
			result := "failed"
			switch {
			case c.GetCode() == "NOT_RUN":
				result = "not run"
			case c.GetPassed():
				result = "ok"
			}
			t.rows = append(t.rows, []string{strings.ToLower(strings.TrimPrefix(c.GetStep().String(), "CONNECTION_STEP_")), result, c.GetCode(),
				c.GetDuration().AsDuration().Round(time.Millisecond).String(), c.GetMessage()})
		}
		return t
	})
	if err == nil && !resp.GetPassed() {
		err = fmt.Errorf("the connection test of %s failed", sanitize(req.GetName()))
	}
	return err
}

func importPreview(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	if e.o.profile == "" {
		return usagef("--profile CODE is required")
	}
	req := &harvesterv1.PreviewImportRequest{Profile: resourceName("integrationProfiles", e.o.profile), MaxRequests: int32(e.o.preview.limit)}
	if (e.o.preview.from == "") != (e.o.preview.to == "") {
		return usagef("give --from and --to together, or neither for the next run's window")
	}
	if e.o.preview.from != "" {
		var err error
		if req.StartDate, err = dateFlag("from", e.o.preview.from); err != nil {
			return err
		}
		if req.EndDate, err = dateFlag("to", e.o.preview.to); err != nil {
			return err
		}
	}
	resp := &harvesterv1.PreviewImportResponse{}
	if err := e.call(harvesterv1.HarvesterService_PreviewImport_FullMethodName, req, resp); err != nil {
		return err
	}
	return e.out.print(resp, func() view {
		c := resp.GetCounters()
		summary := detail{
			{"window", when(resp.GetWindow().GetStartTime()) + " .. " + when(resp.GetWindow().GetEndTime())},
			{"predicted", fmt.Sprintf("%d created, %d updated, %d unchanged, %d skipped, %d failed", c.GetCreated(), c.GetUpdated(), c.GetUnchanged(), c.GetSkipped(), c.GetFailed())},
		}
		if resp.GetTruncated() {
			summary = append(summary, field{"truncated", "the window holds more than the " + strconv.Itoa(len(resp.GetItems())) + " requests shown (--limit)"})
		}
		vs := views{summary}
		if len(resp.GetAlerts()) > 0 {
			a := table{header: []string{"ALERT", "MESSAGE"}}
			for _, al := range resp.GetAlerts() {
				a.rows = append(a.rows, []string{enumName(al.GetCode()), al.GetMessage()})
			}
			vs = append(vs, a)
		}
		t := table{header: []string{"EXTERNAL ID", "OUTCOME", "REASON CODE", "LEDGER", "REASON"}}
		for _, it := range resp.GetItems() {
			t.rows = append(t.rows, []string{it.GetExternalId(), enumName(it.GetOutcome()), it.GetReasonCode(), lastSegment(it.GetBorrowingRequest()), it.GetReason()})
		}
		return append(vs, t)
	})
}

// dateFlag reads a YYYY-MM-DD flag as a Date.
func dateFlag(name, s string) (*typev1.Date, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return nil, usagef("--%s %q: want YYYY-MM-DD", name, s)
	}
	return &typev1.Date{Year: int32(d.Year()), Month: int32(d.Month()), Day: int32(d.Day())}, nil
}
