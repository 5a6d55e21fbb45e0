package store

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/interloan/interloan/platform/resource"
)

// FuzzFold checks the partner-code comparison key against its contract, since the
// partners_by_fold index is only as sound as fold: two codes share a key exactly when
// strings.EqualFold says they are equal (otherwise "abc" could shadow "ABC", or a lookup
// miss a partner), a key folds to itself (so a stored key can be looked up again), folding
// keeps the rune count, and a valid code folds to a valid code (its upper-case form).
func FuzzFold(f *testing.F) {
	for _, seed := range [][2]string{
		{"ABC", "abc"},
		{"Gbg", "GBG"},
		{"K", "\u212a"},      // Kelvin sign
		{"s", "\u017f"},      // long s folds with s and S
		{"ÅÄÖ", "åäö"},       // non-ASCII letters
		{"ss", "ß"},          // simple folding never changes length
		{"\u0130", "i"},      // dotted capital I is its own orbit
		{"A-1.b_", "a-1.B_"}, // the punctuation codes allow
		{"\xff", "\ufffd"},   // invalid UTF-8 compares as U+FFFD
		{"", ""},
		{"ABC", "ABD"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		fa, fb := fold(a), fold(b)
		if same := fa == fb; same != strings.EqualFold(a, b) {
			t.Fatalf("fold(%q) == fold(%q) is %v, strings.EqualFold says %v", a, b, same, !same)
		}
		if fold(fa) != fa {
			t.Fatalf("fold is not idempotent: fold(%q) = %q, fold of that = %q", a, fa, fold(fa))
		}
		if utf8.RuneCountInString(fa) != utf8.RuneCountInString(a) {
			t.Fatalf("fold(%q) = %q changed the rune count", a, fa)
		}
		if resource.ValidCode(a) && (!resource.ValidCode(fa) || fa != strings.ToUpper(a)) {
			t.Fatalf("valid code %q folds to %q, want the valid %q", a, fa, strings.ToUpper(a))
		}
	})
}
