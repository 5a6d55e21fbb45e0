package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestMainExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string // expected in stdout or stderr
	}{
		{nil, 2, "Usage:"},
		{[]string{"help"}, 0, "interloan up"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"up", "-h"}, 0, "-base-port"},
		{[]string{"up", "--no-such-flag"}, 2, "no-such-flag"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.out) {
			t.Errorf("Main(%q) = %d, output %q; want %d containing %q", tc.args, code, stdout.String()+stderr.String(), tc.code, tc.out)
		}
	}
}
