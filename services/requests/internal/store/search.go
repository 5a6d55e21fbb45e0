package store

import (
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
)

// Free-text search works on whole words, kept in idx_word. A word is a run of letters,
// digits and combining marks, in Unicode NFC and lower case (so "Röda" typed with a
// combining diaeresis still matches). Hyphens join words into a compound
// ("978-91-1", "Jean-Paul", "250301-0042"): a record is indexed under each part and the
// joined form ("978911", "jeanpaul"), and a query compound looks up only the joined form,
// so a query matches whether it is typed with hyphens, without them, or as a part.
const (
	maxWordRunes   = 40  // longer words are cut, alike in records and queries
	maxRecordWords = 200 // distinct words indexed per request; a longer text is cut
	MaxQueryWords  = 8
	MaxQueryRunes  = 200
)

// compounds splits s into compounds, each a list of its hyphen-joined parts.
func compounds(s string) [][]string {
	s = strings.ToLower(norm.NFC.String(s))
	var out [][]string
	var cur []string
	var word []rune
	endWord := func() {
		if len(word) > 0 {
			cur = append(cur, string(word[:min(len(word), maxWordRunes)]))
			word = word[:0]
		}
	}
	endCompound := func() {
		endWord()
		if len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case isWordRune(r):
			word = append(word, r)
		case isHyphen(r) && len(word) > 0 && i+1 < len(rs) && isWordRune(rs[i+1]):
			endWord() // a hyphen inside a compound
		default:
			endCompound()
		}
	}
	endCompound()
	return out
}

func isHyphen(r rune) bool { return r == '-' || r == '‐' || r == '‑' }

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

func joined(parts []string) string {
	j := strings.Join(parts, "")
	if r := []rune(j); len(r) > maxWordRunes {
		j = string(r[:maxWordRunes])
	}
	return j
}

// indexWords are a request's search words: title, author, article title and author,
// external id, ISBN and ISSN; distinct and sorted.
func indexWords(r *requestsv1.BorrowingRequest) []string {
	b := r.GetBibliographic()
	seen := map[string]bool{}
	var out []string
	add := func(w string) {
		if !seen[w] && len(out) < maxRecordWords {
			seen[w] = true
			out = append(out, w)
		}
	}
	for _, field := range []string{r.GetExternalReference().GetExternalId(), b.GetIsbn(), b.GetIssn(),
		b.GetTitle(), b.GetAuthor(), b.GetArticleTitle(), b.GetArticleAuthor()} {
		for _, c := range compounds(field) {
			if len(c) > 1 {
				add(joined(c))
			}
			for _, p := range c {
				add(p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// QueryWords are the words a query must all match: each part of a plain word, the
// joined form of a compound; distinct, in query order.
func QueryWords(q string) []string {
	var out []string
	for _, c := range compounds(q) {
		if w := joined(c); !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}
