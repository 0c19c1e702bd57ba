package directory

import (
	"slices"
	"strings"
	"testing"
)

// found applies the rule the store's search implements with its index.
func found(a UserAttributes, q string) bool {
	words := SearchWords(a)
	qw := QueryWords(q)
	if len(qw) == 0 {
		return false
	}
	for _, w := range qw {
		if !slices.ContainsFunc(words, func(v string) bool { return strings.HasPrefix(v, w) }) {
			return false
		}
	}
	return true
}

func TestSearchWords(t *testing.T) {
	john := UserAttributes{Username: "john.smith@contoso.com", Email: "John.Smith@Contoso.com", DisplayName: "John Smith"}
	got := SearchWords(john)
	want := []string{"com", "contoso", "john", "johnsmith", "smith"}
	if !slices.Equal(got, want) {
		t.Errorf("SearchWords = %q, want %q", got, want)
	}
	mc := UserAttributes{Username: "rmcdonald", DisplayName: "Ronald McDonald", Email: "o'brien-2@x.io"}
	if got := SearchWords(mc); !slices.Contains(got, "mc") || !slices.Contains(got, "mcdonald") || !slices.Contains(got, "obrien2") || !slices.Contains(got, "2") {
		t.Errorf("SearchWords = %q: want mc, mcdonald, obrien2 and 2", got)
	}
	for q, want := range map[string]bool{
		"smi": true, "SMITH": true, "john sm": true, "smith john": true, "j.smith@con": true,
		"john.smith@contoso.com": true, "johnsm": true, "mith": false, "john doe": false,
		"": false, "@.": false, "contoso": true,
	} {
		if got := found(john, q); got != want {
			t.Errorf("%q finds John Smith: %v, want %v", q, got, want)
		}
	}
	for q, want := range map[string]bool{"mcdo": true, "McDo": true, "don": true, "ronald mc": true, "o'bri": true, "obri": true, "onald": false} {
		if got := found(mc, q); got != want {
			t.Errorf("%q finds Ronald McDonald: %v, want %v", q, got, want)
		}
	}
	seq := UserAttributes{Username: "user-077123@contoso.example", DisplayName: "User 077123"}
	for q, want := range map[string]bool{"user-077": true, "user 0771": true, "user-078": false, "77123": false} {
		if got := found(seq, q); got != want {
			t.Errorf("%q finds user-077123: %v, want %v", q, got, want)
		}
	}
}

func TestQueryWords(t *testing.T) {
	for q, want := range map[string][]string{
		"jo john":                {"john"},
		"Smith, John":            {"john", "smith"},
		"  ..@ ":                 nil,
		"user-077":               {"077", "user"},
		strings.Repeat("a", 100): {strings.Repeat("a", MaxWordLen)},
	} {
		if got := QueryWords(q); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("QueryWords(%q) = %q, want %q", q, got, want)
		}
	}
}
