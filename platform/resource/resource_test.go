package resource

import (
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/interloan/interloan/platform/apierr"
)

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"partners/ABC", "ABC", true},
		{"", "", false},
		{"partners/", "", false},
		{"libraries/ABC", "", false},
		{"partners/a/b", "", false},
	} {
		got, err := ParseName("name", tc.name, "partners")
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseName(%q) = %q, %v", tc.name, got, err)
		}
		if err != nil && !apierr.IsKind(err, apierr.KindInvalidArgument) {
			t.Errorf("ParseName(%q): want INVALID_ARGUMENT, got %v", tc.name, err)
		}
	}
}

func TestValidCode(t *testing.T) {
	for s, want := range map[string]bool{"ABC": true, "lib-1.x_2": true, "": false, "-a": false, "a b": false, "å": false} {
		if ValidCode(s) != want {
			t.Errorf("ValidCode(%q) != %v", s, want)
		}
	}
}

func TestEtag(t *testing.T) {
	a, b := Etag(wrapperspb.String("x")), Etag(wrapperspb.String("y"))
	if a == b || a != Etag(wrapperspb.String("x")) {
		t.Fatal("etag must be stable and differ for different content")
	}
	if CheckEtag("n", "", a) != nil || CheckEtag("n", a, a) != nil {
		t.Fatal("matching or empty etag must pass")
	}
	if !apierr.IsKind(CheckEtag("n", b, a), apierr.KindAborted) {
		t.Fatal("mismatch must be ABORTED")
	}
}
