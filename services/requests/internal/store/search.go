package store

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

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

// compounds splits s into compounds, each a list of its hyphen-joined parts. The words
// are cut from the normalized, lowered text rather than built rune by rune: an ingest
// splits every request's title and author, in the ledger's write transaction.
func compounds(s string) [][]string {
	s = strings.ToLower(norm.NFC.String(s)) // both return s itself when it is so already
	var out [][]string
	var cur []string
	start, end, runes := -1, 0, 0 // the current word: first byte, end of its first maxWordRunes runes, runes
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		if isWordRune(r) {
			if start < 0 {
				start, runes = i, 0
			}
			if runes < maxWordRunes {
				runes++
				end = i + size
			}
			i += size
			continue
		}
		inWord := start >= 0
		if inWord {
			cur = append(cur, s[start:end])
			start = -1
		}
		i += size
		if isHyphen(r) && inWord {
			// A hyphen after a word joins it to the next one; if no word follows, what
			// does ends the compound anyway.
			continue
		}
		if len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	if start >= 0 {
		cur = append(cur, s[start:end])
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func isHyphen(r rune) bool { return r == '-' || r == '‐' || r == '‑' }

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

func joined(parts []string) string {
	j := strings.Join(parts, "")
	if len(j) <= maxWordRunes {
		return j // no more runes than bytes
	}
	if r := []rune(j); len(r) > maxWordRunes {
		j = string(r[:maxWordRunes])
	}
	return j
}

// indexWords are a request's search words: title, author, article title and author,
// external id, ISBN and ISSN; distinct and sorted.
func indexWords(r *requestsv1.BorrowingRequest) []string {
	b := r.GetBibliographic()
	var words []string // in order of appearance, repeats included
	for _, field := range [...]string{r.GetExternalReference().GetExternalId(), b.GetIsbn(), b.GetIssn(),
		b.GetTitle(), b.GetAuthor(), b.GetArticleTitle(), b.GetArticleAuthor()} {
		for _, c := range compounds(field) {
			if len(c) > 1 {
				words = append(words, joined(c))
			}
			words = append(words, c...)
		}
	}
	if len(words) > maxRecordWords {
		// Possibly more distinct words than are indexed: the first ones are.
		seen := make(map[string]bool, maxRecordWords)
		distinct := words[:0]
		for _, w := range words {
			if !seen[w] && len(distinct) < maxRecordWords {
				seen[w] = true
				distinct = append(distinct, w)
			}
		}
		words = distinct
	}
	slices.Sort(words)
	return slices.Compact(words)
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
