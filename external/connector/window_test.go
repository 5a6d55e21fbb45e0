package connector

import (
	"testing"
	"time"
)

func TestWindowValid(t *testing.T) {
	d := func(y int, m, day int) Day { return Day{y, time.Month(m), day} }
	for _, tc := range []struct {
		name string
		w    Window
		want bool
	}{
		{"one day", Window{d(2026, 3, 1), d(2026, 3, 1)}, true},
		{"a range", Window{d(2026, 2, 27), d(2026, 3, 2)}, true},
		{"reversed", Window{d(2026, 3, 2), d(2026, 3, 1)}, false},
		{"no such day", Window{d(2026, 2, 30), d(2026, 3, 1)}, false},
		{"zero", Window{}, false},
		{"year 10000", Window{d(2026, 1, 1), d(10000, 1, 1)}, false},
	} {
		if got := tc.w.Valid(); got != tc.want {
			t.Errorf("%s: %s.Valid() = %v, want %v", tc.name, tc.w, got, tc.want)
		}
	}
}
