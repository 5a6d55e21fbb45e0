package netpunkt

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/external/connectortest"
	"github.com/interloan/interloan/fakes/fakenetpunkt"
)

// testPassword is distinctive so that any leak into an error is caught.
const testPassword = "pw-S3CRET&9f1c=77"

var cred = fakenetpunkt.Credential{User: "netpunkt-user", Group: "775100", Password: testPassword}

type harness struct {
	fake   *fakenetpunkt.Server
	c      *Client
	sleeps connectortest.Sleeps
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	h := &harness{fake: fakenetpunkt.New(fakenetpunkt.Options{})}
	h.fake.AddCredential(cred, "775100")
	srv := httptest.NewServer(h.fake)
	t.Cleanup(srv.Close)
	cfg := Config{
		BaseURL: srv.URL + fakenetpunkt.DefaultBasePath, AgencyID: "775100",
		User: cred.User, Group: cred.Group, Password: cred.Password, StepValue: 10,
		Sleep: h.sleeps.Sleep,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	return h
}

var (
	from = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	to   = time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC)
	win  = connector.Window{From: connector.DayOf(from), To: connector.DayOf(to)}
)

func (h *harness) fetch(t *testing.T) ([]*connector.Request, error) {
	t.Helper()
	var got []*connector.Request
	err := h.c.Fetch(context.Background(), win, func(r *connector.Request) error {
		got = append(got, r)
		return nil
	})
	return got, err
}

func noPassword(t *testing.T, err error) {
	t.Helper()
	if err != nil && (strings.Contains(err.Error(), testPassword) || strings.Contains(err.Error(), "S3CRET")) {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func TestNormalizeAgency(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"775100", "DK-775100", true},
		{"DK-775100", "DK-775100", true},
		{" dk-775100 ", "DK-775100", true},
		{"DK775100", "", false},
		{"77510", "", false},
		{"7751000", "", false},
		{"SE-775100", "", false},
		{"77510a", "", false},
		{"", "", false},
	} {
		got, ok := NormalizeAgency(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("NormalizeAgency(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMapStatus(t *testing.T) {
	loan, cp := requestsv1.Media_MEDIA_LOAN, requestsv1.Media_MEDIA_COPY
	for _, tc := range []struct {
		req, prov, ans string
		media          requestsv1.Media
		want           requestsv1.Status
		known          bool
	}{
		{"requested", "requested", "", loan, requestsv1.Status_STATUS_REQUEST_SENT, true},
		{"user_request", "", "", loan, requestsv1.Status_STATUS_CREATED, true},
		{"requested", "in_process", "will_supply", loan, requestsv1.Status_STATUS_WILL_SUPPLY, true},
		{"requested", "requested", "will_supply", loan, requestsv1.Status_STATUS_WILL_SUPPLY, true},
		{"reminded", "on_hold", "hold_placed", loan, requestsv1.Status_STATUS_WILL_SUPPLY, true},
		{"requested", "requested", "conditional", loan, requestsv1.Status_STATUS_REQUEST_SENT, true},
		{"requested", "finished", "unfilled", loan, requestsv1.Status_STATUS_COMPLETED, true},
		{"requested", "search", "unfilled", loan, requestsv1.Status_STATUS_REJECTED_BY_PARTNER, true},
		{"requested", "in_process", "unfilled", loan, requestsv1.Status_STATUS_REJECTED_BY_PARTNER, true},
		{"requested", "shipped", "will_supply", loan, requestsv1.Status_STATUS_SHIPPED_PHYSICALLY, true},
		{"requested", "shipped", "will_supply", cp, requestsv1.Status_STATUS_SHIPPED_DIGITALLY, true},
		{"received", "shipped", "", loan, requestsv1.Status_STATUS_RECEIVED_PHYSICALLY, true},
		{"received", "shipped", "", cp, requestsv1.Status_STATUS_RECEIVED_DIGITALLY, true},
		{"returned", "shipped", "", loan, requestsv1.Status_STATUS_RETURNED_TO_PARTNER, true},
		{"finished", "finished", "", loan, requestsv1.Status_STATUS_COMPLETED, true},
		{"cancelled", "in_process", "will_supply", loan, requestsv1.Status_STATUS_CANCELLED_BY_STAFF, true},
		{"lost", "", "", loan, requestsv1.Status_STATUS_REQUEST_SENT, false},
		{"requested", "teleported", "", loan, requestsv1.Status_STATUS_REQUEST_SENT, false},
		{"requested", "in_process", "maybe", loan, requestsv1.Status_STATUS_WILL_SUPPLY, false},
	} {
		got, known := MapStatus(tc.req, tc.prov, tc.ans, tc.media)
		if got != tc.want || known != tc.known {
			t.Errorf("MapStatus(%q, %q, %q, %v) = %v, %v; want %v, %v", tc.req, tc.prov, tc.ans, tc.media, got, known, tc.want, tc.known)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"relative URL":     {BaseURL: "/openfindorder", AgencyID: "775100"},
		"credentials":      {BaseURL: "https://u:p@example.org/", AgencyID: "775100"},
		"query":            {BaseURL: "https://example.org/?x=1", AgencyID: "775100"},
		"bad agency":       {BaseURL: "https://example.org/", AgencyID: "DK-77"},
		"foreign agency":   {BaseURL: "https://example.org/", AgencyID: "SE-775100"},
		"not a URL at all": {BaseURL: "::", AgencyID: "775100"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

// TestFetchPages: the window's orders arrive once each, over ceil(n/step) calls, mapped
// with our agency and the lender normalised.
func TestFetchPages(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.Put(fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 1, Agency: "775100", Count: 35, From: from, To: to, Lenders: []string{"710100", "dk-715700"}})...)
	h.fake.Put(fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 2, Agency: "DK-999999", Count: 5, From: from, To: to, Prefix: "OTHER"})...)
	got, err := h.fetch(t)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 35 || h.fake.Calls() != 4 {
		t.Fatalf("got %d orders in %d calls, want 35 in 4", len(got), h.fake.Calls())
	}
	seen := map[string]bool{}
	for _, r := range got {
		if r.Problem != "" || seen[r.ExternalID] || r.RequestingLibrary != "DK-775100" || r.LastModified.IsZero() {
			t.Fatalf("bad or repeated order: %+v", r)
		}
		seen[r.ExternalID] = true
		if r.Lender != "DK-710100" && r.Lender != "DK-715700" {
			t.Fatalf("lender %q not normalised", r.Lender)
		}
		if r.OrderDay.Before(win.From) || win.To.Before(r.OrderDay) {
			t.Fatalf("order day %s outside %s", r.OrderDay, win)
		}
	}
}

func TestFetchFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults []fakenetpunkt.Fault
		mod    func(*Config)
		kind   connector.Kind // 0: success
		sleeps int
	}{
		{"transient 503 is retried", []fakenetpunkt.Fault{{Status: 503, Times: 2}}, nil, 0, 2},
		{"persistent 503 is unreachable", []fakenetpunkt.Fault{{Status: 503}}, nil, connector.KindUnreachable, 3},
		{"401", []fakenetpunkt.Fault{{Status: 401}}, nil, connector.KindAuth, 0},
		{"wrong password answers authentication_error", nil, func(c *Config) { c.Password = "wrong" }, connector.KindAuth, 0},
		{"maintenance page", []fakenetpunkt.Fault{{NonXML: true}}, nil, connector.KindGarbage, 0},
		{"400 is garbage", []fakenetpunkt.Fault{{Status: 400}}, nil, connector.KindGarbage, 0},
		{"late orders are still paged", []fakenetpunkt.Fault{{Times: 1, Late: fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 3, Agency: "775100", Count: 3, From: to, To: to, Prefix: "LATE"})}}, nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.mod)
			h.fake.Put(fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 1, Agency: "775100", Count: 12, From: from, To: to})...)
			for _, f := range tc.faults {
				h.fake.Inject(f)
			}
			_, err := h.fetch(t)
			noPassword(t, err)
			if got := connector.KindOf(err); got != tc.kind || (tc.kind == 0 && err != nil) {
				t.Fatalf("err = %v (kind %v), want kind %v", err, got, tc.kind)
			}
			if n := len(h.sleeps.All()); n != tc.sleeps {
				t.Fatalf("slept %d times, want %d", n, tc.sleeps)
			}
		})
	}
}

// TestFetchTruncated: a body cut off mid-page is never a short success.
func TestFetchTruncated(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.StepValue = 50 })
	h.fake.Put(fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 1, Agency: "775100", Count: 40, From: from, To: to})...)
	h.fake.Inject(fakenetpunkt.Fault{Truncate: true})
	got, err := h.fetch(t)
	if k := connector.KindOf(err); k != connector.KindUnreachable && k != connector.KindGarbage {
		t.Fatalf("err = %v after %d orders, want unreachable or garbage", err, len(got))
	}
	noPassword(t, err)
}

// TestPasswordNeverInErrors: a SOAP Fault echoing the request (the password as the
// request body holds it, XML-escaped) is quoted without it.
func TestPasswordNeverInErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte("<Fault><faultstring>bad request: " + string(body) + "</faultstring></Fault>"))
	}))
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, AgencyID: "775100", User: "u", Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Fetch(context.Background(), win, func(*connector.Request) error { return nil })
	if connector.KindOf(err) != connector.KindGarbage {
		t.Fatalf("err = %v", err)
	}
	noPassword(t, err)
	if !strings.Contains(err.Error(), "[password]") {
		t.Fatalf("expected the redaction marker in %v", err)
	}
}

func TestGet(t *testing.T) {
	h := newHarness(t, nil)
	orders := fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 1, Agency: "775100", Count: 3, From: from, To: to})
	h.fake.Put(orders...)
	h.fake.Put(fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 1, Agency: "DK-999999", Count: 1, From: from, To: to, Prefix: "X"})...)
	r, found, err := h.c.Get(context.Background(), orders[1].OrderID)
	if err != nil || !found || r.ExternalID != orders[1].OrderID || r.Problem != "" {
		t.Fatalf("Get = %+v, %v, %v", r, found, err)
	}
	for _, id := range []string{"NP999", "X000000001"} { // unknown; another agency's
		if _, found, err := h.c.Get(context.Background(), id); err != nil || found {
			t.Fatalf("Get(%s) = %v, %v; want not found", id, found, err)
		}
	}
}

func TestVisitErrorStopsFetch(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.Put(fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 1, Agency: "775100", Count: 25, From: from, To: to})...)
	stop := context.Canceled
	n := 0
	err := h.c.Fetch(context.Background(), win, func(*connector.Request) error {
		n++
		if n == 12 {
			return stop
		}
		return nil
	})
	if err != stop || n != 12 {
		t.Fatalf("err = %v after %d visits, want the visit's own error after 12", err, n)
	}
}

// replay serves DBC's answer recorded in testdata/name under status, and keeps the last
// request the connector sent.
type replay struct {
	name   string
	status int
	got    *http.Request
	body   []byte
	calls  int
}

func (rp *replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rp.calls++
	rp.got, rp.body = r, mustRead(r.Body)
	data, err := os.ReadFile(filepath.Join("testdata", rp.name))
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(rp.status)
	w.Write(data)
}

func mustRead(r io.Reader) []byte { b, _ := io.ReadAll(r); return b }

func replayClient(t *testing.T, rp *replay) (*Client, *connectortest.Sleeps) {
	t.Helper()
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	sl := &connectortest.Sleeps{}
	c, err := New(Config{BaseURL: srv.URL, AgencyID: "DK-775100", User: "netpunkt-user", Password: testPassword, StepValue: 10, Sleep: sl.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	return c, sl
}

// TestRequestAsDBCPublishesIt: the connector's request is SOAP 1.1 with the WSDL's
// soapAction, and its elements are those of DBC's request template in the template's
// order (a subsequence of testdata/findAllIllOrders-request.xml), which the fake, built
// from the schema, accepts too.
func TestRequestAsDBCPublishesIt(t *testing.T) {
	rp := &replay{name: "error-no-orders-found.xml", status: 200}
	c, _ := replayClient(t, rp)
	if err := c.Fetch(context.Background(), win, func(*connector.Request) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if ct, sa := rp.got.Header.Get("Content-Type"), rp.got.Header.Get("SOAPAction"); ct != "text/xml; charset=utf-8" || sa != `"findAllIllOrders"` {
		t.Fatalf("Content-Type %q, SOAPAction %q", ct, sa)
	}
	ours, err := fakenetpunkt.ParseRequest(rp.body)
	if err != nil {
		t.Fatalf("the fake refuses the connector's request: %v\n%s", err, rp.body)
	}
	template, err := fakenetpunkt.ParseRequest(mustReadFile(t, "findAllIllOrders-request.xml"))
	if err != nil {
		t.Fatalf("the fake refuses DBC's template: %v", err)
	}
	if ours.Operation != template.Operation {
		t.Fatalf("operation %s, want %s", ours.Operation, template.Operation)
	}
	i := 0
	for _, e := range ours.Elements {
		for i < len(template.Elements) && template.Elements[i].Name != e.Name {
			i++
		}
		if i == len(template.Elements) {
			t.Fatalf("element %s is not in the template's order: %+v", e.Name, ours.Elements)
		}
	}
	want := map[string]string{"groupIdAut": "775100", "userIdAut": "netpunkt-user", "passwordAut": testPassword, "requesterAgencyId": "775100", "agency": "775100",
		"fromDate": "2026-03-01", "toDate": "2026-03-10", "outputType": "xml", "sortKey": "creationDateAscending", "start": "1", "stepValue": "10"}
	for name, v := range want {
		if got := ours.Get(name); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
	if bytes.Contains(rp.body, []byte("DK-")) {
		t.Errorf("an agency id travels as DK-nnnnnn: %s", rp.body)
	}
}

func mustReadFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReplayDBCAnswers: each answer shape DBC publishes, through the connector.
func TestReplayDBCAnswers(t *testing.T) {
	for _, tc := range []struct {
		file   string
		status int
		kind   connector.Kind // 0: success
		orders int
		calls  int
		want   string // in the error
	}{
		{"window-orders.xml", 200, 0, 2, 1, ""},
		{"error-no-orders-found.xml", 200, 0, 0, 1, ""},
		{"error-authentication_error.xml", 200, connector.KindAuth, 0, 1, "authentication_error"},
		{"error-cannot_find_agency.xml", 200, connector.KindAuth, 0, 1, "agency DK-775100"},
		{"error-requester_not_in_agency.xml", 200, connector.KindAuth, 0, 1, "agency DK-775100"},
		{"error-responder_not_in_agency.xml", 200, connector.KindAuth, 0, 1, "agency DK-775100"},
		{"error-service-not-available.xml", 200, connector.KindUnreachable, 0, DefaultMaxAttempts, "open find order service not available"},
		{"error-json.xml", 200, connector.KindGarbage, 0, 1, "Error decoding json string"},
		{"soap-fault.xml", 200, connector.KindGarbage, 0, 1, "Error in request"},
		{"soap-fault.xml", 400, connector.KindGarbage, 0, 1, "Error in request"},
	} {
		t.Run(tc.file+"/"+strconv.Itoa(tc.status), func(t *testing.T) {
			rp := &replay{name: tc.file, status: tc.status}
			c, _ := replayClient(t, rp)
			var got []*connector.Request
			err := c.Fetch(context.Background(), win, func(r *connector.Request) error { got = append(got, r); return nil })
			noPassword(t, err)
			if k := connector.KindOf(err); k != tc.kind || (tc.kind == 0 && err != nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v (kind %v), want kind %v containing %q", err, k, tc.kind, tc.want)
			}
			if len(got) != tc.orders || rp.calls != tc.calls {
				t.Fatalf("%d orders in %d calls, want %d in %d", len(got), rp.calls, tc.orders, tc.calls)
			}
		})
	}
}

// TestDBCFields: times, notes, the sent service type and a branch's order, as DBC
// writes them.
func TestDBCFields(t *testing.T) {
	rp := &replay{name: "window-orders.xml", status: 200}
	c, _ := replayClient(t, rp)
	var got []*connector.Request
	if err := c.Fetch(context.Background(), win, func(r *connector.Request) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	a, b := got[0], got[1]
	// 00:30 Copenhagen summer time, written with a Z, is 22:30 UTC the day before.
	if want := time.Date(2026, 7, 1, 22, 30, 0, 0, time.UTC); !a.LastModified.Equal(want) || a.OrderDay != connector.DayOf(time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("lastModification %v, order day %v; want %v, 2026-07-02", a.LastModified, a.OrderDay, want)
	}
	if a.Note != "Needed for a course" {
		t.Errorf("note %q", a.Note)
	}
	// A loan was asked for, a copy was sent.
	if a.Media != requestsv1.Media_MEDIA_LOAN || a.Format != requestsv1.Format_FORMAT_DIGITAL || a.Status != requestsv1.Status_STATUS_SHIPPED_DIGITALLY {
		t.Errorf("media %v, format %v, status %v", a.Media, a.Format, a.Status)
	}
	if b.Problem != "" || b.RequestingLibrary != "DK-775120" || b.PickupLibrary != "DK-775120" {
		t.Errorf("branch order: problem %q, requesting %q, pickup %q", b.Problem, b.RequestingLibrary, b.PickupLibrary)
	}
	// A pushed receipt keeps the strict rule: only the agency itself.
	if r := mapOrder(&order{OrderID: "1", LastModification: "2026-07-03T09:15:00Z", RequesterID: "775120"}, "DK-775100"); r.Problem == "" {
		t.Error("mapOrder accepted a branch's order")
	}
	if r := mapPulledOrder(&order{OrderID: "1", LastModification: "2026-07-03T09:15:00Z", RequesterID: "SE-ABC"}, "DK-775100"); r.Problem == "" {
		t.Error("a pulled order of a non-Danish requester was accepted")
	}
}

// TestFetchBranchOrders: through the fake, a branch's orders arrive with the library's.
func TestFetchBranchOrders(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.AddBranch("775100", "775120")
	h.fake.Put(fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 1, Agency: "775100", Count: 3, From: from, To: to})...)
	h.fake.Put(fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 2, Agency: "775120", Count: 2, From: from, To: to, Prefix: "BR"})...)
	got, err := h.fetch(t)
	if err != nil || len(got) != 5 {
		t.Fatalf("%d orders, %v", len(got), err)
	}
	for _, r := range got {
		if r.Problem != "" {
			t.Fatalf("problem: %s", r.Problem)
		}
	}
}

// TestEmptyWindowAndUnavailable: the fake's "no orders found" is a success; its
// "service not available" is retried.
func TestEmptyWindowAndUnavailable(t *testing.T) {
	h := newHarness(t, nil)
	if got, err := h.fetch(t); err != nil || len(got) != 0 {
		t.Fatalf("empty window: %d, %v", len(got), err)
	}
	h.fake.SetUnavailable(true)
	_, err := h.fetch(t)
	if connector.KindOf(err) != connector.KindUnreachable || len(h.sleeps.All()) != DefaultMaxAttempts-1 {
		t.Fatalf("err = %v after %d sleeps", err, len(h.sleeps.All()))
	}
}
