package odata

import (
	"fmt"
	"strings"
	"unicode"
)

// $search: "property:text" clauses joined by AND and OR, tokenized on
// displayName and description, startsWith on other properties; it always
// needs ConsistencyLevel: eventual.

// Search is a parsed $search: clauses in groups, the groups joined by OR and
// the clauses of a group by AND.
type Search struct {
	groups [][]clause
}

type clause struct {
	prop, text string
}

// ParseSearch parses `"displayName:foo" AND "mail:bar" OR "..."`.
func ParseSearch(s string) (*Search, error) {
	spec := &Search{groups: [][]clause{nil}}
	rest := strings.TrimSpace(s)
	expectClause := true
	for rest != "" {
		if !expectClause {
			word, after, _ := strings.Cut(rest, " ")
			rest = strings.TrimSpace(after)
			switch strings.ToUpper(word) {
			case "AND":
			case "OR":
				spec.groups = append(spec.groups, nil)
			default:
				return nil, fmt.Errorf("expected AND or OR in $search, found '%s'", word)
			}
			expectClause = true
			continue
		}
		c, after, err := parseClause(rest)
		if err != nil {
			return nil, err
		}
		g := &spec.groups[len(spec.groups)-1]
		*g = append(*g, c)
		rest, expectClause = after, false
	}
	if expectClause {
		return nil, fmt.Errorf("$search ends without a clause")
	}
	return spec, nil
}

// parseClause reads one quoted "property:text" clause.
func parseClause(s string) (clause, string, error) {
	if s[0] != '"' {
		return clause{}, "", fmt.Errorf("a $search clause must be quoted: \"property:value\"")
	}
	end := strings.IndexByte(s[1:], '"')
	if end < 0 {
		return clause{}, "", fmt.Errorf("unterminated $search clause")
	}
	prop, text, ok := strings.Cut(s[1:end+1], ":")
	if !ok || prop == "" {
		return clause{}, "", fmt.Errorf("a $search clause needs a property: \"property:value\"")
	}
	return clause{prop: strings.TrimSpace(prop), text: strings.TrimSpace(text)}, strings.TrimSpace(s[end+2:]), nil
}

// Props are the property names the search reads.
func (s *Search) Props() []string {
	var out []string
	for _, g := range s.groups {
		for _, c := range g {
			out = append(out, c.prop)
		}
	}
	return out
}

// Match reports whether the object get reads is found by the search.
func (s *Search) Match(get Getter) bool {
	for _, g := range s.groups {
		all := true
		for _, c := range g {
			if !c.match(get) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (c clause) match(get Getter) bool {
	v, ok := get(c.prop)
	if !ok {
		return false
	}
	values := v.SS
	if v.Kind == String {
		values = []string{v.S}
	}
	lp := strings.ToLower(c.prop)
	tokenized := lp == "displayname" || lp == "description"
	for _, val := range values {
		switch {
		case val == "":
		case tokenized:
			if tokensMatch(Tokens(val), Tokens(c.text)) {
				return true
			}
		case strings.HasPrefix(strings.ToLower(val), strings.ToLower(c.text)):
			return true
		}
	}
	return false
}

// tokensMatch reports whether every query token is a prefix of some value
// token, in any order.
func tokensMatch(value, query []string) bool {
	for _, q := range query {
		found := false
		for _, v := range value {
			if strings.HasPrefix(v, q) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Tokens splits text as Graph's tokenized search does: on spaces and
// symbols, on a change from lower to upper case, and between letters and
// digits; tokens are compared in lower case. Words joined only by symbols
// also match joined ("hello.world" gives helloworld too).
func Tokens(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	var prev rune
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if len(cur) > 0 && (unicode.IsLower(prev) && unicode.IsUpper(r) || unicode.IsDigit(prev) != unicode.IsDigit(r)) {
				flush()
			}
			cur = append(cur, r)
		default:
			flush()
		}
		prev = r
	}
	flush()
	return append(out, joinedWords(s)...)
}

// joinedWords are the words of s with their symbols dropped ("o'brien"
// gives obrien).
func joinedWords(s string) []string {
	var out []string
	for _, field := range strings.Fields(s) {
		var joined []rune
		for _, r := range field {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				joined = append(joined, r)
			}
		}
		if j := strings.ToLower(string(joined)); j != "" {
			out = append(out, j)
		}
	}
	return out
}
