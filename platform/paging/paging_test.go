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

func TestList(t *testing.T) {
	keys := []string{"a", "b", "c"}
	fetch := func(after []byte, limit int) ([]string, []byte, error) {
		var out []string
		for _, k := range keys {
			if string(after) < k && len(out) < limit {
				out = append(out, k)
			}
		}
		var next []byte
		if len(out) > 0 && out[len(out)-1] != keys[len(keys)-1] {
			next = []byte(out[len(out)-1])
		}
		return out, next, nil
	}
	var got []string
	token := ""
	for {
		items, next, err := List(2, token, []string{"coll"}, fetch)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, items...)
		if next == "" {
			break
		}
		token = next
	}
	if len(got) != 3 || got[2] != "c" {
		t.Fatalf("paged %v", got)
	}
	first, next, _ := List(1, "", []string{"coll"}, fetch)
	if len(first) != 1 || next == "" {
		t.Fatal("first page must have a next token")
	}
	if _, _, err := List(1, next, []string{"other"}, fetch); !apierr.IsKind(err, apierr.KindInvalidArgument) {
		t.Fatalf("token on another collection: %v", err)
	}
	if _, _, err := List(-1, "", nil, fetch); !apierr.IsKind(err, apierr.KindInvalidArgument) {
		t.Fatalf("negative size: %v", err)
	}
}

// FuzzDecode: a page token is outside input; decoding must never panic and must either
// fail with INVALID_ARGUMENT or yield a non-empty key.
func FuzzDecode(f *testing.F) {
	h := FilterHash("x")
	f.Add(Encode([]byte("key"), h))
	f.Add("")
	f.Add("e30")
	f.Add("%%%")
	f.Fuzz(func(t *testing.T, tok string) {
		after, err := Decode(tok, h)
		switch {
		case err != nil && !apierr.IsKind(err, apierr.KindInvalidArgument):
			t.Fatalf("non-INVALID_ARGUMENT error %v", err)
		case err == nil && tok != "" && len(after) == 0:
			t.Fatal("accepted token with empty key")
		}
	})
}
