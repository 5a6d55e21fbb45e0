package connector

import (
	"testing"
	"time"
)

func TestLimits(t *testing.T) {
	if got := (Limits{CallTimeout: -1, MinRate: 5}).WithDefaults(); got != (Limits{DefaultCallTimeout, 5, DefaultSlowGrace, DefaultMaxBytes}) {
		t.Errorf("WithDefaults = %+v", got)
	}
	lim := Limits{CallTimeout: time.Minute, MinRate: 1024, SlowGrace: 30 * time.Second, MaxBytes: 3 << 20}
	for _, tc := range []struct {
		err  LimitError
		want string
	}{
		{LimitError{Bound: BoundCallTimeout, Limits: lim, Peer: "Libris", What: "outgoing 2026-11-20..2026-11-26"},
			"Libris took longer than 1m0s (the bound on one call) to answer for outgoing 2026-11-20..2026-11-26"},
		{LimitError{Bound: BoundMinRate, Limits: lim, Peer: "Netpunkt", What: "order 7"},
			"Netpunkt sent the answer for order 7 slower than 1024 bytes a second after 30s (the bound on a trickling answer)"},
		{LimitError{Bound: BoundMaxBytes, Limits: lim, Peer: "Libris", What: "request 1"},
			"Libris's answers in this run came to more than 3 MiB (the bound on bytes read per run), at the answer for request 1"},
		{LimitError{Bound: BoundMaxBytes, Limits: lim},
			"the external system's answers in this run came to more than 3 MiB (the bound on bytes read per run)"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
	for n, want := range map[int64]string{2 << 30: "2 GiB", 5 << 20: "5 MiB", 3 << 10: "3 KiB", 1500: "1500 bytes", 0: "0 bytes"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
