package directory

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// What a search of the account's users finds, in the console, the API
// (GET /users?search=) and the CLI (users list --search): a user is found
// when every word of the search text begins one of the user's words, in
// any order and case. A user's words are those of the username, the email
// and the display name, split as Microsoft Graph's tokenized $search splits
// a displayName: on spaces and symbols, where lower case turns upper
// ("McDonald" gives mc and donald), and between letters and digits; the
// letters and digits of each space-separated part of the display name, and
// of the username's and email's part before the @, also count as one word
// ("O'Brien" gives obrien, "john.smith@contoso.com" johnsmith).
// So "smi" finds John Smith, "john sm" and "smith john" find him too,
// "j.smith@con" finds john.smith@contoso.com, and "mith" finds nobody: a
// word-prefix search an index answers at any directory size, where a
// substring search reads every user.

// MaxWordLen bounds a stored or searched word, in runes: a longer one is
// cut (a search word longer than it still finds what begins with its cut).
const MaxWordLen = 64

// SearchWords are the words a search finds the user by, lower case, each
// once, sorted.
func SearchWords(a UserAttributes) []string {
	var out []string
	for _, s := range []string{a.Username, a.Email, a.DisplayName} {
		out = append(out, splitWords(s)...)
	}
	for _, s := range []string{localPart(a.Username), localPart(a.Email), a.DisplayName} {
		out = append(out, joinedWords(s)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// QueryWords are the words of a search text, lower case, each once; a word
// another word of the text begins is dropped (it finds nothing more). No
// words (the text is only spaces and symbols) finds nobody.
func QueryWords(q string) []string {
	words := splitWords(q)
	slices.Sort(words)
	words = slices.Compact(words)
	out := words[:0]
	for i, w := range words {
		// Sorted, a word that begins another is just before it.
		if i+1 < len(words) && strings.HasPrefix(words[i+1], w) {
			continue
		}
		out = append(out, w)
	}
	return out
}

// splitWords splits s on spaces and symbols, a lower-to-upper case change
// and a letter-digit change, lower case.
func splitWords(s string) []string {
	var (
		out  []string
		cur  []rune
		prev rune
	)
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cut(strings.ToLower(string(cur))))
			cur = cur[:0]
		}
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush()
			prev = r
			continue
		}
		if len(cur) > 0 && (unicode.IsLower(prev) && unicode.IsUpper(r) || unicode.IsDigit(prev) != unicode.IsDigit(r)) {
			flush()
		}
		cur = append(cur, r)
		prev = r
	}
	flush()
	return out
}

// joinedWords are the letters and digits of each space-separated part of
// s, when the part holds more than one word.
func joinedWords(s string) []string {
	var out []string
	for _, field := range strings.Fields(s) {
		if len(splitWords(field)) < 2 {
			continue
		}
		j := strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				return r
			}
			return -1
		}, field)
		out = append(out, cut(strings.ToLower(j)))
	}
	return out
}

// localPart is what comes before an address's @ (all of it without one).
func localPart(addr string) string {
	local, _, _ := strings.Cut(addr, "@")
	return local
}

// cut shortens w to MaxWordLen runes.
func cut(w string) string {
	if utf8.RuneCountInString(w) <= MaxWordLen {
		return w
	}
	return string([]rune(w)[:MaxWordLen])
}
