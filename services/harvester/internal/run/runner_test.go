package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/interloan/interloan/external"
	"github.com/interloan/interloan/external/connector"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/server/servertest"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// The runner is tested against small in-memory stand-ins of the other services served
// over bufconn with the production server stack; the end-to-end test in the root module
// runs it against the real services and the fake Libris.

type fakeProfiles struct {
	profilesv1.UnimplementedProfileServiceServer
	profilesv1.UnimplementedProfileCredentialsServiceServer
	mu      sync.Mutex
	profile *profilesv1.IntegrationProfile
	key     string
	origin  string // the origin the key was entered for; "" is that of the profile's base URL
}

func (f *fakeProfiles) GetIntegrationProfile(_ context.Context, r *profilesv1.GetIntegrationProfileRequest) (*profilesv1.IntegrationProfile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.GetName() != f.profile.GetName() {
		return nil, status.Error(codes.NotFound, "no such profile")
	}
	return f.profile, nil
}

func (f *fakeProfiles) GetProfileCredentials(context.Context, *profilesv1.GetProfileCredentialsRequest) (*profilesv1.ProfileCredentials, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.key == "" {
		return nil, status.Error(codes.FailedPrecondition, "no key")
	}
	origin := f.origin
	if origin == "" {
		origin, _ = external.Origin(external.Settings(f.profile).BaseURL)
	}
	return &profilesv1.ProfileCredentials{ApiKey: f.key, Origin: origin}, nil
}

type fakeMapping struct {
	mappingv1.UnimplementedMappingServiceServer
	mu        sync.Mutex
	libraries map[string]string // external → local
	partners  map[string]bool   // upper-cased codes
	down      bool              // every call fails UNAVAILABLE
	resolves  int               // ResolvePartnerCodes calls
	failAt    int               // ResolvePartnerCodes fails UNAVAILABLE on this call (1-based); 0 never
}

func (f *fakeMapping) GetLibrary(_ context.Context, r *mappingv1.GetLibraryRequest) (*mappingv1.Library, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, status.Error(codes.Unavailable, "mapping is down")
	}
	if r.GetName() != "libraries/MAIN" {
		return nil, status.Error(codes.NotFound, "no such library")
	}
	return &mappingv1.Library{Name: r.GetName(), Code: "MAIN"}, nil
}

func (f *fakeMapping) ResolveLibraryCodes(_ context.Context, r *mappingv1.ResolveLibraryCodesRequest) (*mappingv1.ResolveLibraryCodesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &mappingv1.ResolveLibraryCodesResponse{}
	for _, c := range r.GetExternalCodes() {
		local, ok := f.libraries[c]
		out.Resolutions = append(out.Resolutions, &mappingv1.LibraryCodeResolution{ExternalCode: c, Found: ok, LocalLibraryCode: local})
	}
	return out, nil
}

func (f *fakeMapping) ResolvePartnerCodes(_ context.Context, r *mappingv1.ResolvePartnerCodesRequest) (*mappingv1.ResolvePartnerCodesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.resolves++; f.resolves == f.failAt {
		return nil, status.Error(codes.Unavailable, "mapping is down")
	}
	out := &mappingv1.ResolvePartnerCodesResponse{}
	for _, c := range r.GetCodes() {
		res := &mappingv1.PartnerCodeResolution{Code: c}
		if up := strings.ToUpper(c); f.partners[up] {
			res.Found, res.Partner = true, &mappingv1.Partner{Name: "partners/" + up, Code: up}
		}
		out.Resolutions = append(out.Resolutions, res)
	}
	return out, nil
}

// fakeLedger answers like the ledger: CREATED once per (profile, external id), UPDATED
// for a newer last_modified, UNCHANGED otherwise.
type fakeLedger struct {
	requestsv1.UnimplementedIngestServiceServer
	requestsv1.UnimplementedRequestServiceServer
	hang    bool // accept batches and never answer
	mu      sync.Mutex
	seen    map[string]time.Time
	batches int
	failAt  int               // fail the stream on this batch number (1-based); 0 never
	flags   map[string]string // FlagBorrowingRequest: ledger request → reason code
	flagErr error             // FlagBorrowingRequest fails with it
	// warn: the ledger's own data warnings per external id, answered after the item's
	warn map[string]*typev1.DataWarning
}

func (f *fakeLedger) IngestBorrowingRequests(s grpc.BidiStreamingServer[requestsv1.IngestBorrowingRequestsRequest, requestsv1.IngestBorrowingRequestsResponse]) error {
	for {
		req, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if f.hang {
			<-s.Context().Done()
			return s.Context().Err()
		}
		f.mu.Lock()
		f.batches++
		if f.batches == f.failAt {
			f.mu.Unlock()
			return status.Error(codes.Unavailable, "disk on fire")
		}
		resp := &requestsv1.IngestBorrowingRequestsResponse{BatchId: req.GetBatchId()}
		for _, it := range req.GetItems() {
			id := it.GetExternalReference().GetExternalId()
			lm := it.GetExternalReference().GetLastModifiedTime().AsTime()
			res := &requestsv1.IngestResult{ExternalId: id, BorrowingRequest: "borrowingRequests/" + id, Warnings: it.GetWarnings()}
			if w := f.warn[id]; w != nil {
				res.Warnings = append(slices.Clone(res.Warnings), w)
			}
			prev, ok := f.seen[id]
			switch {
			case !ok:
				res.Outcome = requestsv1.IngestOutcome_INGEST_OUTCOME_CREATED
				f.seen[id] = lm
			case lm.After(prev):
				res.Outcome = requestsv1.IngestOutcome_INGEST_OUTCOME_UPDATED
				f.seen[id] = lm
			default:
				res.Outcome = requestsv1.IngestOutcome_INGEST_OUTCOME_UNCHANGED
			}
			resp.Results = append(resp.Results, res)
		}
		f.mu.Unlock()
		if err := s.Send(resp); err != nil {
			return err
		}
	}
}

// ListBorrowingRequests lists every request the fake ledger holds as open.
func (f *fakeLedger) ListBorrowingRequests(_ context.Context, r *requestsv1.ListBorrowingRequestsRequest) (*requestsv1.ListBorrowingRequestsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &requestsv1.ListBorrowingRequestsResponse{}
	for id := range f.seen {
		if r.GetExternalId() != "" && r.GetExternalId() != id {
			continue
		}
		out.BorrowingRequests = append(out.BorrowingRequests, &requestsv1.BorrowingRequest{Name: "borrowingRequests/" + id,
			ExternalReference: &requestsv1.ExternalReference{Profile: r.GetProfile(), ExternalId: id}})
	}
	return out, nil
}

// fakeConnector serves requests by order day; fetchErr fails Fetch, getErr fails Get.
type fakeConnector struct {
	mu       sync.Mutex
	reqs     []*connector.Request
	windows  []connector.Window
	gets     []string
	fetchErr error
	getErr   map[string]error
}

func (f *fakeConnector) Fetch(_ context.Context, w connector.Window, visit func(*connector.Request) error) error {
	f.mu.Lock()
	f.windows = append(f.windows, w)
	var out []*connector.Request
	for _, r := range f.reqs {
		if !r.OrderDay.Before(w.From) && !w.To.Before(r.OrderDay) {
			c := *r
			out = append(out, &c)
		}
	}
	err := f.fetchErr
	f.mu.Unlock()
	for _, r := range out {
		if err := visit(r); err != nil {
			return err
		}
	}
	return err
}

// Probe answers as a system that accepts everything; the connection test is exercised
// against the fakes of the real systems (internal/e2e).
func (f *fakeConnector) Probe(context.Context, connector.Day) (connector.ProbeResult, error) {
	return connector.ProbeResult{Credential: "accepted", Library: "known"}, nil
}

func (f *fakeConnector) Get(_ context.Context, id string) (*connector.Request, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets = append(f.gets, id)
	if err := f.getErr[id]; err != nil {
		return nil, false, err
	}
	for _, r := range f.reqs {
		if r.ExternalID == id {
			c := *r
			return &c, true, nil
		}
	}
	return nil, false, nil
}

type harness struct {
	runner   *Runner
	store    *store.Store
	profiles *fakeProfiles
	mapping  *fakeMapping
	ledger   *fakeLedger
	conn     *fakeConnector
	now      time.Time
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{
		profiles: &fakeProfiles{key: "secret-key", profile: &profilesv1.IntegrationProfile{
			Name: "integrationProfiles/lib", Code: "lib", DisplayName: "Libris", System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS,
			SystemConfig:           &profilesv1.IntegrationProfile_Libris{Libris: &profilesv1.LibrisConfig{BaseUrl: "http://x", LibraryCode: "Abc"}},
			ResourceSharingLibrary: "MAIN", Active: true,
			HarvestStart: &profilesv1.HarvestStart{Date: &typev1.Date{Year: 2026, Month: 11, Day: 20}},
			Readiness:    &profilesv1.Readiness{Runnable: true},
		}},
		mapping: &fakeMapping{libraries: map[string]string{"Abc": "MAIN"}, partners: map[string]bool{"XYZ": true}},
		ledger:  &fakeLedger{seen: map[string]time.Time{}},
		conn:    &fakeConnector{},
		now:     time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
	}
	cc := servertest.Dial(t, func(s *grpc.Server) {
		profilesv1.RegisterProfileServiceServer(s, h.profiles)
		profilesv1.RegisterProfileCredentialsServiceServer(s, h.profiles)
		mappingv1.RegisterMappingServiceServer(s, h.mapping)
		requestsv1.RegisterIngestServiceServer(s, h.ledger)
		requestsv1.RegisterRequestServiceServer(s, h.ledger)
	})
	st, err := store.Open(filepath.Join(t.TempDir(), "harvester.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	h.store = st
	h.runner = New(ctx, Deps{
		Store: st, Profiles: profilesv1.NewProfileServiceClient(cc), Credentials: profilesv1.NewProfileCredentialsServiceClient(cc),
		Mapping: mappingv1.NewMappingServiceClient(cc), Ingest: requestsv1.NewIngestServiceClient(cc),
		Requests: requestsv1.NewRequestServiceClient(cc),
		Connect: func(p *profilesv1.IntegrationProfile, key string) (connector.Connector, error) {
			if key != "secret-key" {
				return nil, errors.New("wrong key handed to the connector")
			}
			return h.conn, nil
		},
		Now:          func() time.Time { return h.now },
		BatchSize:    3,
		RefreshDelay: -1,
	})
	t.Cleanup(func() { cancel(); h.runner.Wait() })
	return h
}

func req(id string, day int, lender string, lm int64) *connector.Request {
	return &connector.Request{
		ExternalID: id, ExternalRequestID: "1" + id, StatusRaw: "Läst", Status: requestsv1.Status_STATUS_REQUEST_SENT,
		LastModified: time.Unix(lm, 0), OrderDay: connector.Day{Year: 2026, Month: 11, Day: day},
		RequestingLibrary: "Abc", Lender: lender, Rota: []connector.RotaEntry{{Code: lender, Active: true}},
		Bibliographic: &requestsv1.Bibliographic{Title: "Boken"}, PatronApproved: true,
	}
}

// runOnce starts a run and waits for its end.
func (h *harness) runOnce(t *testing.T) *harvesterv1.Run {
	t.Helper()
	r, err := h.runner.Start(context.Background(), "integrationProfiles/lib", harvesterv1.Trigger_TRIGGER_MANUAL, "tester", "")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := ParseRunName(r.GetName())
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		got, err := h.store.GetRun(id)
		if err != nil {
			t.Fatal(err)
		}
		if s := got.GetState(); s != harvesterv1.RunState_RUN_STATE_PENDING && s != harvesterv1.RunState_RUN_STATE_RUNNING {
			h.runner.Wait()
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("run did not end")
	return nil
}

func (h *harness) events(t *testing.T, run *harvesterv1.Run) map[string]*harvesterv1.RunEvent {
	t.Helper()
	id, _ := ParseRunName(run.GetName())
	evs, _, err := h.store.ListRunEvents(id, store.EventFilter{}, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*harvesterv1.RunEvent{}
	for _, e := range evs {
		out[e.GetExternalId()] = e
	}
	return out
}

func TestRunImportsSkipsAndRetries(t *testing.T) {
	h := newHarness(t)
	h.conn.reqs = []*connector.Request{
		req("Abc-261125-0001", 25, "Xyz", 100),
		req("Abc-261125-0002", 25, "xyz", 100), // other case: still the partner
		req("Abc-261126-0001", 26, "Nope", 100),
		req("Abc-261126-0002", 26, "Xyz", 100),
		{ExternalID: "Abc-261127-0001", OrderDay: connector.Day{Year: 2026, Month: 11, Day: 27}, Problem: "last_modified is missing"},
	}
	run := h.runOnce(t)
	if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_ERRORS {
		t.Fatalf("state = %v, alerts %v", run.GetState(), run.GetAlerts())
	}
	c := run.GetCounters()
	if c.GetFetched() != 5 || c.GetCreated() != 3 || c.GetSkipped() != 1 || c.GetFailed() != 1 {
		t.Fatalf("counters = %v", c)
	}
	ev := h.events(t, run)
	if e := ev["Abc-261126-0001"]; e.GetReasonCode() != reasonPartnerUnknown || !strings.Contains(e.GetReason(), `"Nope"`) {
		t.Fatalf("unknown partner event = %v", e)
	}
	if e := ev["Abc-261127-0001"]; e.GetOutcome() != harvesterv1.Outcome_OUTCOME_FAILED || e.GetReasonCode() != reasonInvalid {
		t.Fatalf("invalid event = %v", e)
	}
	if e := ev["Abc-261125-0001"]; e.GetBorrowingRequest() == "" {
		t.Fatalf("created event without ledger link: %v", e)
	}
	// The window harvest start .. today, fetched in chunks of 7 days.
	if got := fmt.Sprint(h.conn.windows); got != "[2026-11-20..2026-11-26 2026-11-27..2026-11-27]" {
		t.Fatalf("first run fetched %s", got)
	}
	if run.GetProgress().GetPercent() != 100 {
		t.Fatalf("progress = %v", run.GetProgress())
	}
	cur, ok, _ := h.store.Cursor("lib", fingerprint(h.profiles.profile))
	if !ok || cur.Format(time.DateOnly) != "2026-11-27" {
		t.Fatalf("cursor = %v %v", cur, ok)
	}

	// The partner appears; days later the window no longer holds the request, but the
	// retry set fetches it by id and imports it.
	h.mapping.partners["NOPE"] = true
	h.now = h.now.AddDate(0, 0, 5)
	fetches := len(h.conn.windows)
	run = h.runOnce(t)
	ev = h.events(t, run)
	if e := ev["Abc-261126-0001"]; e.GetOutcome() != harvesterv1.Outcome_OUTCOME_CREATED {
		t.Fatalf("retried request: %v", e)
	}
	if e := ev["Abc-261126-0001"]; e.GetAttempt() != 2 {
		t.Fatalf("attempt = %d, want 2", e.GetAttempt())
	}
	if w := h.conn.windows[fetches]; w.From.String() != "2026-11-25" {
		t.Fatalf("second window starts %v, want cursor minus overlap", w.From)
	}
}

func TestRunSecondPassUnchangedThenUpdated(t *testing.T) {
	h := newHarness(t)
	h.conn.reqs = []*connector.Request{req("Abc-261126-0001", 26, "Xyz", 100), req("Abc-261126-0002", 26, "Xyz", 100)}
	if r := h.runOnce(t); r.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS || r.GetCounters().GetCreated() != 2 {
		t.Fatalf("first run %v %v", r.GetState(), r.GetCounters())
	}
	if r := h.runOnce(t); r.GetCounters().GetUnchanged() != 2 {
		t.Fatalf("second run %v", r.GetCounters())
	}
	h.conn.reqs[1].LastModified = time.Unix(200, 0)
	if r := h.runOnce(t); r.GetCounters().GetUpdated() != 1 || r.GetCounters().GetUnchanged() != 1 {
		t.Fatalf("third run %v", r.GetCounters())
	}
}

func TestRunFailures(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(h *harness)
		alert  harvesterv1.AlertCode
		cursor bool
	}{
		{"unmapped library", func(h *harness) { delete(h.mapping.libraries, "Abc") }, harvesterv1.AlertCode_ALERT_CODE_MAPPING_MISSING, false},
		{"no key", func(h *harness) { h.profiles.key = "" }, harvesterv1.AlertCode_ALERT_CODE_API_KEY_MISSING, false},
		{"no key, as readiness says", func(h *harness) {
			h.profiles.key = ""
			h.profiles.profile.Readiness = &profilesv1.Readiness{MissingFields: []string{"api_key"}}
		}, harvesterv1.AlertCode_ALERT_CODE_API_KEY_MISSING, false},
		{"key for another origin", func(h *harness) { h.profiles.origin = "https://evil.example:443" }, harvesterv1.AlertCode_ALERT_CODE_API_KEY_MISSING, false},
		{"key withheld for another origin", func(h *harness) { h.profiles.key, h.profiles.origin = "", "https://old.example:443" }, harvesterv1.AlertCode_ALERT_CODE_API_KEY_MISSING, false},
		{"incomplete", func(h *harness) {
			h.profiles.profile.Readiness = &profilesv1.Readiness{MissingFields: []string{"libris.base_url"}}
		}, harvesterv1.AlertCode_ALERT_CODE_PROFILE_INCOMPLETE, false},
		{"auth", func(h *harness) {
			h.conn.fetchErr = &connector.Error{Kind: connector.KindAuth, Message: "Libris refused the API key"}
		}, harvesterv1.AlertCode_ALERT_CODE_AUTH_FAILED, false},
		{"garbage", func(h *harness) {
			h.conn.fetchErr = &connector.Error{Kind: connector.KindGarbage, Message: "not JSON"}
		}, harvesterv1.AlertCode_ALERT_CODE_EXTERNAL_GARBAGE, false},
		{"ledger down mid-run", func(h *harness) { h.ledger.failAt = 2 }, harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE, false},
		{"mapping down", func(h *harness) { h.mapping.down = true }, harvesterv1.AlertCode_ALERT_CODE_SERVICE_UNAVAILABLE, false},
		{"no harvest start", func(h *harness) { h.profiles.profile.HarvestStart = nil }, harvesterv1.AlertCode_ALERT_CODE_PROFILE_INCOMPLETE, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			for i := range 7 {
				h.conn.reqs = append(h.conn.reqs, req("Abc-261126-000"+string(rune('1'+i)), 26, "Xyz", 100))
			}
			tc.setup(h)
			run := h.runOnce(t)
			if run.GetState() != harvesterv1.RunState_RUN_STATE_FAILED {
				t.Fatalf("state = %v", run.GetState())
			}
			if a := run.GetAlerts(); len(a) == 0 || a[len(a)-1].GetCode() != tc.alert || a[len(a)-1].GetMessage() == "" {
				t.Fatalf("alerts = %v, want %v", a, tc.alert)
			}
			if strings.Contains(run.String(), "secret-key") {
				t.Fatal("the API key leaked into the run")
			}
			if _, ok, _ := h.store.Cursor("lib", fingerprint(h.profiles.profile)); ok != tc.cursor {
				t.Fatalf("cursor set = %v", ok)
			}
			if (tc.alert == harvesterv1.AlertCode_ALERT_CODE_MAPPING_MISSING || tc.alert == harvesterv1.AlertCode_ALERT_CODE_API_KEY_MISSING) &&
				(len(h.conn.windows) != 0 || h.ledger.batches != 0) {
				t.Fatal("a run without its library mapping or a usable key reached the external system or the ledger")
			}
		})
	}
}

// TestBatchFailureStopsThePipeline: batches are ingested in the background while the
// fetch goes on, but a batch the ledger fails stops the run there: no later batch is
// sent, and the batches before it stay recorded.
func TestBatchFailureStopsThePipeline(t *testing.T) {
	h := newHarness(t)
	for i := range 30 {
		h.conn.reqs = append(h.conn.reqs, req(fmt.Sprintf("Abc-261126-%04d", i+1), 26, "Xyz", 100))
	}
	h.ledger.failAt = 3
	run := h.runOnce(t)
	if run.GetState() != harvesterv1.RunState_RUN_STATE_FAILED {
		t.Fatalf("state = %v", run.GetState())
	}
	h.ledger.mu.Lock()
	batches := h.ledger.batches
	h.ledger.mu.Unlock()
	if batches != 3 {
		t.Errorf("the ledger saw %d batches, want 3 (none after the failed one)", batches)
	}
	if c := run.GetCounters(); c.GetCreated() != 6 || c.GetFetched() != 6 {
		t.Errorf("counters %v, want the two batches before the failure (6 created)", c)
	}
	if n := len(h.events(t, run)); n != 6 {
		t.Errorf("%d events, want 6", n)
	}
}

// TestResolveFailureStopsThePipeline: a batch that fails before it reaches the ledger
// (mapping down) stops the run there too: the batches before it, sent and maybe still
// being committed, are answered and recorded in order; none after it is sent.
func TestResolveFailureStopsThePipeline(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for i := range 30 {
		id := fmt.Sprintf("Abc-261126-%04d", i+1)
		ids = append(ids, id)
		h.conn.reqs = append(h.conn.reqs, req(id, 26, "Xyz", 100))
	}
	h.mapping.failAt = 4
	run := h.runOnce(t)
	if a := run.GetAlerts(); run.GetState() != harvesterv1.RunState_RUN_STATE_FAILED || len(a) == 0 || a[0].GetCode() != harvesterv1.AlertCode_ALERT_CODE_SERVICE_UNAVAILABLE {
		t.Fatalf("run: %v %v", run.GetState(), a)
	}
	h.ledger.mu.Lock()
	batches := h.ledger.batches
	h.ledger.mu.Unlock()
	if batches != 3 {
		t.Errorf("the ledger saw %d batches, want 3 (none from the failed one on)", batches)
	}
	if c := run.GetCounters(); c.GetCreated() != 9 || c.GetFetched() != 9 {
		t.Errorf("counters %v, want the three batches before the failure (9 created)", c)
	}
	id, _ := ParseRunName(run.GetName())
	evs, _, err := h.store.ListRunEvents(id, store.EventFilter{}, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.GetExternalId())
	}
	if !slices.Equal(got, ids[:9]) {
		t.Errorf("events %v, want the first 9 requests in order", got)
	}
}

func TestRunNoRecordsAndOneAtATime(t *testing.T) {
	h := newHarness(t)
	if r := h.runOnce(t); r.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_NO_RECORDS {
		t.Fatalf("state = %v", r.GetState())
	}
	// Hold the connector so the run stays active, then start again.
	block := make(chan struct{})
	h.conn.reqs = []*connector.Request{req("Abc-261126-0001", 26, "Xyz", 100)}
	h.runner.d.Connect = func(*profilesv1.IntegrationProfile, string) (connector.Connector, error) {
		return blockingConnector{h.conn, block}, nil
	}
	first, err := h.runner.Start(context.Background(), "integrationProfiles/lib", harvesterv1.Trigger_TRIGGER_MANUAL, "a", "req-1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.runner.Start(context.Background(), "integrationProfiles/lib", harvesterv1.Trigger_TRIGGER_MANUAL, "b", "")
	var busy *InProgressError
	if !errors.As(err, &busy) || busy.Run != first.GetName() || busy.Profile != "integrationProfiles/lib" {
		t.Fatalf("second start: %v, want the run in progress %s", err, first.GetName())
	}
	again, err := h.runner.Start(context.Background(), "integrationProfiles/lib", harvesterv1.Trigger_TRIGGER_MANUAL, "a", "req-1")
	if err != nil || again.GetName() != first.GetName() {
		t.Fatalf("retried start = %v, %v; want %s", again.GetName(), err, first.GetName())
	}
	_, err = h.runner.Start(context.Background(), "integrationProfiles/missing", harvesterv1.Trigger_TRIGGER_MANUAL, "a", "")
	var lookup *ProfileError
	if !errors.As(err, &lookup) || lookup.Profile != "integrationProfiles/missing" || status.Code(lookup.Err) != codes.NotFound {
		t.Fatalf("start of a missing profile: %v, want the profiles service's NotFound", err)
	}
	close(block)
	h.runner.Wait()
}

type blockingConnector struct {
	*fakeConnector
	block chan struct{}
}

func (b blockingConnector) Fetch(ctx context.Context, w connector.Window, visit func(*connector.Request) error) error {
	<-b.block
	return b.fakeConnector.Fetch(ctx, w, visit)
}

func TestRunRequireAuthenticationSkipsUntilApproved(t *testing.T) {
	h := newHarness(t)
	h.profiles.profile.RequireAuthentication = true
	pending := req("Abc-261126-0001", 26, "Xyz", 100)
	pending.PatronInitiated, pending.PatronApproved = true, false
	h.conn.reqs = []*connector.Request{pending, req("Abc-261126-0002", 26, "Xyz", 100)}
	run := h.runOnce(t)
	if run.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_WITH_WARNINGS || run.GetCounters().GetSkipped() != 1 || run.GetCounters().GetCreated() != 1 {
		t.Fatalf("run %v %v", run.GetState(), run.GetCounters())
	}
	if e := h.events(t, run)["Abc-261126-0001"]; e.GetReasonCode() != reasonNotApproved {
		t.Fatalf("event = %v", e)
	}
	// Approved later, after the request left the window: the retry set brings it in.
	h.conn.reqs[0].PatronApproved = true
	h.now = h.now.AddDate(0, 0, 10)
	run = h.runOnce(t)
	if e := h.events(t, run)["Abc-261126-0001"]; e.GetOutcome() != harvesterv1.Outcome_OUTCOME_CREATED {
		t.Fatalf("after approval: %v", e)
	}
	if retry, _ := h.store.Retry("lib"); len(retry) != 0 {
		t.Fatalf("retry set not emptied: %v", retry)
	}
}

func TestRecoverMarksLeftoverRunsAborted(t *testing.T) {
	h := newHarness(t)
	r, _, err := h.store.CreateRun("lib", "", func(id uint64) *harvesterv1.Run {
		x := newRun(id, h.profiles.profile, harvesterv1.Trigger_TRIGGER_MANUAL, "a", h.now)
		x.State = harvesterv1.RunState_RUN_STATE_RUNNING
		return x
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.runner.Recover(); err != nil {
		t.Fatal(err)
	}
	id, _ := ParseRunName(r.GetName())
	got, _ := h.store.GetRun(id)
	if got.GetState() != harvesterv1.RunState_RUN_STATE_ABORTED || len(got.GetAlerts()) != 1 || got.GetAlerts()[0].GetCode() != harvesterv1.AlertCode_ALERT_CODE_INTERRUPTED {
		t.Fatalf("recovered run: %v", got)
	}
}

type stallingConnector struct{ *fakeConnector }

func (stallingConnector) Fetch(ctx context.Context, _ connector.Window, _ func(*connector.Request) error) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestShutdownAbortsTheRunAndKeepsTheCursor(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	d := h.runner.d
	d.Connect = func(*profilesv1.IntegrationProfile, string) (connector.Connector, error) {
		return stallingConnector{h.conn}, nil
	}
	runner := New(ctx, d)
	r, err := runner.Start(context.Background(), "integrationProfiles/lib", harvesterv1.Trigger_TRIGGER_MANUAL, "a", "")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	runner.Wait()
	id, _ := ParseRunName(r.GetName())
	got, _ := h.store.GetRun(id)
	if got.GetState() != harvesterv1.RunState_RUN_STATE_ABORTED || got.GetAlerts()[0].GetCode() != harvesterv1.AlertCode_ALERT_CODE_INTERRUPTED {
		t.Fatalf("run after shutdown: %v", got)
	}
	if _, ok, _ := h.store.Cursor("lib", fingerprint(h.profiles.profile)); ok {
		t.Fatal("an aborted run moved the cursor")
	}
}

func TestCancelRunAbortsAndKeepsTheCursor(t *testing.T) {
	h := newHarness(t)
	h.conn.reqs = []*connector.Request{req("Abc-261126-0001", 26, "Xyz", 100)}
	block := make(chan struct{})
	h.runner.d.Connect = func(*profilesv1.IntegrationProfile, string) (connector.Connector, error) {
		return blockingConnector{h.conn, block}, nil
	}
	r, err := h.runner.Start(context.Background(), "integrationProfiles/lib", harvesterv1.Trigger_TRIGGER_MANUAL, "a", "")
	if err != nil {
		t.Fatal(err)
	}
	// Watch the run from the start; it must end with the cancelled state.
	var states []harvesterv1.RunState
	watched := make(chan error, 1)
	go func() {
		watched <- h.runner.Watch(context.Background(), r.GetName(), func(run *harvesterv1.Run) error {
			states = append(states, run.GetState())
			return nil
		})
	}()
	go func() { time.Sleep(50 * time.Millisecond); close(block) }() // let the run reach the connector
	got, err := h.runner.Cancel(context.Background(), r.GetName(), "staff")
	if err != nil {
		t.Fatal(err)
	}
	if got.GetState() != harvesterv1.RunState_RUN_STATE_ABORTED || got.GetAlerts()[len(got.GetAlerts())-1].GetCode() != harvesterv1.AlertCode_ALERT_CODE_CANCELLED {
		t.Fatalf("cancelled run: %v", got)
	}
	if err := <-watched; err != nil || states[len(states)-1] != harvesterv1.RunState_RUN_STATE_ABORTED {
		t.Fatalf("watch: %v %v", states, err)
	}
	if _, ok, _ := h.store.Cursor("lib", fingerprint(h.profiles.profile)); ok {
		t.Fatal("a cancelled run moved the cursor")
	}
	_, err = h.runner.Cancel(context.Background(), r.GetName(), "staff")
	var ended *NotActiveError
	if !errors.As(err, &ended) || ended.Run != r.GetName() || ended.State != harvesterv1.RunState_RUN_STATE_ABORTED {
		t.Fatalf("second cancel: %v, want the run not active (ABORTED)", err)
	}
	_, err = h.runner.Cancel(context.Background(), "runs/99", "staff")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cancel of an unknown run: %v", err)
	}
}

func TestWatchFollowsARunToItsEnd(t *testing.T) {
	h := newHarness(t)
	for i := range 9 {
		h.conn.reqs = append(h.conn.reqs, req(fmt.Sprintf("Abc-2611%02d-0001", 20+i%8), 20+i%8, "Xyz", 100))
	}
	r, err := h.runner.Start(context.Background(), "integrationProfiles/lib", harvesterv1.Trigger_TRIGGER_MANUAL, "a", "")
	if err != nil {
		t.Fatal(err)
	}
	var last *harvesterv1.Run
	if err := h.runner.Watch(context.Background(), r.GetName(), func(run *harvesterv1.Run) error { last = run; return nil }); err != nil {
		t.Fatal(err)
	}
	if last.GetState() != harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS || last.GetCounters().GetCreated() != 8 {
		t.Fatalf("last watched state: %v", last)
	}
	// Watching an ended run again, or an unknown one, leaves nothing registered.
	if err := h.runner.Watch(context.Background(), r.GetName(), func(*harvesterv1.Run) error { return nil }); err != nil {
		t.Fatal(err)
	}
	err = h.runner.Watch(context.Background(), "runs/99", func(*harvesterv1.Run) error { return nil })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("watch of an unknown run: %v", err)
	}
	h.runner.mu.Lock()
	left := len(h.runner.change)
	h.runner.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d watch channels left after every watch ended", left)
	}
}

func TestRetryFailuresDoNotBlockTheCursorAndRotate(t *testing.T) {
	h := newHarness(t)
	h.runner.d.MaxRetryFetches = 1
	// Three requests skipped for an unknown lender.
	h.conn.reqs = []*connector.Request{req("Abc-261126-0001", 26, "Nope", 100), req("Abc-261126-0002", 26, "Nope", 100), req("Abc-261126-0003", 26, "Nope", 100)}
	h.runOnce(t)
	// They leave the window (the second run still re-reads them through the overlap);
	// one of them cannot be fetched any more.
	h.now = h.now.AddDate(0, 0, 10)
	h.runOnce(t)
	h.conn.getErr = map[string]error{"Abc-261126-0001": &connector.Error{Kind: connector.KindGarbage, Message: "Libris answered 400"}}
	for range 3 {
		h.now = h.now.Add(time.Minute)
		run := h.runOnce(t)
		if run.GetState() == harvesterv1.RunState_RUN_STATE_FAILED {
			t.Fatalf("a failing retry entry failed the run: %v", run.GetAlerts())
		}
	}
	// One fetch per run, least recently tried first: every entry was tried once.
	if got := fmt.Sprint(h.conn.gets); got != "[Abc-261126-0001 Abc-261126-0002 Abc-261126-0003]" {
		t.Fatalf("retry fetches = %s", got)
	}
	if cur, ok, _ := h.store.Cursor("lib", fingerprint(h.profiles.profile)); !ok || cur.Format(time.DateOnly) != "2026-12-07" {
		t.Fatalf("cursor = %v %v; the window was acknowledged every time", cur, ok)
	}
	retry, _ := h.store.Retry("lib")
	if len(retry) != 3 || retry[0].Attempts != 3 {
		t.Fatalf("retry set = %+v", retry)
	}
}

func TestRefreshRereadsOpenRequestsOutsideTheWindow(t *testing.T) {
	h := newHarness(t)
	old := req("Abc-261120-0001", 20, "Xyz", 100)
	h.conn.reqs = []*connector.Request{old}
	h.runOnce(t)
	// Libris changes the old request; it is long out of the window now.
	h.now = h.now.AddDate(0, 0, 20)
	h.conn.reqs[0].LastModified = time.Unix(500, 0)
	h.conn.reqs[0].StatusRaw = "Levererad"
	run := h.runOnce(t)
	if e := h.events(t, run)["Abc-261120-0001"]; e.GetOutcome() != harvesterv1.Outcome_OUTCOME_UPDATED {
		t.Fatalf("refreshed request: %v (counters %v)", e, run.GetCounters())
	}
	h.runner.d.RefreshLimit = -1
	if run := h.runOnce(t); run.GetCounters().GetFetched() != 0 {
		t.Fatalf("refresh disabled still fetched: %v", run.GetCounters())
	}
}

func TestHungLedgerFailsTheRun(t *testing.T) {
	h := newHarness(t)
	h.ledger.hang = true
	h.runner.d.BatchTimeout = 100 * time.Millisecond
	h.conn.reqs = []*connector.Request{req("Abc-261126-0001", 26, "Xyz", 100)}
	run := h.runOnce(t)
	if a := run.GetAlerts(); run.GetState() != harvesterv1.RunState_RUN_STATE_FAILED || a[0].GetCode() != harvesterv1.AlertCode_ALERT_CODE_LEDGER_UNAVAILABLE {
		t.Fatalf("run: %v %v", run.GetState(), a)
	}
	if _, err := h.runner.Start(context.Background(), "integrationProfiles/lib", harvesterv1.Trigger_TRIGGER_MANUAL, "a", ""); err != nil {
		t.Fatalf("the profile stayed blocked: %v", err)
	}
}

func TestRequestIDIsBoundToItsProfileAndMissingLibraryFails(t *testing.T) {
	h := newHarness(t)
	h.profiles.profile.ResourceSharingLibrary = "GONE"
	run := h.runOnce(t)
	if a := run.GetAlerts(); run.GetState() != harvesterv1.RunState_RUN_STATE_FAILED || a[0].GetCode() != harvesterv1.AlertCode_ALERT_CODE_LIBRARY_MISSING {
		t.Fatalf("run: %v %v", run.GetState(), a)
	}
	if _, err := h.runner.Start(context.Background(), "integrationProfiles/lib", harvesterv1.Trigger_TRIGGER_MANUAL, "a", "r1"); err != nil {
		t.Fatal(err)
	}
	h.runner.Wait()
	h.profiles.profile.Name = "integrationProfiles/other"
	_, err := h.runner.Start(context.Background(), "integrationProfiles/other", harvesterv1.Trigger_TRIGGER_MANUAL, "a", "r1")
	var reused *RequestReusedError
	if !errors.As(err, &reused) || reused.Profile != "integrationProfiles/lib" {
		t.Fatalf("request ID reused for another profile: %v", err)
	}
}
