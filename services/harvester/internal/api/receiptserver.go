package api

import (
	"context"
	"crypto/tls"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/platform/httpserve"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// ReceiptSubmitter is who the job history names for runs a pushed receipt started.
const ReceiptSubmitter = "Netpunkt receipt"

// receiptGrace bounds the receipt listener's shutdown.
const receiptGrace = 5 * time.Second

// RunStarter starts runs: a Starter.
type RunStarter interface {
	Start(ctx context.Context, profile string, trigger harvesterv1.Trigger, submittedBy, requestID string) (*harvesterv1.Run, error)
}

// ReceiptServer is the HTTP listener DBC posts OrderReceipt messages to (Receipts at
// ReceiptPath), with a Kicker starting a run of a profile soon after each receipt it
// accepts. It serves on a listener of its own, apart from the health and metrics port, so
// that only it needs to be reachable from DBC.
type ReceiptServer struct {
	Profiles    profilesv1.ProfileServiceClient
	Credentials profilesv1.ProfileCredentialsServiceClient
	Store       *store.Store
	Runs        RunStarter
	TLS         *tls.Config // nil: plain text
	Log         *slog.Logger
}

// Serve serves on lis until ctx ends, then shuts down within a few seconds. It returns
// once the kicker has stopped too (when ctx ends), with the listener's failure, if any.
func (s *ReceiptServer) Serve(ctx context.Context, lis net.Listener) error {
	kicker := &Kicker{Log: s.Log, Start: func(ctx context.Context, name string) error {
		_, err := s.Runs.Start(ctx, name, harvesterv1.Trigger_TRIGGER_API, ReceiptSubmitter, "")
		return err
	}}
	mux := http.NewServeMux()
	mux.Handle(ReceiptPath, &Receipts{Profiles: s.Profiles, Credentials: s.Credentials, Store: s.Store, Kick: kicker.Kick, Log: s.Log})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, TLSConfig: s.TLS,
		ErrorLog: log.New(&serverErrors{log: s.Log, gate: newLogGate(receiptLogEvery, 1, time.Now)}, "", 0)}
	kickerDone := make(chan struct{})
	go func() { defer close(kickerDone); kicker.Run(ctx) }()
	if s.Log != nil {
		s.Log.Info("serving Netpunkt receipts", "addr", lis.Addr().String(), "path", ReceiptPath+"{profile}")
	}
	err := httpserve.Run(ctx, srv, lis, receiptGrace)
	<-kickerDone
	return err
}

// serverErrors is the receipt listener's own error log. Anyone who can connect can add a
// line to it (a failed TLS handshake is one), so it lets one line a minute through to
// the service's log, cut short and quoted, with the count of the lines held back.
type serverErrors struct {
	log  *slog.Logger
	gate *logGate
}

// serverErrorBytes is how much of a server error line is logged.
const serverErrorBytes = 200

func (e *serverErrors) Write(p []byte) (int, error) {
	if ok, held := e.gate.allow(""); ok && e.log != nil {
		e.log.Warn("Netpunkt receipt listener", "error", clip(strings.TrimSpace(string(p)), serverErrorBytes), "suppressed", held)
	}
	return len(p), nil
}
