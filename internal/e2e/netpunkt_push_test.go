package e2e

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/interloan/interloan/fakes/fakenetpunkt"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/internal/testenv"
)

// TestNetpunktPushEndToEnd: DBC pushes OrderReceipt SOAP messages to the harvester over
// TLS and reads the receiptStatus of each answer. Refused ones (wrong password, malformed,
// unknown profile, too large) store nothing; accepted ones start a run within seconds that
// imports them through the same path as pulled orders, and each ends in the ledger or in
// a run event that says why not. A receipt sent again (the same orderReceiptUuid) is
// answered ok and changes nothing.
func TestNetpunktPushEndToEnd(t *testing.T) {
	sys := netpunktSystem()
	e := startWith(t, sys)
	today := time.Now()
	sys.grant("dbc-password", sys.ours)
	sys.generate(1, sys.ours, 30, today.AddDate(0, 0, -1), today, sys.lenders)
	e.library("MAIN")
	e.mapOurs(sys.ours, "MAIN")
	for _, l := range sys.lenders {
		e.partner(l)
	}
	profile := e.profile("np", sys.ours, "dbc-password", "MAIN", today.AddDate(0, 0, -1))
	const receiptPassword = "receipt-S3CRET-7f3a9c"
	_, err := e.Profiles.UpdateIntegrationProfile(e.ctx, &profilesv1.UpdateIntegrationProfileRequest{
		IntegrationProfile: &profilesv1.IntegrationProfile{Name: profile, ReceiptPassword: receiptPassword},
		UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"receipt_password"}}})
	e.must(err)
	pulled := e.run(profile)
	if pulled.GetCounters().GetCreated() != 30 {
		t.Fatalf("pull run: %v %s", pulled.GetState(), counters(pulled))
	}

	// Orders Netpunkt tells us about by receipt only: one ours and importable, one lent
	// by a library that is not a partner, one of another agency.
	// The fourth and fifth are sent later, each to show that a run has followed.
	pushed := fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 2, Agency: "DK-" + sys.ours, Count: 5, From: today, To: today,
		Lenders: []string{"710100"}, Prefix: "PUSH"})
	pushed[1].ResponderID = "DK-799999"
	pushed[2].RequesterID = "DK-785100"
	later := pushed[3:]
	pushed = pushed[:3]
	endpoint := e.suite.ReceiptURL + "/netpunkt/receipts/np"
	hc := e.suite.HTTP

	for _, tc := range []struct {
		name, url string
		body      []byte
		want      string
	}{
		{"wrong password", endpoint, fakenetpunkt.ReceiptXML(pushed[0], "guess"), "fatal_internal_error"},
		{"malformed XML", endpoint, fakenetpunkt.ReceiptXML(pushed[0], receiptPassword)[:200], "incomplete_request"},
		{"unknown profile", e.suite.ReceiptURL + "/netpunkt/receipts/nope", fakenetpunkt.ReceiptXML(pushed[0], receiptPassword), "fatal_internal_error"},
		{"too large", endpoint, append([]byte("<receipt><title>"), bytes.Repeat([]byte("x"), 300<<10)...), "incomplete_request"},
	} {
		code, status, err := fakenetpunkt.PushMessage(e.ctx, hc, tc.url, tc.body)
		e.must(err)
		if code != http.StatusOK || status != tc.want {
			t.Fatalf("%s: HTTP %d %s, want 200 %s", tc.name, code, status, tc.want)
		}
	}
	push := func(o fakenetpunkt.Order) {
		t.Helper()
		code, status, err := fakenetpunkt.Push(e.ctx, hc, endpoint, o, receiptPassword)
		e.must(err)
		if code != http.StatusOK || status != "ok" {
			t.Fatalf("push %s: HTTP %d %s", o.OrderID, code, status)
		}
	}
	for _, o := range pushed {
		push(o)
	}
	push(pushed[0]) // sent again at once: stored once

	// The pushes start a run by themselves; every pushed order ends in the ledger or an event.
	runs, events := e.awaitPushed(profile, pulled.GetName(), []string{pushed[0].OrderID, pushed[1].OrderID, pushed[2].OrderID})
	for _, r := range runs {
		if r.GetTrigger() != harvesterv1.Trigger_TRIGGER_API || r.GetSubmittedBy() != "Netpunkt receipt" {
			t.Fatalf("run %s: trigger %v by %q", r.GetName(), r.GetTrigger(), r.GetSubmittedBy())
		}
	}
	if ev := events[pushed[0].OrderID]; ev.GetOutcome() != harvesterv1.Outcome_OUTCOME_CREATED {
		t.Fatalf("pushed order: %v", ev)
	}
	if ev := events[pushed[1].OrderID]; ev.GetOutcome() != harvesterv1.Outcome_OUTCOME_SKIPPED || ev.GetReasonCode() != "PARTNER_UNKNOWN" {
		t.Fatalf("order of an unknown lender: %v", ev)
	}
	if ev := events[pushed[2].OrderID]; ev.GetOutcome() != harvesterv1.Outcome_OUTCOME_FAILED || !strings.Contains(ev.GetReason(), "not this profile's agency") {
		t.Fatalf("order of another agency: %v", ev)
	}
	led := e.ledger(profile)
	if br, ok := led[pushed[0].OrderID]; !ok || br.GetPartner() != "partners/DK-710100" || br.GetOwner() != "MAIN" {
		t.Fatalf("ledger copy of the pushed order: %v", br)
	}
	if len(led) != 31 {
		t.Fatalf("ledger holds %d requests, want 31 (30 pulled, 1 pushed)", len(led))
	}
	if n := eventsFor(e, runs, pushed[0].OrderID); n != 1 {
		t.Fatalf("the receipt sent twice was handled %d times, want once", n)
	}

	// Sent again after a run drained it: answered ok, and nothing changes. The pushed
	// orders are not in the fake's order base, so a run's refresh flags pushed[0] as gone
	// and later runs leave it alone: the first later receipt waits for that run, and an
	// event or a change for pushed[0] after the second could only come from a receipt
	// stored again.
	push(later[0])
	runs, _ = e.awaitPushed(profile, runs[len(runs)-1].GetName(), []string{later[0].OrderID})
	before := e.ledger(profile)[pushed[0].OrderID]
	push(pushed[0])
	push(later[1])
	more, _ := e.awaitPushed(profile, runs[len(runs)-1].GetName(), []string{later[1].OrderID})
	if n := eventsFor(e, more, pushed[0].OrderID); n != 0 {
		t.Fatalf("the receipt sent again after its run was handled %d more times", n)
	}
	led = e.ledger(profile)
	if after := led[pushed[0].OrderID]; after.GetEtag() != before.GetEtag() || len(led) != 33 {
		t.Fatalf("after the receipt sent again: etag %s → %s, %d requests (want 33)", before.GetEtag(), after.GetEtag(), len(led))
	}
}

// awaitPushed waits for the runs of profile after the run named after until they have
// ended with an event for each of ids, and returns the runs and their events by
// external id (the latest run's event wins).
func (e *env) awaitPushed(profile, after string, ids []string) ([]*harvesterv1.Run, map[string]*harvesterv1.RunEvent) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
	defer cancel()
	var events map[string]*harvesterv1.RunEvent
	runs, err := testenv.AwaitRunsAfter(ctx, e.Harvester, profile, after, func(runs []*harvesterv1.Run) (bool, error) {
		events = map[string]*harvesterv1.RunEvent{}
		for _, r := range runs {
			for id, ev := range e.events(r) {
				events[id] = ev
			}
		}
		for _, id := range ids {
			if events[id] == nil {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		e.t.Fatalf("the pushed orders %v were not all handled by a run within a minute: %v", ids, err)
	}
	return runs, events
}

// eventsFor counts the runs among runs with an event for the external id.
func eventsFor(e *env, runs []*harvesterv1.Run, id string) int {
	n := 0
	for _, r := range runs {
		if e.events(r)[id] != nil {
			n++
		}
	}
	return n
}
