package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/fakes/fakenetpunkt"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/logging"
	"github.com/interloan/interloan/platform/logging/logtest"
	"github.com/interloan/interloan/platform/pki"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// startRecorder is a RunStarter that reports each start.
type startRecorder chan [3]string

func (r startRecorder) Start(_ context.Context, profile string, trigger harvesterv1.Trigger, submittedBy, _ string) (*harvesterv1.Run, error) {
	r <- [3]string{profile, trigger.String(), submittedBy}
	return &harvesterv1.Run{}, nil
}

// TestReceiptServer serves receipts on a real listener: an accepted receipt starts a run
// of its profile as Netpunkt's, and Serve returns once ctx ends; a listener that fails
// is reported once ctx ends.
func TestReceiptServer(t *testing.T) {
	order := fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 1, Agency: "DK-775100", Count: 1, From: time.Now(), To: time.Now()})[0]
	fp := &fakeProfiles{
		profiles: map[string]*profilesv1.IntegrationProfile{"integrationProfiles/NP": {System: typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT}},
		creds:    map[string]*profilesv1.ProfileCredentials{"integrationProfiles/NP": {ApiKey: "dbc", ReceiptPassword: receiptPassword}},
	}
	tests := []struct {
		name    string
		broken  bool // the listener is closed before Serve
		wantErr error
	}{
		{name: "serves until ctx ends"},
		{name: "listener fails", broken: true, wantErr: net.ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := store.Open(filepath.Join(t.TempDir(), "h.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if tt.broken {
				lis.Close()
			}
			starts := make(startRecorder, 1)
			s := &ReceiptServer{Profiles: fp, Credentials: fp, Store: st, Runs: starts, Log: logging.Discard()}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.Serve(ctx, lis) }()
			if !tt.broken {
				resp, err := http.Post("http://"+lis.Addr().String()+ReceiptPath+"NP", "text/xml", bytes.NewReader(fakenetpunkt.ReceiptXML(order, receiptPassword)))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("receipt answered %d", resp.StatusCode)
				}
				select {
				case got := <-starts:
					if want := [3]string{"integrationProfiles/NP", harvesterv1.Trigger_TRIGGER_API.String(), ReceiptSubmitter}; got != want {
						t.Fatalf("started %v, want %v", got, want)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("the accepted receipt started no run")
				}
			}
			select {
			case err := <-done:
				t.Fatalf("Serve returned before ctx ended: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not return after ctx ended")
			}
			if (tt.wantErr == nil) != (err == nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("Serve = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestReceiptServerErrorLog: connections that fail their TLS handshake, which anyone can
// open, reach the service's log as one line a minute rather than one each.
func TestReceiptServerErrorLog(t *testing.T) {
	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue("harvester", nil, []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs logtest.Buffer
	fp := receiptProfiles()
	s := &ReceiptServer{Profiles: fp, Credentials: fp, Store: st, Runs: make(startRecorder, 1),
		TLS: &tls.Config{Certificates: []tls.Certificate{pair}}, Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, lis) }()
	defer func() { cancel(); <-done }()
	const conns = 50
	for range conns {
		c, err := net.Dial("tcp", lis.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte("not a TLS handshake\r\n\r\n"))
		io.Copy(io.Discard, c) // until the server has given up on it, and logged so
		c.Close()
	}
	all := logs.String()
	lines := strings.Count(all, "Netpunkt receipt listener")
	t.Logf("%d failed handshakes: %d bytes of log: %s", conns, len(all), all)
	if lines != 1 || len(all) > 1024 {
		t.Fatalf("%d failed handshakes logged %d lines, %d bytes; want 1 line in the service's log", conns, lines, len(all))
	}
}
