package scope

import (
	"fmt"
	"strings"
)

// maxListed is how many ids a description lists before it only counts.
const maxListed = 10

// Describe states the settings as sentences for `dirsync source show`:
// first the scope, in the order Decide evaluates it, then how users are
// shaped, then the safeguards.
func (s Settings) Describe() []string {
	return append(s.describeScope(), s.describeShape()...)
}

// describeScope says which users are in scope, in evaluation order.
func (s Settings) describeScope() []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if len(s.PickedUsers) > 0 {
		add("1. Picked users are in scope whatever the group filter and rules say (%d: %s); they still need the requirements below.",
			len(s.PickedUsers), list(s.PickedUsers))
	} else {
		add("1. Picked users: none.")
	}
	switch s.Groups.EffectiveMode() {
	case ModeAll:
		add("2. Groups: all users and groups of the source.")
	case ModeFlatten:
		add("2. Groups: only members of the %d selected groups (%s), nested groups included; only the selected groups are created, each with all those members as direct members (flatten).",
			len(s.Groups.Selected), list(s.Groups.Selected))
	case ModeNested:
		add("2. Groups: only members of the %d selected groups (%s), nested groups included; the selected groups and the groups nested in them are created with their structure kept (nested).",
			len(s.Groups.Selected), list(s.Groups.Selected))
	default:
		add("2. Groups: unknown mode %q.", s.Groups.Mode)
	}
	if len(s.UserRules) == 0 {
		add("3. User rules: none.")
	} else {
		add("3. User rules: a user matching any exclude rule is out; then, if there are include rules, a user must match one of them.")
		for i, r := range s.UserRules {
			add("   Rule %d: %s users whose %s.  [%s]", i+1, r.Action, r.Condition(), r)
		}
	}
	req := "4. Requirements: "
	if s.RequireLicense {
		req += "users without an active license are left out; "
	} else {
		req += "no license needed; "
	}
	if s.RequireEmail {
		req += "users without an email address are skipped."
	} else {
		req += "users without an email address come in."
	}
	add("%s", req)
	return out
}

// describeShape says how users are shaped, and the safeguards.
func (s Settings) describeShape() []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if s.NormalizeUsernames {
		add("Usernames: the UPN's prefix, before the @ (before #EXT# for guests).")
	} else {
		add("Usernames: the UPN as the source reports it.")
	}
	switch {
	case !s.ImportPhones:
		add("Phones: kept as the source spells them, not validated.")
	case s.PhoneRegion != "":
		add("Phones: mobile and business phones imported as E.164; numbers without + are read as %s numbers; invalid numbers are dropped and reported.", strings.ToUpper(s.PhoneRegion))
	default:
		add("Phones: mobile and business phones imported as E.164; numbers without + and invalid numbers are dropped and reported.")
	}
	if s.SendEnrollment {
		if s.ImportPhones {
			add("Enrollment email: sent to imported users who are active, have an email address, have not enrolled and have no phone.")
		} else {
			add("Enrollment email: sent to imported users who are active, have an email address and have not enrolled.")
		}
	}
	switch {
	case len(s.Tags) == 0 && s.TagMode != TagReplace:
		add("Tags: none added.")
	case s.TagMode == TagReplace:
		add("Tags: %s, replacing each imported user's tags.", strings.Join(s.Tags, ", "))
	default:
		add("Tags: %s, added to each imported user's tags.", strings.Join(s.Tags, ", "))
	}
	if s.UpdatesExisting() {
		add("Existing users: updated.")
	} else {
		add("Existing users: left as they are; only new users are created.")
	}
	add("Matching: by source anchor, then %s.", strings.Join(s.Matching(), ", then "))

	// Safeguards.
	if s.ProcessesDeletions() {
		add("Deletions: users and groups gone from the source or out of scope go to the trash.")
	} else {
		add("Deletions: not processed; users and groups gone from the source or out of scope are kept.")
	}
	add("Deletion limit: a run that would disable or delete more than %d objects or more than %d%% of the source's objects stops and applies nothing.",
		s.DeletionLimit.Objects(), s.DeletionLimit.Percent())
	add("%s", s.describeCursorAge())
	add("%s", s.describeRunTime())
	return out
}

// String is the description, one sentence a line.
func (s Settings) String() string { return strings.Join(s.Describe(), "\n") }

func list(ids []string) string {
	if len(ids) <= maxListed {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:maxListed], ", "), len(ids)-maxListed)
}
