package apierr

import (
	"errors"
	"fmt"
	"testing"
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
