package fakecmdtest

import (
	"context"
	"io"
	"testing"
	"time"
)

// Running is a command's run started by Start.
type Running struct {
	URL  string     // the base URL of the start line
	Logs *LogBuffer // everything run logged so far
	stop context.CancelFunc
	done chan error
}

// Start runs run with args in the background until the test ends or Stop, and waits for
// its start line.
func Start(t testing.TB, run func(ctx context.Context, args []string, logw io.Writer) error, args ...string) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &Running{Logs: &LogBuffer{}, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx, args, r.Logs) }()
	r.URL = r.Logs.WaitForURL(t)
	return r
}

// Stop ends run as a signal would and returns its error; it fails t when run does not
// return within 10 seconds.
func (r *Running) Stop(t testing.TB) error {
	t.Helper()
	r.stop()
	select {
	case err := <-r.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
		return nil
	}
}
