package scope

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
)

// Shape applies the import options to an in-scope user: the username
// normalized if asked, and phones either kept as the source spells them
// (ImportPhones off: plain directory attributes) or validated by phones
// and formatted E.164 for an application that calls or texts them. An
// invalid number is never imported: it is dropped and described in the
// problems, which the run report shows. The input is not modified.
// phones may be nil only when ImportPhones is off.
func (s Settings) Shape(u directory.SourceUser, phones Phones) (directory.SourceUser, []string) {
	var problems []string
	if s.NormalizeUsernames {
		if n := NormalizeUsername(u.Username); n != "" {
			u.Username = n
		} else if u.Username != "" {
			problems = append(problems, fmt.Sprintf("username %q has an empty prefix; kept as is", u.Username))
		}
	}
	if !s.ImportPhones {
		return u, problems
	}
	region := strings.ToUpper(s.PhoneRegion)
	if u.MobilePhone != "" {
		p, note, err := phones.Format(u.MobilePhone, region)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s %q: %v; not imported", directory.UserMobilePhone, u.MobilePhone, err))
		case note != "":
			problems = append(problems, fmt.Sprintf("%s %q: %s", directory.UserMobilePhone, u.MobilePhone, note))
		}
		u.MobilePhone = p
	}
	var business []string
	for i, raw := range u.BusinessPhones {
		p, note, err := phones.Format(raw, region)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s[%d] %q: %v; not imported", directory.UserBusinessPhones, i, raw, err))
		case note != "":
			problems = append(problems, fmt.Sprintf("%s[%d] %q: %s", directory.UserBusinessPhones, i, raw, note))
		}
		// Two spellings of one number are one phone.
		if p != "" && !slices.Contains(business, p) {
			business = append(business, p)
		}
	}
	u.BusinessPhones = business
	return u, problems
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
