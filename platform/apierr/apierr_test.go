package apierr

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestViolations(t *testing.T) {
	var v Violations
	if v.Err() != nil {
		t.Fatal("no violations must give nil")
	}
	v.Add("a.b", "must be %d", 3)
	v.Add("c", "required")
	err := v.Err()
	e, ok := As(fmt.Errorf("wrapped: %w", err))
	if !ok || e.Kind != KindInvalidArgument || len(e.Violations) != 2 {
		t.Fatalf("got %#v", e)
	}
	if got, want := err.Error(), "invalid request: a.b: must be 3; c: required"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !IsKind(err, KindInvalidArgument) || IsKind(errors.New("x"), KindInvalidArgument) {
		t.Fatal("IsKind")
	}
}

func TestTruncate(t *testing.T) {
	if Truncate("short") != "short" {
		t.Fatal("short input changed")
	}
	long := strings.Repeat("å", 100) // 200 bytes
	got := Truncate(long)
	if len(got) > 104 || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Fatalf("Truncate = %q", got)
	}
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"longer than that", 6, "longer…"},
		{"åäö", 3, "å…"}, // never half a rune
	} {
		if got := Clip(tc.in, tc.max); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}
