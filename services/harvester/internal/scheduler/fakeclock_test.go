package scheduler

import (
	"context"
	"slices"
	"sync"
	"time"
)

// FakeClock is a Clock that moves only when told to. Timers fire (once, as time.Timer)
// when Advance or Set reaches their deadline; BlockUntil lets a test wait until the code
// under test is parked on its timers, so tests are deterministic without sleeps.
// It is safe for concurrent use.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer  // pending: neither fired nor stopped
	changed chan struct{} // closed (and replaced) whenever the pending set changes
}

// NewFakeClock returns a fake clock showing t.
func NewFakeClock(t time.Time) *FakeClock {
	return &FakeClock{now: t, changed: make(chan struct{})}
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires when the fake time reaches Now()+d; at once if d <= 0.
func (c *FakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, when: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	c.notifyLocked()
	return t
}

// Advance moves the fake time forward by d and fires the timers it reaches.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(c.now.Add(d))
}

// Set moves the fake time to t and fires the timers it reaches. Moving backwards fires
// nothing, like a wall clock stepped back.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(t)
}

func (c *FakeClock) setLocked(t time.Time) {
	c.now = t
	kept := c.timers[:0]
	fired := false
	for _, tm := range c.timers {
		if tm.when.After(t) {
			kept = append(kept, tm)
			continue
		}
		tm.ch <- t // buffered and sent at most once: never blocks
		fired = true
	}
	clear(c.timers[len(kept):]) // drop references to fired timers
	c.timers = kept
	if fired {
		c.notifyLocked()
	}
}

// Pending is the number of timers that have neither fired nor been stopped.
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// NextDeadline is the earliest pending timer's deadline; ok is false when none is pending.
// Tests step to it to see each wake-up at its exact instant.
func (c *FakeClock) NextDeadline() (deadline time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, tm := range c.timers {
		if i == 0 || tm.when.Before(deadline) {
			deadline = tm.when
		}
	}
	return deadline, len(c.timers) > 0
}

// BlockUntil waits until at least n timers are pending.
func (c *FakeClock) BlockUntil(n int) {
	_ = c.BlockUntilContext(context.Background(), n)
}

// BlockUntilContext waits until at least n timers are pending or ctx ends, whose error
// it then returns; tests use it to fail rather than hang when the code never parks.
func (c *FakeClock) BlockUntilContext(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if len(c.timers) >= n {
			c.mu.Unlock()
			return nil
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *FakeClock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

type fakeTimer struct {
	clock *FakeClock
	when  time.Time
	ch    chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

// Stop reports whether it stopped a pending timer, as time.Timer.Stop does.
func (t *fakeTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.timers, t)
	if i < 0 {
		return false
	}
	c.timers = slices.Delete(c.timers, i, i+1)
	c.notifyLocked()
	return true
}
