package e2e

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/interloan/interloan/fakes/fakelibris"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	"github.com/interloan/interloan/internal/testenv"
	"github.com/interloan/interloan/platform/logging"
)

// lockedBuffer collects the suite's logs, which every service writes concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestConnection: TestConnection through each fake, for a saved profile and for an
// unsaved one carrying its key: every step passes with the right key; a wrong key fails
// the credential step, a library code the system does not give the key fails the
// library step, a closed port fails HTTP, an untrusted certificate fails TLS and a host
// written as a number fails the outbound policy — each naming what to fix, with the
// steps after it not run. The typed keys appear in no answer and no log line, and the
// REST bindings answer for both kinds.
func TestConnection(t *testing.T) { forEachSystem(t, testConnection) }

func testConnection(t *testing.T, sys *system) {
	logs := &lockedBuffer{}
	e := startSuiteWith(t, sys, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), "debug")
	const key, wrong = "conn-key-7f3a9c", "wrong-key-0b6e21"
	sys.grant(key, sys.ours)
	e.library("MAIN")

	tlsSrv := httptest.NewTLSServer(sys.fake) // a certificate the harvester does not trust
	defer tlsSrv.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	e.must(err)
	closed := "http://" + lis.Addr().String() + sys.basePath // nothing listens there any more
	lis.Close()

	const (
		address = harvesterv1.ConnectionStep_CONNECTION_STEP_ADDRESS
		tlsStep = harvesterv1.ConnectionStep_CONNECTION_STEP_TLS
		httpS   = harvesterv1.ConnectionStep_CONNECTION_STEP_HTTP
		cred    = harvesterv1.ConnectionStep_CONNECTION_STEP_CREDENTIAL
		library = harvesterv1.ConnectionStep_CONNECTION_STEP_LIBRARY
	)
	cases := []struct {
		name     string
		url, lib string
		key      string
		failStep harvesterv1.ConnectionStep // 0: every step passes
		code     string
		says     string
	}{
		{"ok", e.extURL, sys.ours, key, 0, "", ""},
		{"wrong-key", e.extURL, sys.ours, wrong, cred, "CREDENTIAL_REFUSED", "enter the credential again"},
		{"unknown-library", e.extURL, sys.other, key, library, "LIBRARY_UNKNOWN", sys.other},
		{"unreachable", closed, sys.ours, key, httpS, "UNREACHABLE", "connection refused"},
		{"tls", tlsSrv.URL + sys.basePath, sys.ours, key, tlsStep, "TLS_FAILED", "certificate"},
		{"policy", "http://0x7f000001" + sys.basePath, sys.ours, key, address, "OUTBOUND_REFUSED", "not a plain IP address"},
	}
	for _, tc := range cases {
		draft := testenv.Profile(sys.enum, "conn-"+tc.name, tc.url, tc.lib, tc.key, time.Now())
		draft.ResourceSharingLibrary = "MAIN"
		if n := draft.GetNetpunkt(); n != nil {
			n.Group = sys.ours // the group holding the key: only the agency differs
		}
		saved, err := e.CreateProfile(e.ctx, proto.CloneOf(draft))
		e.must(err)
		for _, kind := range []string{"draft", "saved"} {
			t.Run(tc.name+"/"+kind, func(t *testing.T) {
				req := &harvesterv1.TestConnectionRequest{Name: saved}
				if kind == "draft" {
					req = &harvesterv1.TestConnectionRequest{IntegrationProfile: draft}
				}
				start := time.Now()
				resp, err := e.Harvester.TestConnection(e.ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("tested in %s", time.Since(start).Round(time.Millisecond))
				if raw, _ := protojson.Marshal(resp); bytes.Contains(raw, []byte(tc.key)) {
					t.Fatalf("the answer holds the key: %s", raw)
				}
				checkSteps(t, resp, tc.failStep, tc.code, tc.says)
			})
		}
	}

	// The REST bindings: a saved profile by name, an unsaved one in the body.
	code, _, body := e.rest("POST", "/v1/integrationProfiles/conn-ok:testConnection", e.adminToken, "{}")
	if code != 200 || !strings.Contains(body, `"passed":true`) {
		t.Errorf("REST, saved: %d %s", code, body)
	}
	draft, err := protojson.Marshal(testenv.Profile(sys.enum, "conn-rest", e.extURL, sys.ours, wrong, time.Now()))
	e.must(err)
	code, _, body = e.rest("POST", "/v1/integrationProfiles:testConnection", e.adminToken, `{"integrationProfile":`+string(draft)+`}`)
	if code != 200 || !strings.Contains(body, "CREDENTIAL_REFUSED") || strings.Contains(body, wrong) {
		t.Errorf("REST, draft with a wrong key: %d %s", code, body)
	}
	if n := strings.Count(logs.String(), "\n"); strings.Contains(logs.String(), key) || strings.Contains(logs.String(), wrong) {
		t.Errorf("a key is in the logs (%d lines)", n)
	}
}

// checkSteps checks that every step before failStep passed, failStep failed with code
// and a message holding says, and the steps after it were not run (failStep 0: all
// passed).
func checkSteps(t *testing.T, resp *harvesterv1.TestConnectionResponse, failStep harvesterv1.ConnectionStep, code, says string) {
	t.Helper()
	if len(resp.GetChecks()) != 5 {
		t.Fatalf("%d checks, want 5: %v", len(resp.GetChecks()), resp.GetChecks())
	}
	for _, c := range resp.GetChecks() {
		t.Logf("%-26s %-16s %6s  %s", c.GetStep(), c.GetCode(), c.GetDuration().AsDuration().Round(time.Millisecond), c.GetMessage())
		switch {
		case failStep == 0 || c.GetStep() < failStep:
			if !c.GetPassed() {
				t.Errorf("%s failed: %s %s", c.GetStep(), c.GetCode(), c.GetMessage())
			}
		case c.GetStep() == failStep:
			if c.GetPassed() || c.GetCode() != code || !strings.Contains(c.GetMessage(), says) {
				t.Errorf("%s: passed %v, %s %q; want %s saying %q", c.GetStep(), c.GetPassed(), c.GetCode(), c.GetMessage(), code, says)
			}
		default:
			if c.GetPassed() || c.GetCode() != "NOT_RUN" {
				t.Errorf("%s after the failed step: %s", c.GetStep(), c.GetCode())
			}
		}
	}
	if resp.GetPassed() != (failStep == 0) {
		t.Errorf("passed %v", resp.GetPassed())
	}
}

// TestConnectionRefusedByOutboundPolicy: with the default outbound policy, a profile on
// the fake's loopback address fails the address step, naming the policy and the flag
// that permits it, and the fake is never called.
func TestConnectionRefusedByOutboundPolicy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lib := fakelibris.New(fakelibris.Options{})
	env, err := testenv.Start(ctx, testenv.Options{Logger: logging.Discard(), Libris: lib, RefusePrivateNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	w := env.Libris.World(testenv.WorldOptions{})
	for _, url := range []string{env.Libris.URL, strings.Replace(env.Libris.URL, "127.0.0.1", "localhost", 1)} {
		p := proto.CloneOf(w.Profile)
		p.GetLibris().BaseUrl = url
		resp, err := env.Harvester.TestConnection(ctx, &harvesterv1.TestConnectionRequest{IntegrationProfile: p})
		if err != nil {
			t.Fatal(err)
		}
		checkSteps(t, resp, harvesterv1.ConnectionStep_CONNECTION_STEP_ADDRESS, "OUTBOUND_REFUSED", "--allow-private-networks")
	}
	if n := lib.Calls("/"); n != 0 {
		t.Errorf("the fake was called %d times", n)
	}
}
