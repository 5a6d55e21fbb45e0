package store

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
)

func TestQueryWords(t *testing.T) {
	for q, want := range map[string]string{
		"Röda rummet":                   "röda rummet",
		"  RÖDA, rummet!  röda ":        "röda rummet",
		"Ro\u0308da":                    "röda", // decomposed ö is composed
		"Jean-Paul Sartre":              "jeanpaul sartre",
		"978-91-1-234567-8":             "9789112345678",
		"250301-0042":                   "2503010042",
		"-- - x- -y":                    "x y",
		"C++ & C#":                      "c",
		"":                              "",
		"日本語の本":                         "日本語の本",
		strings.Repeat("a", 50):         strings.Repeat("a", maxWordRunes),
		"ab-" + strings.Repeat("c", 45): "ab" + strings.Repeat("c", maxWordRunes-2),
	} {
		if got := strings.Join(QueryWords(q), " "); got != want {
			t.Errorf("QueryWords(%q) = %q, want %q", q, got, want)
		}
	}
}

func TestIndexWords(t *testing.T) {
	r := &requestsv1.BorrowingRequest{
		ExternalReference: &requestsv1.ExternalReference{ExternalId: "250301-0042"},
		Bibliographic: &requestsv1.Bibliographic{
			Title: "Röda rummet", Author: "Strindberg, August", Isbn: "978-91-1",
			ArticleTitle: "Om Röda", ArticleAuthor: "Jean-Paul", Issn: "1234-567X",
			Publisher: "Bonniers", // not searched
		},
		Requester: &requestsv1.Requester{Name: "Ada"}, // never searched: personal data
	}
	want := "0042 1 1234 1234567x 250301 2503010042 567x 91 978 978911 august jean jeanpaul om paul rummet röda strindberg"
	if got := strings.Join(indexWords(r), " "); got != want {
		t.Errorf("indexWords\n got %s\nwant %s", got, want)
	}
	// Every query word of a field's own text is among its index words.
	for _, text := range []string{"Röda rummet", "978-91-1", "Jean-Paul", "250301-0042", "1234-567X"} {
		for _, w := range QueryWords(text) {
			found := false
			for _, iw := range indexWords(r) {
				found = found || iw == w
			}
			if !found {
				t.Errorf("query %q word %q is not indexed", text, w)
			}
		}
	}
	// The cap on words per request holds.
	r.Bibliographic.Title = strings.Repeat("word ", 10) + func() string {
		var b strings.Builder
		for i := range 500 {
			b.WriteString(string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + " ")
		}
		return b.String()
	}()
	if n := len(indexWords(r)); n != maxRecordWords {
		t.Errorf("%d words indexed, want the cap %d", n, maxRecordWords)
	}
}

// FuzzSearchWords: any text (titles and queries come from outside) splits without
// panicking into words that fit the index — no 0x00 (keys split on it), not too long,
// lower case — and every query word of a text is among the index words of a request
// whose title is that text, so typing a title back always finds it.
func FuzzSearchWords(f *testing.F) {
	for _, s := range []string{"Röda rummet", "978-91-1-234567-8", "Jean-Paul", "a\x00b", "\xff\xfe", "--x--", "Ro\u0308da", "ǅemal"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := &requestsv1.BorrowingRequest{Bibliographic: &requestsv1.Bibliographic{Title: s}}
		index := indexWords(r)
		if len(index) > maxRecordWords {
			t.Fatalf("%d words", len(index))
		}
		for _, w := range append(QueryWords(s), index...) {
			if w == "" || strings.ContainsRune(w, 0) || utf8.RuneCountInString(w) > maxWordRunes {
				t.Fatalf("word %q of %q", w, s)
			}
		}
		if len(index) == maxRecordWords {
			return // a text cut at the cap may lose words
		}
		for _, w := range QueryWords(s) {
			if !slices.Contains(index, w) {
				t.Fatalf("query word %q of %q is not indexed (%q)", w, s, index)
			}
		}
	})
}

// TestCompounds: compounds splits text exactly as the plain rune-by-rune rule says
// (referenceCompounds), for random text over letters, digits, combining marks, hyphens
// and separators.
func TestCompounds(t *testing.T) {
	alphabet := []rune("aZ9ö\u0308Å-‐‑ ,._日\t")
	texts := []string{"", "-", "a-", "-a", "a--b", "a-b-c", "A-B c-D-", "978-91-1-234567-8", "x- -y", "C++ & C#",
		"Ro\u0308da", strings.Repeat("ö", 45) + "-" + strings.Repeat("b", 45), "ab-" + strings.Repeat("c", 45)}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		rs := make([]rune, rng.IntN(24))
		for i := range rs {
			rs[i] = alphabet[rng.IntN(len(alphabet))]
		}
		texts = append(texts, string(rs))
	}
	for _, s := range texts {
		if got, want := compounds(s), referenceCompounds(s); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("compounds(%q) = %q, want %q", s, got, want)
		}
	}
}

// referenceCompounds is the word rule spelled out rune by rune: a word is a run of
// letters, digits and combining marks of the NFC, lower-cased text, cut at maxWordRunes;
// a hyphen between two word runes joins words into a compound; anything else ends it.
func referenceCompounds(s string) [][]string {
	rs := []rune(strings.ToLower(norm.NFC.String(s)))
	word := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) }
	var out [][]string
	var cur []string
	var w []rune
	endWord := func() {
		if len(w) > 0 {
			cur = append(cur, string(w[:min(len(w), maxWordRunes)]))
			w = w[:0]
		}
	}
	for i, r := range rs {
		switch {
		case word(r):
			w = append(w, r)
		case isHyphen(r) && len(w) > 0 && i+1 < len(rs) && word(rs[i+1]):
			endWord()
		default:
			endWord()
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
		}
	}
	endWord()
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
