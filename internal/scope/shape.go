package scope

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
)

// Problem is what Shape left out or changed of an in-scope user, which
// the run counts as a warning: a stable code (directory.Warn*), a message
// that is the same for every user with the problem, and the detail of
// this user's (the value, what was wrong with it).
type Problem struct {
	Code    string
	Message string
	Detail  string
}

// Shape applies the import options to an in-scope user: the username
// normalized if asked, and phones either kept as the source spells them
// (ImportPhones off: plain directory attributes) or validated by phones
// and formatted E.164 for an application that calls or texts them. An
// invalid number is never imported: it is dropped and described in the
// problems, which the run report shows. The input is not modified.
// phones may be nil only when ImportPhones is off.
func (s Settings) Shape(u directory.SourceUser, phones Phones) (directory.SourceUser, []Problem) {
	var problems []Problem
	if s.NormalizeUsernames {
		if n := NormalizeUsername(u.Username); n != "" {
			u.Username = n
		} else if u.Username != "" {
			problems = append(problems, Problem{directory.WarnUsernameNotNormalized, "username has an empty prefix; kept as is",
				fmt.Sprintf("username %q has an empty prefix; kept as is", u.Username)})
		}
	}
	if !s.ImportPhones {
		return u, problems
	}
	region := strings.ToUpper(s.PhoneRegion)
	if u.MobilePhone != "" {
		p, problem := formatPhone(phones, string(directory.UserMobilePhone), string(directory.UserMobilePhone), u.MobilePhone, region)
		problems = appendProblem(problems, problem)
		u.MobilePhone = p
	}
	var business []string
	for i, raw := range u.BusinessPhones {
		p, problem := formatPhone(phones, string(directory.UserBusinessPhones), fmt.Sprintf("%s[%d]", directory.UserBusinessPhones, i), raw, region)
		problems = appendProblem(problems, problem)
		// Two spellings of one number are one phone.
		if p != "" && !slices.Contains(business, p) {
			business = append(business, p)
		}
	}
	u.BusinessPhones = business
	return u, problems
}

// formatPhone formats one phone of field (named where in the user's),
// with the problem it had if any.
func formatPhone(phones Phones, field, where, raw, region string) (string, *Problem) {
	p, note, err := phones.Format(raw, region)
	switch {
	case err != nil:
		return p, &Problem{directory.WarnInvalidPhone, field + " not imported: not a valid phone number",
			fmt.Sprintf("%s %q: %v; not imported", where, raw, err)}
	case note != "":
		return p, &Problem{directory.WarnPhoneExtensionDropped, field + " imported without its extension",
			fmt.Sprintf("%s %q: %s", where, raw, note)}
	}
	return p, nil
}

func appendProblem(problems []Problem, p *Problem) []Problem {
	if p == nil {
		return problems
	}
	return append(problems, *p)
}

// NormalizeUsername returns the prefix of a UPN: the part before its last
// @. A guest's UPN, such as "alice_contoso.com#EXT#@fabrikam.onmicrosoft.com",
// gives the part before #EXT#, "alice_contoso.com": it is the guest's home
// address in the tenant's spelling, unique in the tenant, and it does not
// collide with a member "alice" of the tenant. A name without @ is returned
// as is; an empty prefix gives "".
func NormalizeUsername(upn string) string {
	at := strings.LastIndexByte(upn, '@')
	if at < 0 {
		return upn
	}
	prefix := upn[:at]
	if i := strings.Index(strings.ToUpper(prefix), "#EXT#"); i >= 0 {
		prefix = prefix[:i]
	}
	return prefix
}

// ApplyTags returns the tags a user ends with, given their current tags:
// the current tags followed by the source's (TagAppend), or the source's
// alone (TagReplace). The result has no duplicates; tags that differ only
// in case are one tag, spelled as first seen.
func (s Settings) ApplyTags(current []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(tags []string) {
		for _, t := range tags {
			k := strings.ToLower(strings.TrimSpace(t))
			if k == "" || seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, t)
		}
	}
	if s.TagMode != TagReplace {
		add(current)
	}
	add(s.Tags)
	return out
}
