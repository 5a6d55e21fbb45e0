package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/interloan/interloan/external/netpunkt"
	"github.com/interloan/interloan/fakes/fakenetpunkt"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/logging/logtest"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

const receiptPassword = "rcpt-S3CRET-2c41"

// fakeProfiles serves GetIntegrationProfile and GetProfileCredentials from a map.
type fakeProfiles struct {
	profilesv1.ProfileServiceClient
	profilesv1.ProfileCredentialsServiceClient
	profiles map[string]*profilesv1.IntegrationProfile
	creds    map[string]*profilesv1.ProfileCredentials
	down     bool
	calls    atomic.Int64 // GetIntegrationProfile calls: the receipts that were authenticated
}

func (f *fakeProfiles) GetIntegrationProfile(_ context.Context, req *profilesv1.GetIntegrationProfileRequest, _ ...grpc.CallOption) (*profilesv1.IntegrationProfile, error) {
	f.calls.Add(1)
	if f.down {
		return nil, status.Error(codes.Unavailable, "down")
	}
	if strings.HasSuffix(req.Name, "..") {
		return nil, status.Error(codes.InvalidArgument, "name") // as the profiles service answers
	}
	if p, ok := f.profiles[req.Name]; ok {
		return p, nil
	}
	return nil, status.Error(codes.NotFound, req.Name)
}

func (f *fakeProfiles) GetProfileCredentials(_ context.Context, req *profilesv1.GetProfileCredentialsRequest, _ ...grpc.CallOption) (*profilesv1.ProfileCredentials, error) {
	if c, ok := f.creds[req.Name]; ok {
		return c, nil
	}
	return nil, status.Error(codes.FailedPrecondition, "no credential")
}

func TestReceipts(t *testing.T) {
	order := fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 1, Agency: "DK-775100", Count: 1, From: time.Now(), To: time.Now()})[0]
	good := fakenetpunkt.ReceiptXML(order, receiptPassword)
	np := &profilesv1.IntegrationProfile{System: typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT}
	fp := &fakeProfiles{
		profiles: map[string]*profilesv1.IntegrationProfile{
			"integrationProfiles/NP":     np,
			"integrationProfiles/NOPW":   np,
			"integrationProfiles/LIBRIS": {System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS},
		},
		creds: map[string]*profilesv1.ProfileCredentials{
			"integrationProfiles/NP":     {ApiKey: "dbc", ReceiptPassword: receiptPassword},
			"integrationProfiles/LIBRIS": {ApiKey: "key", ReceiptPassword: receiptPassword},
		},
	}
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		down               bool
		code               int
		status             string // receiptStatus
		stored             bool
		answer             string
	}{
		{"accepted", "POST", "/netpunkt/receipts/NP", good, false, 200, netpunkt.ReceiptOK, true, "<receiptResult><receiptStatus>ok</receiptStatus></receiptResult>"},
		{"wrong password", "POST", "/netpunkt/receipts/NP", fakenetpunkt.ReceiptXML(order, "guess"), false, 200, netpunkt.ReceiptFatalError, false, receiptRefused},
		{"no password", "POST", "/netpunkt/receipts/NP", fakenetpunkt.ReceiptXML(order, ""), false, 200, netpunkt.ReceiptFatalError, false, receiptRefused},
		{"malformed XML", "POST", "/netpunkt/receipts/NP", good[:len(good)-20], false, 200, netpunkt.ReceiptIncompleteRequest, false, "malformed OrderReceipt"},
		{"no orderReceiptUuid", "POST", "/netpunkt/receipts/NP", withoutUUID(t, good), false, 200, netpunkt.ReceiptIncompleteRequest, false, "orderReceiptUuid is missing"},
		{"unknown profile", "POST", "/netpunkt/receipts/NOPE", good, false, 200, netpunkt.ReceiptFatalError, false, receiptRefused},
		{"Libris profile", "POST", "/netpunkt/receipts/LIBRIS", good, false, 200, netpunkt.ReceiptFatalError, false, receiptRefused},
		{"no receipt password", "POST", "/netpunkt/receipts/NOPW", good, false, 200, netpunkt.ReceiptFatalError, false, receiptRefused},
		{"oversized", "POST", "/netpunkt/receipts/NP", bytes.Repeat([]byte("x"), netpunkt.MaxReceiptBytes+1), false, 200, netpunkt.ReceiptIncompleteRequest, false, "larger than"},
		{"GET", "GET", "/netpunkt/receipts/NP", nil, false, 405, netpunkt.ReceiptIncompleteRequest, false, "post OrderReceipt messages"},
		{"a name profiles refuses", "POST", "/netpunkt/receipts/a..", good, false, 200, netpunkt.ReceiptFatalError, false, receiptRefused},
		{"bad code", "POST", "/netpunkt/receipts/a%2Fb", good, false, 404, netpunkt.ReceiptIncompleteRequest, false, "no such receipt endpoint"},
		{"profiles down", "POST", "/netpunkt/receipts/NP", good, true, 200, netpunkt.ReceiptTemporaryError, false, "retry later"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := store.Open(filepath.Join(t.TempDir(), "h.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			fp.down = tc.down
			var kicked []string
			var logs logtest.Buffer
			h := &Receipts{Profiles: fp, Credentials: fp, Store: st, Kick: func(n string) { kicked = append(kicked, n) }, Log: slog.New(slog.NewTextHandler(&logs, nil))}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, bytes.NewReader(tc.body)))
			if w.Code != tc.code || receiptStatus(t, w.Body.Bytes()) != tc.status || !strings.Contains(w.Body.String(), tc.answer) {
				t.Fatalf("answer %d %s; want %d %s containing %q", w.Code, w.Body.String(), tc.code, tc.status, tc.answer)
			}
			items, err := st.Inbox("NP", 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if (len(items) == 1) != tc.stored || (len(kicked) == 1) != tc.stored {
				t.Fatalf("stored %d, kicked %v; want stored=%v", len(items), kicked, tc.stored)
			}
			if tc.stored {
				r := netpunkt.DecodeOrder(items[0].Message, "775100")
				if items[0].ExternalID != order.OrderID || items[0].Key != fakenetpunkt.ReceiptUUID(order) || r.ExternalID != order.OrderID || r.Problem != "" || kicked[0] != "integrationProfiles/NP" {
					t.Fatalf("stored %+v → %+v, kicked %v", items[0], r, kicked)
				}
				if bytes.Contains(items[0].Message, []byte(receiptPassword)) {
					t.Fatal("the inbox holds the password")
				}
			}
			for _, s := range []string{w.Body.String(), logs.String()} {
				if strings.Contains(s, receiptPassword) || strings.Contains(s, "guess") {
					t.Fatalf("a password was echoed or logged: %s", s)
				}
			}
		})
	}
}

func TestKickerRetriesWhileARunIsInProgress(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	inProgress := 2
	started := make(chan struct{})
	k := &Kicker{Delay: -1, Poll: time.Millisecond, Start: func(_ context.Context, name string) error {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, name)
		switch {
		case name == "integrationProfiles/BAD":
			return errors.New("profile incomplete")
		case inProgress > 0:
			inProgress--
			return apierr.FailedPrecondition(reasonRunInProgress, nil, "busy")
		}
		close(started)
		return nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); k.Run(ctx) }()
	k.Kick("integrationProfiles/BAD")
	k.Kick("integrationProfiles/NP")
	<-started
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	np, bad := 0, 0
	for _, c := range calls {
		switch c {
		case "integrationProfiles/NP":
			np++
		case "integrationProfiles/BAD":
			bad++
		}
	}
	if np != 3 || bad != 1 {
		t.Fatalf("calls = %v; want NP three times (two busy, one started) and BAD once", calls)
	}
}

// TestKickerCoalescesABurst: receipts arriving together start one run.
func TestKickerCoalescesABurst(t *testing.T) {
	var mu sync.Mutex
	starts := 0
	k := &Kicker{Delay: 50 * time.Millisecond, Poll: time.Millisecond, Start: func(context.Context, string) error {
		mu.Lock()
		defer mu.Unlock()
		starts++
		return nil
	}}
	for i := 0; i < 5; i++ {
		k.Kick("integrationProfiles/NP")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); k.Run(ctx) }()
	for {
		mu.Lock()
		n := starts
		mu.Unlock()
		k.mu.Lock()
		left := len(k.pending)
		k.mu.Unlock()
		if n > 0 && left == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if starts != 1 {
		t.Fatalf("%d runs started for one burst", starts)
	}
}

// testClock is a clock a test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// receiptProfiles is a profiles service with two Netpunkt profiles (NP, NP2), one
// without a receipt password (NOPW) and a Libris profile (LIBRIS).
func receiptProfiles() *fakeProfiles {
	np := &profilesv1.IntegrationProfile{System: typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT}
	return &fakeProfiles{
		profiles: map[string]*profilesv1.IntegrationProfile{
			"integrationProfiles/NP":     np,
			"integrationProfiles/NP2":    np,
			"integrationProfiles/NOPW":   np,
			"integrationProfiles/LIBRIS": {System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS},
		},
		creds: map[string]*profilesv1.ProfileCredentials{
			"integrationProfiles/NP":     {ApiKey: "dbc", ReceiptPassword: receiptPassword},
			"integrationProfiles/NP2":    {ApiKey: "dbc", ReceiptPassword: receiptPassword},
			"integrationProfiles/LIBRIS": {ApiKey: "key", ReceiptPassword: receiptPassword},
		},
	}
}

// receiptListener serves h on a real loopback listener and returns its URL.
func receiptListener(t *testing.T, h *Receipts) string {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.Store = st
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// clientFrom is an HTTP client whose connections come from the loopback address ip, so
// that one test can play several sources.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// postReceipt posts body to the receipt endpoint of profile code and returns the
// answer's receiptStatus, headers and body; every answer must be HTTP 200.
func postReceipt(t *testing.T, hc *http.Client, url, code string, body []byte) (string, http.Header, string) {
	t.Helper()
	resp, err := hc.Post(url+ReceiptPath+code, "text/xml", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d %s; every receipt is answered 200 with a receiptStatus", resp.StatusCode, b)
	}
	return receiptStatus(t, b), resp.Header, string(b)
}

// receiptStatus reads the receiptStatus of a SOAP receiptResponse by the contract's
// names and namespace.
func receiptStatus(t *testing.T, answer []byte) string {
	t.Helper()
	var env struct {
		XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
		Body    struct {
			Response struct {
				Status string `xml:"http://oss.dbc.dk/ns/orderReceipt receiptResult>receiptStatus"`
			} `xml:"http://oss.dbc.dk/ns/orderReceipt receiptResponse"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
	}
	if err := xml.Unmarshal(answer, &env); err != nil || env.Body.Response.Status == "" {
		t.Fatalf("not a SOAP receiptResponse (%v): %s", err, answer)
	}
	return env.Body.Response.Status
}

// withoutUUID is msg without its orderReceiptUuid element.
func withoutUUID(t *testing.T, msg []byte) []byte {
	t.Helper()
	out := regexp.MustCompile(`<or:orderReceiptUuid>[^<]*</or:orderReceiptUuid>`).ReplaceAll(msg, nil)
	if bytes.Equal(out, msg) {
		t.Fatalf("no orderReceiptUuid in %s", msg)
	}
	return out
}

func testOrder() fakenetpunkt.Order {
	return fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 1, Agency: "DK-775100", Count: 1, From: time.Now(), To: time.Now()})[0]
}

// TestReceiptRefusalsAreAlike: whether the profile is unknown, of another system, has
// no receipt password or was sent the wrong password, the caller gets the same answer,
// so the endpoint tells nobody which profiles exist.
func TestReceiptRefusalsAreAlike(t *testing.T) {
	order := testOrder()
	type answer struct {
		code        string
		contentType string
		body        string
	}
	var first *answer
	for _, tc := range []struct {
		name, profile, password string
	}{
		{"wrong password", "NP", "guess"},
		{"unknown profile", "NOPE", receiptPassword},
		{"profile of another system", "LIBRIS", receiptPassword},
		{"profile without a receipt password", "NOPW", receiptPassword},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := receiptListener(t, &Receipts{Profiles: receiptProfiles(), Credentials: receiptProfiles()})
			code, hdr, body := postReceipt(t, clientFrom(t, "127.0.0.1"), url, tc.profile, fakenetpunkt.ReceiptXML(order, tc.password))
			got := answer{code, hdr.Get("Content-Type"), body}
			if first == nil {
				first = &got
			}
			if got.code != netpunkt.ReceiptFatalError || got != *first {
				t.Fatalf("answered %+v; want fatal_internal_error and the same answer as the first case %+v", got, *first)
			}
		})
	}
}

// TestReceiptGuessingBacksOff: a source guessing one profile's password is answered
// temporary_error_please_resend after a few failures, for a window that doubles with each further failure up to a
// cap; during it even the right password is refused without asking profiles. Another
// profile from another source is unaffected, and once the window has passed the right
// password is accepted.
func TestReceiptGuessingBacksOff(t *testing.T) {
	order := testOrder()
	fp := receiptProfiles()
	clock := newTestClock()
	url := receiptListener(t, &Receipts{Profiles: fp, Credentials: fp, Now: clock.Now, Kick: func(string) {}})
	attacker, other := clientFrom(t, "127.0.0.1"), clientFrom(t, "127.0.0.2")
	guess, right := fakenetpunkt.ReceiptXML(order, "guess"), fakenetpunkt.ReceiptXML(order, receiptPassword)

	failures := 0
	for ; failures < 50; failures++ {
		code, _, body := postReceipt(t, attacker, url, "NP", guess)
		if code == netpunkt.ReceiptTemporaryError {
			break
		}
		if code != netpunkt.ReceiptFatalError {
			t.Fatalf("guess %d: %s %s", failures+1, code, body)
		}
	}
	if failures != 5 {
		t.Fatalf("%d wrong guesses were answered fatal_internal_error before the first temporary error; want 5", failures)
	}
	asked := fp.calls.Load()
	tmp, ok, fatal := netpunkt.ReceiptTemporaryError, netpunkt.ReceiptOK, netpunkt.ReceiptFatalError
	steps := []struct {
		name     string
		hc       *http.Client
		advance  time.Duration
		profile  string
		body     []byte
		code     string
		retryFor string // Retry-After of a lockout
	}{
		{"the right password during the lockout", attacker, 0, "NP", right, tmp, "1"},
		{"the same profile from another source", other, 0, "NP", right, tmp, "1"},
		{"another profile from another source", other, 0, "NP2", right, ok, ""},
		{"another profile from the locked source", attacker, 0, "NP2", right, tmp, "1"},
		{"a guess after the window", attacker, time.Second, "NP", guess, fatal, ""},
		{"the window doubled", attacker, 0, "NP", right, tmp, "2"},
		{"still locked", attacker, time.Second, "NP", right, tmp, "1"},
		{"the right password after the window", attacker, time.Second, "NP", right, ok, ""},
		{"a success starts the count afresh", attacker, 0, "NP", guess, fatal, ""},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		before := fp.calls.Load()
		code, hdr, body := postReceipt(t, s.hc, url, s.profile, s.body)
		if code != s.code || hdr.Get("Retry-After") != s.retryFor {
			t.Fatalf("%s: %s Retry-After %q %s; want %s Retry-After %q", s.name, code, hdr.Get("Retry-After"), body, s.code, s.retryFor)
		}
		if code == netpunkt.ReceiptTemporaryError && fp.calls.Load() != before {
			t.Fatalf("%s: refused for the lockout after asking profiles", s.name)
		}
	}
	if asked == 0 {
		t.Fatal("no guess was authenticated")
	}

	// Guessing on, each window twice the last, up to 15 minutes.
	for range 4 {
		postReceipt(t, attacker, url, "NP", guess)
	}
	var windows []string
	for range 16 {
		code, hdr, _ := postReceipt(t, attacker, url, "NP", right)
		if code != netpunkt.ReceiptTemporaryError {
			t.Fatalf("the right password between guesses: %s, want %s", code, netpunkt.ReceiptTemporaryError)
		}
		windows = append(windows, hdr.Get("Retry-After"))
		secs, _ := strconv.Atoi(hdr.Get("Retry-After"))
		clock.Advance(time.Duration(secs) * time.Second)
		if code, _, _ := postReceipt(t, attacker, url, "NP", guess); code != netpunkt.ReceiptFatalError {
			t.Fatalf("a guess after a window of %ds: %s, want %s", secs, code, netpunkt.ReceiptFatalError)
		}
	}
	want := "1 2 4 8 16 32 64 128 256 512 900 900 900 900 900 900"
	if got := strings.Join(windows, " "); got != want {
		t.Fatalf("lockout windows %s; want %s", got, want)
	}
}

// TestReceiptConcurrentGuesses: guesses sent all at once get no more tries than guesses
// sent one after another.
func TestReceiptConcurrentGuesses(t *testing.T) {
	order := testOrder()
	fp := receiptProfiles()
	url := receiptListener(t, &Receipts{Profiles: fp, Credentials: fp, Now: newTestClock().Now})
	hc := clientFrom(t, "127.0.0.1")
	guess := fakenetpunkt.ReceiptXML(order, "guess")
	const n = 40
	codes := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			code, _, _ := postReceipt(t, hc, url, "NP", guess)
			codes <- code
		})
	}
	wg.Wait()
	close(codes)
	count := map[string]int{}
	for c := range codes {
		count[c]++
	}
	t.Logf("%d concurrent guesses: %v; profiles asked %d times", n, count, fp.calls.Load())
	if count[netpunkt.ReceiptFatalError] > 5 || fp.calls.Load() > 5 || count[netpunkt.ReceiptFatalError]+count[netpunkt.ReceiptTemporaryError] != n {
		t.Fatalf("%d concurrent guesses answered %v, profiles asked %d times; want at most 5 tried, the rest temporary errors", n, count, fp.calls.Load())
	}
}

// TestReceiptLogsAreBounded: what an unauthenticated caller sends reaches the log only
// as a short escaped prefix, and repeated refusals add a line a minute, not one each.
func TestReceiptLogsAreBounded(t *testing.T) {
	order := testOrder()
	order.OrderID = "A\nB\"" + strings.Repeat("x", netpunkt.MaxReceiptBytes-4096)
	body := fakenetpunkt.ReceiptXML(order, "guess")
	if len(body) > netpunkt.MaxReceiptBytes {
		t.Fatalf("the test message is %d bytes, over the limit", len(body))
	}
	var logs logtest.Buffer
	clock := newTestClock()
	fp := receiptProfiles()
	url := receiptListener(t, &Receipts{Profiles: fp, Credentials: fp, Now: clock.Now, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	hc := clientFrom(t, "127.0.0.1")
	if code, _, _ := postReceipt(t, hc, url, "NP", body); code != netpunkt.ReceiptFatalError {
		t.Fatalf("answered %s, want %s", code, netpunkt.ReceiptFatalError)
	}
	first := len(logs.String())
	t.Logf("one refused %d KiB orderId: %d bytes of log: %s", len(order.OrderID)>>10, first, logs.String())
	if first > 512 {
		t.Fatalf("one refused message added %d bytes of log; want at most 512", first)
	}
	for range 19 {
		postReceipt(t, hc, url, "NP", body)
	}
	all := logs.String()
	t.Logf("20 refused messages: %d bytes of log", len(all))
	if len(all) > 2048 {
		t.Fatalf("20 refused messages added %d bytes of log; want at most 2 KiB", len(all))
	}
	for _, line := range strings.Split(strings.TrimSpace(all), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line that is not one JSON record: %q", line)
		}
	}
	// A minute on, the next refusal is logged again with the count of those not logged.
	clock.Advance(2 * time.Minute)
	postReceipt(t, clientFrom(t, "127.0.0.2"), url, "NP", body)
	// Of the 20, 5 were refused fatal (one logged, 4 held back), 15 refused for the lockout before
	// authentication (logged once, with the lockout).
	if rest := logs.String()[len(all):]; !strings.Contains(rest, `"suppressed":4`) {
		t.Fatalf("the refusal a minute later does not count the 4 not logged: %s", rest)
	}
}

// TestReceiptSlowUploadsHoldNoAttempt: uploads still being sent hold none of the attempts
// a profile may have at once, so a few slow connections cannot keep its receipts out.
func TestReceiptSlowUploadsHoldNoAttempt(t *testing.T) {
	fp := receiptProfiles()
	url := receiptListener(t, &Receipts{Profiles: fp, Credentials: fp, Now: newTestClock().Now, Kick: func(string) {}})
	for range 2 * receiptFreeFailures {
		c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		// The server says 100 Continue once the handler reads the body: then it is waiting
		// for the rest.
		if _, err := io.WriteString(c, "POST "+ReceiptPath+"NP HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.Contains(line, "100") {
			t.Fatalf("a slow upload was answered %q, %v; want 100 Continue", line, err)
		}
		io.WriteString(c, "<receipt>")
	}
	if code, _, body := postReceipt(t, clientFrom(t, "127.0.0.2"), url, "NP", fakenetpunkt.ReceiptXML(testOrder(), receiptPassword)); code != netpunkt.ReceiptOK {
		t.Fatalf("a receipt while slow uploads are open: %s %s", code, body)
	}
}

// TestReceiptSentAgain: orderReceiptUuid keys the inbox. The same receipt sent again is
// answered ok without a second message or a second run, also after a run has drained
// the first; a receipt of the order's next change (another uuid) is stored.
func TestReceiptSentAgain(t *testing.T) {
	fp := receiptProfiles()
	var kicks atomic.Int64
	h := &Receipts{Profiles: fp, Credentials: fp, Now: newTestClock().Now, Kick: func(string) { kicks.Add(1) }}
	url := receiptListener(t, h)
	hc := clientFrom(t, "127.0.0.1")
	order := testOrder()
	msg := fakenetpunkt.ReceiptXML(order, receiptPassword)
	inbox := func() []store.InboxItem {
		t.Helper()
		items, err := h.Store.Inbox("NP", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	for i := range 3 {
		if status, _, body := postReceipt(t, hc, url, "NP", msg); status != netpunkt.ReceiptOK {
			t.Fatalf("sending %d: %s %s", i+1, status, body)
		}
	}
	items := inbox()
	if len(items) != 1 || kicks.Load() != 1 {
		t.Fatalf("the same receipt three times: %d stored, %d runs asked for; want 1, 1", len(items), kicks.Load())
	}
	if err := h.Store.DeleteInbox("NP", []uint64{items[0].Seq}); err != nil { // as a run does
		t.Fatal(err)
	}
	if status, _, _ := postReceipt(t, hc, url, "NP", msg); status != netpunkt.ReceiptOK || len(inbox()) != 0 || kicks.Load() != 1 {
		t.Fatalf("the receipt after a run drained it: %s, %d stored, %d runs asked for", status, len(inbox()), kicks.Load())
	}
	next := order
	next.LastModification = next.LastModification.Add(time.Minute)
	if status, _, _ := postReceipt(t, hc, url, "NP", fakenetpunkt.ReceiptXML(next, receiptPassword)); status != netpunkt.ReceiptOK || len(inbox()) != 1 || kicks.Load() != 2 {
		t.Fatalf("a receipt of the next change: %s, %d stored, %d runs asked for", status, len(inbox()), kicks.Load())
	}
	// A guess with a known uuid is refused like any other, not answered ok.
	if status, _, _ := postReceipt(t, hc, url, "NP", fakenetpunkt.ReceiptXML(order, "guess")); status != netpunkt.ReceiptFatalError {
		t.Fatalf("a wrong password with a known uuid: %s", status)
	}
}
