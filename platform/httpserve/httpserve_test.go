package httpserve

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestRun serves a real listener through each way Run can end: the context ending (with
// and without requests in flight, plain text and TLS), the owner closing the server, and
// serving failing before the context ends (at once, or with a request in flight).
func TestRun(t *testing.T) {
	tests := []struct {
		name          string
		tls           bool
		closeListener bool // serving fails at once: the listener is closed before Run
		failAccept    bool // serving fails while a request is in flight (implies stuck)
		stuck         bool // a request is still in flight when ctx ends
		closeServer   bool // the owner closes the server instead of ending ctx
		grace         time.Duration
		wantErr       func(error) bool // nil: Run returns nil
	}{
		{name: "ctx ends", grace: time.Second},
		{name: "ctx ends, TLS", tls: true, grace: time.Second},
		{name: "owner closes the server", closeServer: true, grace: time.Second},
		{name: "grace runs out", stuck: true, grace: 50 * time.Millisecond,
			wantErr: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{name: "listener closed", closeListener: true, grace: time.Second,
			wantErr: func(err error) bool { return errors.Is(err, net.ErrClosed) }},
		{name: "accept fails", failAccept: true, stuck: true, grace: time.Second,
			wantErr: func(err error) bool { return errors.Is(err, errAccept) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release)
			mux := http.NewServeMux()
			mux.HandleFunc("GET /ok", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
			mux.HandleFunc("GET /stuck", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
				}
			})
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
			client := http.DefaultClient
			scheme := "http"
			if tt.tls {
				srv.TLSConfig, client = testTLS(t)
				scheme = "https"
			}
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			base := scheme + "://" + lis.Addr().String()
			fail := make(chan struct{})
			if tt.failAccept {
				lis = &failingListener{Listener: lis, fail: fail}
			}
			if tt.closeListener {
				lis.Close()
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- Run(ctx, srv, lis, tt.grace) }()

			if !tt.closeListener && !tt.failAccept {
				resp, err := client.Get(base + "/ok")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(body) != "ok" {
					t.Fatalf("body %q", body)
				}
			}
			var stuck *http.Response
			if tt.stuck {
				if stuck, err = client.Get(base + "/stuck"); err != nil {
					t.Fatal(err)
				}
				defer stuck.Body.Close()
			}
			switch {
			case tt.closeServer:
				srv.Close()
			case tt.failAccept:
				close(fail)
			case !tt.closeListener:
				cancel()
			}

			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return")
			}
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Run = %v, want nil", err)
			}
			if tt.wantErr != nil && (err == nil || !tt.wantErr(err)) {
				t.Fatalf("Run = %v, not the error wanted", err)
			}
			if stuck != nil {
				// The connection left after the grace or the failure is closed, so the
				// body ends.
				read := make(chan error, 1)
				go func() { _, err := io.ReadAll(stuck.Body); read <- err }()
				select {
				case err := <-read:
					if err == nil {
						t.Fatal("the request in flight ended normally")
					}
				case <-time.After(5 * time.Second):
					t.Fatal("the request in flight still had its connection after Run returned")
				}
			}
			if !tt.closeListener {
				if _, err := client.Get(base + "/ok"); err == nil {
					t.Fatal("still serving after Run returned")
				}
			}
		})
	}
}

// TestRunReturnsWhenCtxAlreadyEnded: a context that has ended stops the server at once.
func TestRunReturnsWhenCtxAlreadyEnded(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Run(ctx, &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: time.Second}, lis, time.Second); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

var errAccept = errors.New("accept failed")

// failingListener accepts one connection, then fails once fail is closed.
type failingListener struct {
	net.Listener
	fail     chan struct{}
	accepted bool
}

func (l *failingListener) Accept() (net.Conn, error) {
	if !l.accepted {
		l.accepted = true
		return l.Listener.Accept()
	}
	<-l.fail
	return nil, errAccept
}

// testTLS is a server TLS configuration with httptest's certificate, and a client that
// trusts it.
func testTLS(t *testing.T) (*tls.Config, *http.Client) {
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.StartTLS()
	t.Cleanup(ts.Close)
	client := ts.Client()
	client.Transport.(*http.Transport).DisableKeepAlives = true
	return &tls.Config{Certificates: ts.TLS.Certificates, MinVersion: tls.VersionTLS12}, client
}

// TestRunAll: the first function to return stops the others, whatever it returned, and
// Run reports every function's error; with none returning early, ctx ending stops all.
func TestRunAll(t *testing.T) {
	errA, errB := errors.New("a failed"), errors.New("b failed")
	untilDone := func(err error) func(context.Context) error {
		return func(ctx context.Context) error { <-ctx.Done(); return err }
	}
	returns := func(err error) func(context.Context) error {
		return func(context.Context) error { return err }
	}
	tests := []struct {
		name    string
		serve   []func(context.Context) error
		cancel  bool // end the parent context
		wantErr []error
	}{
		{name: "one fails", serve: []func(context.Context) error{untilDone(nil), returns(errA)}, wantErr: []error{errA}},
		{name: "one stops cleanly", serve: []func(context.Context) error{untilDone(errB), returns(nil)}, wantErr: []error{errB}},
		{name: "both report", serve: []func(context.Context) error{returns(errA), untilDone(errB)}, wantErr: []error{errA, errB}},
		{name: "ctx ends", serve: []func(context.Context) error{untilDone(nil), untilDone(nil)}, cancel: true},
		{name: "nothing to run", cancel: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			done := make(chan error, 1)
			go func() { done <- RunAll(ctx, tt.serve...) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("RunAll did not return")
			}
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("RunAll = %v, want nil", err)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("RunAll = %v, want it to hold %v", err, want)
				}
			}
		})
	}
}
