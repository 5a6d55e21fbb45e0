// Package httpserve is how every Interloan process serves HTTP: on a listener it was
// given, until a context ends, then a graceful shutdown bounded in time. It depends on
// the standard library only, so the fakes can use it without the suite's gRPC stack.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Run serves srv on lis, with TLS when srv has a TLSConfig, until ctx ends; then it shuts
// srv down: requests in flight get grace to finish, after which the connections left
// (watch streams never finish by themselves) are closed.
//
// Nothing is served once Run returns. It returns the serve error when serving fails
// before ctx ends, nil once a shutdown completes within grace, and the shutdown's error
// (wrapping context.DeadlineExceeded when grace ran out) otherwise. A server its owner
// closed (http.ErrServerClosed) is not a failure.
func Run(ctx context.Context, srv *http.Server, lis net.Listener, grace time.Duration) error {
	served := make(chan error, 1)
	go func() { served <- serve(srv, lis) }()
	select {
	case err := <-served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		_ = srv.Close() // the connections accepted before the failure
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("shutdown: %w", err)
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(serr, err) // failed while ctx was ending
	}
	return err
}

// serve serves srv on lis; with TLS its certificate comes from TLSConfig.GetCertificate
// or TLSConfig.Certificates, hence the empty file names.
func serve(srv *http.Server, lis net.Listener) error {
	if srv.TLSConfig != nil {
		return srv.ServeTLS(lis, "", "")
	}
	return srv.Serve(lis)
}

// RunAll runs each serve function with a context that ends when ctx ends or when any of
// them returns, so one server stopping (failing, or closed by its owner) stops the
// others. It waits for all of them and returns their errors joined.
func RunAll(ctx context.Context, serve ...func(context.Context) error) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	errs := make([]error, len(serve))
	var wg sync.WaitGroup
	for i, run := range serve {
		wg.Go(func() {
			errs[i] = run(ctx)
			stop()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
