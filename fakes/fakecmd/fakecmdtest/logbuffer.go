// Package fakecmdtest helps the fake servers' command tests read what run logs.
package fakecmdtest

import (
	"regexp"
	"testing"
	"time"

	"github.com/interloan/interloan/platform/logging/logtest"
)

// LogBuffer is a log sink that a test reads while a command's run writes to it.
type LogBuffer struct{ logtest.Buffer }

var servingAt = regexp.MustCompile(`at (http://\S+)`)

// WaitForURL returns the URL of the start line ("… at http://…") once it is logged, and
// fails t when none is within 10 seconds.
func (l *LogBuffer) WaitForURL(t testing.TB) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if m := servingAt.FindStringSubmatch(l.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no base URL logged: %q", l.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
