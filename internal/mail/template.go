package mail

import (
	"html"
	"strings"
)

// Placeholders in administrators' templates are written in angle brackets,
// as Duo writes its <enrollment-link>: "<name>". Expand replaces the ones
// it is given values for and leaves any other text alone, so that the
// HTML of an HTML body is HTML still.

// Placeholder is a placeholder's text, "<name>" for "name".
func Placeholder(name string) string { return "<" + name + ">" }

// Expand fills the placeholders of text with vars (name -> value). For an
// HTML body (isHTML), values are escaped, so that a user's name cannot
// write markup into a mail.
func Expand(text string, vars map[string]string, isHTML bool) string {
	if len(vars) == 0 || !strings.Contains(text, "<") {
		return text
	}
	pairs := make([]string, 0, 2*len(vars))
	for name, v := range vars {
		if isHTML {
			v = html.EscapeString(v)
		}
		pairs = append(pairs, Placeholder(name), v)
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// OneLine makes a header value of s: line breaks become spaces, so that a
// value cannot add header fields.
func OneLine(s string) string {
	return strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(s)), " ")
}
