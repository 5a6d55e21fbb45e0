package netpunkt

import (
	"context"
	"net/http"
	"net/http/httptest"
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

// TestPasswordNeverInErrors: an error page echoing the request (form-encoded password
// included) is quoted without it.
func TestPasswordNeverInErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte("bad request: " + r.PostForm.Encode() + " raw " + r.PostForm.Get("authentication.passwordAut")))
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
