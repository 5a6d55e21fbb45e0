package httpcall

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/interloan/interloan/external/connector"
)

// Bounded returns a copy of hc whose calls are held to lim (connector.Limits, its zero
// fields taking the defaults): each call ends with a *connector.LimitError when it takes
// longer than CallTimeout from sending to the end of its body, when its body trickles
// in slower than MinRate allows, or when the bodies read through the copy exceed
// MaxBytes in all. Both connectors' calls go through it, so this is the one place where
// answers are counted and timed; a connector built per run makes MaxBytes a bound per
// run.
func Bounded(hc *http.Client, lim connector.Limits) *http.Client {
	cp := *hc
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cp.Transport = &bounded{next: next, lim: lim.WithDefaults()}
	return &cp
}

// bounded is the RoundTripper of Bounded.
type bounded struct {
	next http.RoundTripper
	lim  connector.Limits
	read atomic.Int64 // body bytes read over the client's life
}

// Unwrap returns the transport the bounds wrap.
func (b *bounded) Unwrap() http.RoundTripper { return b.next }

func (b *bounded) limit(which connector.Bound) *connector.LimitError {
	return &connector.LimitError{Bound: which, Limits: b.lim}
}

// RoundTrip sends req under a context that the call's deadline, or a trickling body,
// cancels with the *connector.LimitError as its cause. The context lives until the
// body is closed.
func (b *bounded) RoundTrip(req *http.Request) (*http.Response, error) {
	if b.read.Load() > b.lim.MaxBytes {
		return nil, b.limit(connector.BoundMaxBytes)
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	deadline := time.AfterFunc(b.lim.CallTimeout, func() { cancel(b.limit(connector.BoundCallTimeout)) })
	resp, err := b.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		deadline.Stop()
		le := limitCause(ctx)
		cancel(nil)
		if le != nil {
			return nil, le
		}
		return nil, err
	}
	body := &boundedBody{rc: resp.Body, b: b, ctx: ctx, cancel: cancel, deadline: deadline}
	body.slow = time.AfterFunc(time.Hour, func() { cancel(b.limit(connector.BoundMinRate)) })
	body.slow.Stop() // Read arms it only while it waits on the network
	resp.Body = body
	return resp, nil
}

// limitCause is the *connector.LimitError that cancelled ctx, or nil.
func limitCause(ctx context.Context) *connector.LimitError {
	var le *connector.LimitError
	if errors.As(context.Cause(ctx), &le) {
		return le
	}
	return nil
}

// boundedBody counts and times an answer's body. Only time blocked in the underlying
// Read counts towards the slow-answer allowance, so a caller that takes long over what it
// read (ingesting a batch) never makes the system look slow; the call's deadline counts
// everything.
type boundedBody struct {
	rc       io.ReadCloser
	b        *bounded
	ctx      context.Context
	cancel   context.CancelCauseFunc
	deadline *time.Timer
	slow     *time.Timer
	got      int64         // this body's bytes
	waited   time.Duration // time blocked in rc.Read
	err      error         // the bound reached, once reached
}

// allowance is how long reading this body may have waited so far: SlowGrace plus one
// second per MinRate bytes received.
func (r *boundedBody) allowance() time.Duration {
	rate := r.b.lim.MinRate
	return r.b.lim.SlowGrace + time.Duration(r.got/rate)*time.Second + time.Duration(r.got%rate)*time.Second/time.Duration(rate)
}

func (r *boundedBody) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.b.read.Load() > r.b.lim.MaxBytes {
		return 0, r.fail(connector.BoundMaxBytes)
	}
	left := r.allowance() - r.waited
	if left <= 0 {
		return 0, r.fail(connector.BoundMinRate)
	}
	r.slow.Reset(left)
	start := time.Now()
	n, err := r.rc.Read(p)
	r.slow.Stop()
	r.waited += time.Since(start)
	r.got += int64(n)
	if r.b.read.Add(int64(n)) > r.b.lim.MaxBytes {
		return n, r.fail(connector.BoundMaxBytes)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		if le := limitCause(r.ctx); le != nil {
			r.err = le
			return n, le
		}
	}
	return n, err
}

// fail records that the bound which was reached and ends the call.
func (r *boundedBody) fail(which connector.Bound) error {
	le := r.b.limit(which)
	r.err = le
	r.cancel(le)
	return le
}

func (r *boundedBody) Close() error {
	r.deadline.Stop()
	r.slow.Stop()
	err := r.rc.Close()
	r.cancel(nil)
	return err
}

// Exceeded returns the *connector.LimitError in err's chain, as a copy naming l's peer
// and what was being called, or nil when err holds none. A connector returns it as is:
// no retry brings a run back within its bounds.
func (l Loop) Exceeded(err error, what string) *connector.LimitError {
	var le *connector.LimitError
	if !errors.As(err, &le) {
		return nil
	}
	cp := *le
	cp.Peer, cp.What = l.Peer, what
	return &cp
}
