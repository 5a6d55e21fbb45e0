package scheduler

import (
	"context"
	"testing"
	"time"
)

func fired(t Timer) bool {
	select {
	case <-t.C():
		return true
	default:
		return false
	}
}

func TestFakeClock(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewFakeClock(start)

	a := c.NewTimer(time.Minute)
	b := c.NewTimer(time.Hour)
	if c.Pending() != 2 {
		t.Fatalf("pending %d", c.Pending())
	}
	if d, ok := c.NextDeadline(); !ok || d != start.Add(time.Minute) {
		t.Fatalf("next deadline %v %v", d, ok)
	}
	c.Advance(59 * time.Second)
	if fired(a) {
		t.Fatal("fired before its deadline")
	}
	c.Advance(time.Second)
	select {
	case at := <-a.C():
		if at != start.Add(time.Minute) {
			t.Fatalf("fired with %v", at)
		}
	default:
		t.Fatal("did not fire at its deadline")
	}
	if a.Stop() {
		t.Fatal("Stop of a fired timer reported true")
	}
	if !b.Stop() || b.Stop() {
		t.Fatal("Stop of a pending timer: want true once, then false")
	}
	c.Advance(2 * time.Hour)
	if fired(b) {
		t.Fatal("stopped timer fired")
	}
	if c.Pending() != 0 {
		t.Fatalf("pending %d", c.Pending())
	}
	if _, ok := c.NextDeadline(); ok {
		t.Fatal("deadline with no timers")
	}

	if z := c.NewTimer(0); !fired(z) || c.Pending() != 0 {
		t.Fatal("a zero-duration timer must fire at once and not be pending")
	}

	// Stepping back fires nothing.
	late := c.NewTimer(time.Minute)
	c.Set(start)
	if fired(late) || c.Now() != start {
		t.Fatal("stepping back fired a timer")
	}
}

func TestFakeClockBlockUntil(t *testing.T) {
	c := NewFakeClock(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.BlockUntilContext(ctx, 1); err == nil {
		t.Fatal("BlockUntilContext returned nil with no timer and a cancelled context")
	}
	got := make(chan Timer)
	go func() { got <- c.NewTimer(time.Second) }()
	c.BlockUntil(1) // returns once the goroutine's timer exists
	tm := <-got
	c.Advance(time.Second)
	if !fired(tm) {
		t.Fatal("timer did not fire")
	}
}

func TestRealClock(t *testing.T) {
	c := RealClock()
	before := time.Now()
	if c.Now().Before(before) {
		t.Fatal("RealClock.Now went back")
	}
	tm := c.NewTimer(time.Millisecond)
	<-tm.C()
	if tm.Stop() {
		t.Fatal("Stop after firing reported true")
	}
}
