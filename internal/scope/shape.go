package scope

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/dirsync/dirsync/internal/directory"
)

// Shape applies the import options to an in-scope user: the username
// normalized if asked, and phones either kept as the source spells them
// (ImportPhones off: plain directory attributes) or validated and formatted
// E.164 for an application that calls or texts them. An invalid number is never imported: it is
// dropped and described in the problems, which the run report shows. The
// input is not modified.
func (s Settings) Shape(u directory.SourceUser) (directory.SourceUser, []string) {
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
		p, note, err := FormatPhone(u.MobilePhone, region)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("mobile_phone %q: %v; not imported", u.MobilePhone, err))
		case note != "":
			problems = append(problems, fmt.Sprintf("mobile_phone %q: %s", u.MobilePhone, note))
		}
		u.MobilePhone = p
	}
	var business []string
	for i, raw := range u.BusinessPhones {
		p, note, err := FormatPhone(raw, region)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("business_phones[%d] %q: %v; not imported", i, raw, err))
		case note != "":
			problems = append(problems, fmt.Sprintf("business_phones[%d] %q: %s", i, raw, note))
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

// FormatPhone validates a phone number and formats it E.164. A number
// without a leading + and country code is read as a number of region
// (ISO 3166, e.g. "US"); with no region, it is refused. A valid number with
// an extension is kept without it (E.164 has none), and note says so. A
// blank number gives "" and no error.
func FormatPhone(raw, region string) (e164, note string, err error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "", nil
	}
	if region == "" && !strings.HasPrefix(raw, "+") {
		return "", "", errors.New("no country code (+) and no phone_region set")
	}
	num, err := phonenumbers.Parse(raw, region)
	if err != nil {
		return "", "", fmt.Errorf("not a phone number (%v)", err)
	}
	if !phonenumbers.IsValidNumber(num) {
		if region != "" && !strings.HasPrefix(raw, "+") {
			return "", "", fmt.Errorf("not a valid number for region %s", region)
		}
		return "", "", errors.New("not a valid number")
	}
	e164 = phonenumbers.Format(num, phonenumbers.E164)
	if ext := num.GetExtension(); ext != "" {
		note = fmt.Sprintf("extension %s dropped; imported as %s", ext, e164)
	}
	return e164, note, nil
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
