package api

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
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

// ReceiptServer is the HTTP listener Netpunkt posts OpenReceipt messages to (Receipts at
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
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, TLSConfig: s.TLS}
	kickerDone := make(chan struct{})
	go func() { defer close(kickerDone); kicker.Run(ctx) }()
	if s.Log != nil {
		s.Log.Info("serving Netpunkt receipts", "addr", lis.Addr().String(), "path", ReceiptPath+"{profile}")
	}
	err := httpserve.Run(ctx, srv, lis, receiptGrace)
	<-kickerDone
	return err
}
