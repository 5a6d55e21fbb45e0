package api

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
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
}

func (f *fakeProfiles) GetIntegrationProfile(_ context.Context, req *profilesv1.GetIntegrationProfileRequest, _ ...grpc.CallOption) (*profilesv1.IntegrationProfile, error) {
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
		stored             bool
		answer             string
	}{
		{"accepted", "POST", "/netpunkt/receipts/NP", good, false, 200, true, "<status>accepted</status><orderId>" + order.OrderID},
		{"wrong password", "POST", "/netpunkt/receipts/NP", fakenetpunkt.ReceiptXML(order, "guess"), false, 401, false, "authenticationPassword is wrong"},
		{"no password", "POST", "/netpunkt/receipts/NP", fakenetpunkt.ReceiptXML(order, ""), false, 401, false, "refused"},
		{"malformed XML", "POST", "/netpunkt/receipts/NP", good[:len(good)-20], false, 400, false, "malformed OpenReceipt"},
		{"unknown profile", "POST", "/netpunkt/receipts/NOPE", good, false, 404, false, "no Netpunkt profile"},
		{"Libris profile", "POST", "/netpunkt/receipts/LIBRIS", good, false, 404, false, "no Netpunkt profile"},
		{"no receipt password", "POST", "/netpunkt/receipts/NOPW", good, false, 403, false, "accepts no receipts"},
		{"oversized", "POST", "/netpunkt/receipts/NP", bytes.Repeat([]byte("x"), netpunkt.MaxReceiptBytes+1), false, 413, false, "larger than"},
		{"GET", "GET", "/netpunkt/receipts/NP", nil, false, 405, false, "refused"},
		{"a name profiles refuses", "POST", "/netpunkt/receipts/a..", good, false, 404, false, "no Netpunkt profile"},
		{"bad code", "POST", "/netpunkt/receipts/a%2Fb", good, false, 404, false, "no such receipt endpoint"},
		{"profiles down", "POST", "/netpunkt/receipts/NP", good, true, 503, false, "retry later"},
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
			if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.answer) {
				t.Fatalf("answer %d %s; want %d containing %q", w.Code, w.Body.String(), tc.code, tc.answer)
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
				if items[0].ExternalID != order.OrderID || r.ExternalID != order.OrderID || r.Problem != "" || kicked[0] != "integrationProfiles/NP" {
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
