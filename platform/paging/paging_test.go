package paging

import (
	"bytes"
	"testing"

	"github.com/interloan/interloan/platform/apierr"
)

func TestSize(t *testing.T) {
	for _, tc := range []struct {
		in      int32
		want    int
		invalid bool
	}{{0, DefaultSize, false}, {1, 1, false}, {1000, 1000, false}, {5000, MaxSize, false}, {-1, 0, true}} {
		got, err := Size(tc.in)
		if tc.invalid != apierr.IsKind(err, apierr.KindInvalidArgument) || got != tc.want {
			t.Errorf("Size(%d) = %d, %v", tc.in, got, err)
		}
	}
}

func TestTokenRoundTripAndFilterBinding(t *testing.T) {
	f := FilterHash("LIBRIS", "true")
	tok := Encode([]byte("abc"), f)
	got, err := Decode(tok, f)
	if err != nil || !bytes.Equal(got, []byte("abc")) {
		t.Fatalf("Decode = %q, %v", got, err)
	}
	if _, err := Decode(tok, FilterHash("NETPUNKT", "true")); !apierr.IsKind(err, apierr.KindInvalidArgument) {
		t.Errorf("other filters: %v", err)
	}
	for _, bad := range []string{"!!!", "e30", Encode(nil, f)} {
		if _, err := Decode(bad, f); !apierr.IsKind(err, apierr.KindInvalidArgument) {
			t.Errorf("Decode(%q): %v", bad, err)
		}
	}
	if got, err := Decode("", f); got != nil || err != nil {
		t.Error("empty token must mean start")
	}
}
