// Package scope holds a source's scope rules and import options: which of
// the source's users and groups come into the directory, and how they are
// shaped on the way in. It is pure: no I/O, no clock. The sync engine asks
// it about each object of a run; the CLI parses, validates and shows it.
//
// # Which users are in scope
//
// Decide answers for one user, checking in this order and giving the first
// reason that applies:
//
//  1. Picks. A user in PickedUsers is in scope whatever the group filter and
//     the rules say (a pick names one person on purpose; rules are broad),
//     and goes straight to step 4.
//  2. The group filter. With mode all, every user of the source passes. With
//     flatten or nested, only members of the selected groups, nested groups
//     included, pass: "not in a selected group".
//  3. The user rules. Exclude rules win over include rules: a user matching
//     any exclude rule is out ("excluded by rule 2: user_type equals
//     Guest"). If there are include rules, a user must then match at least
//     one ("matches no include rule (rules 1, 3)"). Rules are numbered from 1
//     in the order they are listed; their order only decides which rule a
//     reason names.
//  4. Requirements, which apply to picks too because they say what the
//     application needs: RequireLicense ("no active license": no assigned
//     license at all), then an email address when RequireEmail ("no email
//     address"; the UPN is not used in its place).
//
// Disabled users stay in scope: they come in disabled, as the lifecycle
// wants. A rule on enabled can still exclude them.
//
// # Groups
//
// The group filter's mode also says which groups are created locally:
// all of the source's groups (all), the selected groups only, each with the
// members of its nested groups as direct members (flatten, as Duo does), or
// the selected groups and the groups nested in them, structure kept
// (nested). GroupClosure and FlattenMembers compute the reach of a
// selection from the source's direct memberships. Explicit group picks are
// the selected groups of mode nested (or flatten): picking a group and
// selecting it are the same act. A scope of picked users only is mode
// nested with no selected group and some picked users.
//
// # Defaults
//
// The zero Settings means: all users and groups; an email address required;
// no license required; usernames as the source reports them; no phones;
// no tags (tag mode append); existing users updated; deletions processed;
// existing users matched by username, then email; a run stopped before
// it disables or deletes more than 500 objects or more than 20% of the
// source's objects; and a full reconciliation at least every day (sources
// whose incremental reads do not report deletions) or week (the others). Every field's zero value is its default, so a source
// saved before a field existed keeps the behaviour it had.
package scope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
)

// Settings are a source's scope rules and import options, stored as JSON
// with the source. The zero value is a valid default; see the package doc.
type Settings struct {
	// Which objects come in.

	// Groups is the group filter.
	Groups GroupFilter `json:"groups"`
	// UserRules include or exclude users by attribute, in the order of the
	// package doc.
	UserRules []Rule `json:"user_rules,omitempty"`
	// PickedUsers are external ids of users always in scope, whatever the
	// group filter and the rules say (Password Depot's picks).
	PickedUsers []string `json:"picked_users,omitempty"`
	// RequireLicense leaves out users without an assigned license
	// (Security Center).
	RequireLicense bool `json:"require_license"`
	// RequireEmail skips users without an email address with the reason
	// "no email address" (Sophos needs one for most of its workflows). Off
	// by default: a directory sync must not silently drop people, and many
	// tenants have users without mail.
	RequireEmail bool `json:"require_email"`

	// How they are shaped.

	// NormalizeUsernames makes the username the UPN's prefix (Duo); see
	// NormalizeUsername.
	NormalizeUsernames bool `json:"normalize_usernames"`
	// ImportPhones validates the mobile and business phones and formats them
	// E.164 (Duo), dropping and reporting invalid ones; without it they are
	// kept as the source spells them.
	ImportPhones bool `json:"import_phones"`
	// PhoneRegion is the region (ISO 3166 code, e.g. "US") of numbers
	// written without a leading + and country code. Without it such
	// numbers are dropped and reported.
	PhoneRegion string `json:"phone_region,omitempty"`
	// SendEnrollment mails each user the source imports active, with a
	// valid email address, not enrolled yet (and, with ImportPhones,
	// without a phone) an enrollment link, with reminders, as Duo's
	// "Enrollment email" does (package manage runs the cycle). Off by
	// default.
	SendEnrollment bool `json:"send_enrollment,omitempty"`
	// Tags are given to every user the source imports.
	Tags []string `json:"tags,omitempty"`
	// TagMode is TagAppend (the default) or TagReplace.
	TagMode TagMode `json:"tag_mode,omitempty"`
	// UpdateExisting, when false, makes a run only create users that do not
	// exist yet (a one-time import). Default true; read it with
	// UpdatesExisting.
	UpdateExisting *bool `json:"update_existing,omitempty"`
	// ProcessDeletions, when false, makes a run keep the objects that are
	// gone from the source or out of scope instead of sending them to the
	// trash ("check deleted objects" in Password Depot, unchecked). A user
	// disabled at the source is still disabled: that is an update, not a
	// deletion. Default true; read it with ProcessesDeletions.
	ProcessDeletions *bool `json:"process_deletions,omitempty"`
	// MatchOrder is the order in which a source user that is not linked yet
	// is matched to an existing user: MatchUsername, MatchEmail. The link by
	// anchor always comes first. Default username, then email; read it with
	// Matching.
	MatchOrder []string `json:"match_order,omitempty"`
	// DeletionLimit stops a run that would remove too much.
	DeletionLimit DeletionLimit `json:"deletion_limit"`
	// MaxCursorAge is how long incremental runs may build on the last full
	// reconciliation: the first run after it reconciles in full, whatever
	// was asked. A duration ("24h", "7d") or "off"; empty is the default,
	// 24h for a source whose connector cannot report deletions
	// incrementally and 7d for the others; read it with CursorAge.
	MaxCursorAge string `json:"max_cursor_age,omitempty"`
	// MaxRunTime bounds a run's total time, read and apply together: a
	// run still going after it fails, applying nothing, so that a source
	// that trickles or hangs cannot hold a worker. A duration ("90m",
	// "4h"); empty is DefaultMaxRunTime; read it with RunTime.
	MaxRunTime string `json:"max_run_time,omitempty"`
}

// GroupMode says how the group filter selects and shapes groups.
type GroupMode string

// Group filter modes; the empty mode is ModeAll.
const (
	// ModeAll takes every user and group of the source.
	ModeAll GroupMode = "all"
	// ModeFlatten takes the members of the selected groups, nested groups
	// included, and creates only the selected groups, each with all those
	// members as direct members (Duo).
	ModeFlatten GroupMode = "flatten"
	// ModeNested takes the members of the selected groups, nested groups
	// included, and creates the selected groups and the groups nested in
	// them, with their structure kept.
	ModeNested GroupMode = "nested"
)

// Limits of the group picker, as Duo has them.
const (
	// MaxSelectedGroups is how many groups a filter may select.
	MaxSelectedGroups = 400
	// MaxSearchResults is how many groups a search of the picker returns;
	// type more of the name to find one beyond them.
	MaxSearchResults = 100
)

// GroupFilter selects the source's groups whose members come in.
type GroupFilter struct {
	// Mode is ModeAll (the default), ModeFlatten or ModeNested.
	Mode GroupMode `json:"mode,omitempty"`
	// Selected are the external ids of the selected groups, at most
	// MaxSelectedGroups; empty with ModeAll.
	Selected []string `json:"selected,omitempty"`
}

// EffectiveMode is the mode, with the default filled in.
func (g GroupFilter) EffectiveMode() GroupMode {
	if g.Mode == "" {
		return ModeAll
	}
	return g.Mode
}

// All reports whether the filter takes every user and group.
func (g GroupFilter) All() bool { return g.EffectiveMode() == ModeAll }

// TagMode says how a source's tags meet a user's existing tags.
type TagMode string

// Tag modes; the empty mode is TagAppend.
const (
	TagAppend  TagMode = "append"
	TagReplace TagMode = "replace"
)

// Match keys for MatchOrder.
const (
	MatchUsername = "username"
	MatchEmail    = "email"
)

// UpdatesExisting reports whether a run updates users that already exist.
func (s Settings) UpdatesExisting() bool { return s.UpdateExisting == nil || *s.UpdateExisting }

// ProcessesDeletions reports whether a run sends objects gone from the
// source or out of scope to the trash.
func (s Settings) ProcessesDeletions() bool {
	return s.ProcessDeletions == nil || *s.ProcessDeletions
}

// Matching is the order in which an unlinked source user is matched to an
// existing user, after the anchor.
func (s Settings) Matching() []string {
	if len(s.MatchOrder) == 0 {
		return []string{MatchUsername, MatchEmail}
	}
	return slices.Clone(s.MatchOrder)
}

// Parse reads settings stored as JSON, refusing unknown fields (a typo
// would otherwise silently widen the scope) and invalid settings. Empty
// input is the zero Settings.
func Parse(data []byte) (Settings, error) {
	var s Settings
	if len(bytes.TrimSpace(data)) == 0 {
		return s, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("scope: parse settings: %w", err)
	}
	if dec.More() {
		return Settings{}, errors.New("scope: parse settings: trailing data after the JSON object")
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// Validate checks the settings and returns every problem at once, each
// naming its field: `user_rules[1] (rule 2): attribute: unknown attribute
// "dept"; known: ...`.
func (s Settings) Validate() error {
	var p problems
	s.checkScope(&p)
	s.checkShape(&p)
	for i, k := range s.MatchOrder {
		field := fmt.Sprintf("match_order[%d]", i)
		switch {
		case k != MatchUsername && k != MatchEmail:
			p.add(field, "unknown key %q; want %s or %s", k, MatchUsername, MatchEmail)
		case slices.Index(s.MatchOrder, k) < i:
			p.add(field, "%q listed twice", k)
		}
	}
	if s.DeletionLimit.MaxObjects < 0 {
		p.add("deletion_limit.max_objects", "%d is negative; 0 means the default %d", s.DeletionLimit.MaxObjects, DefaultMaxObjects)
	}
	if pc := s.DeletionLimit.MaxPercent; pc < 0 || pc > 100 {
		p.add("deletion_limit.max_percent", "%d is not between 0 and 100; 0 means the default %d", pc, DefaultMaxPercent)
	}
	if _, err := ParseCursorAge(s.MaxCursorAge); err != nil {
		p.add("max_cursor_age", "%v", err)
	}
	if _, err := ParseRunTime(s.MaxRunTime); err != nil {
		p.add("max_run_time", "%v", err)
	}
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("scope: invalid settings: %w", errors.Join(p...))
}

// problems gathers what Validate finds, each naming its field.
type problems []error

func (p *problems) add(field string, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// checkScope checks which objects come in: the group filter, the rules,
// the picks.
func (s Settings) checkScope(p *problems) {
	switch mode := s.Groups.EffectiveMode(); mode {
	case ModeAll:
		if len(s.Groups.Selected) > 0 {
			p.add("groups.selected", "%d groups selected but groups.mode is all; set mode to flatten or nested, or clear the selection", len(s.Groups.Selected))
		}
	case ModeFlatten, ModeNested:
		if len(s.Groups.Selected) == 0 && len(s.PickedUsers) == 0 {
			// Nothing would be in scope: every user would fall out and
			// head for deletion.
			p.add("groups.selected", "mode %s with no selected group and no picked user puts nobody in scope", mode)
		}
		if len(s.Groups.Selected) > MaxSelectedGroups {
			p.add("groups.selected", "%d groups selected; at most %d", len(s.Groups.Selected), MaxSelectedGroups)
		}
	default:
		p.add("groups.mode", "unknown mode %q; want all, flatten or nested", s.Groups.Mode)
	}
	*p = append(*p, checkIDs("groups.selected", s.Groups.Selected)...)
	for i, r := range s.UserRules {
		if err := r.validate(); err != nil {
			for _, e := range unjoin(err) {
				*p = append(*p, fmt.Errorf("user_rules[%d] (rule %d): %w", i, i+1, e))
			}
		}
	}
	*p = append(*p, checkIDs("picked_users", s.PickedUsers)...)
}

// checkShape checks how they are shaped: phones and tags.
func (s Settings) checkShape(p *problems) {
	if s.PhoneRegion != "" && !KnownPhoneRegion(s.PhoneRegion) {
		p.add("phone_region", "unknown region %q; want an ISO 3166 code such as US, GB or DE", s.PhoneRegion)
	}
	seen := map[string]int{}
	for i, t := range s.Tags {
		switch {
		case strings.TrimSpace(t) == "":
			p.add(fmt.Sprintf("tags[%d]", i), "empty tag")
		case strings.TrimSpace(t) != t:
			p.add(fmt.Sprintf("tags[%d]", i), "%q has leading or trailing spaces", t)
		default:
			if j, dup := seen[strings.ToLower(t)]; dup {
				p.add(fmt.Sprintf("tags[%d]", i), "%q repeats tags[%d]", t, j)
			}
			seen[strings.ToLower(t)] = i
		}
	}
	switch s.TagMode {
	case "", TagAppend:
	case TagReplace:
		if len(s.Tags) == 0 {
			p.add("tag_mode", "replace with no tags would remove every tag of every imported user; add tags or use append")
		}
	default:
		p.add("tag_mode", "unknown mode %q; want append or replace", s.TagMode)
	}
}

// unjoin splits an errors.Join result so each part gets its own prefix.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func checkIDs(field string, ids []string) []error {
	var errs []error
	seen := make(map[string]int, len(ids))
	for i, id := range ids {
		if strings.TrimSpace(id) == "" {
			errs = append(errs, fmt.Errorf("%s[%d]: empty id", field, i))
			continue
		}
		if j, dup := seen[id]; dup {
			errs = append(errs, fmt.Errorf("%s[%d]: %q repeats %s[%d]", field, i, id, field, j))
			continue
		}
		seen[id] = i
	}
	return errs
}

// Decide says whether a user is in scope and, if not, why, in the order of
// the package doc: a stable code (directory.Skip*) and a message for
// people. inSelectedGroups says whether the group filter's selection
// reaches the user (see GroupClosure); it is ignored with ModeAll. The
// code and reason are empty when the user is in.
func (s Settings) Decide(u directory.SourceUser, inSelectedGroups bool) (in bool, code, reason string) {
	picked := slices.Contains(s.PickedUsers, u.ExternalID)
	if !picked {
		if !s.Groups.All() && !inSelectedGroups {
			return false, directory.SkipNotInSelectedGroup, "not in a selected group"
		}
		if code, why := s.ruleVerdict(u); why != "" {
			return false, code, why
		}
	}
	if s.RequireLicense && len(u.Licenses) == 0 {
		return false, directory.SkipUnlicensed, "no active license"
	}
	if s.RequireEmail && strings.TrimSpace(u.Email) == "" {
		return false, directory.SkipNoEmail, "no email address"
	}
	return true, "", ""
}

// ruleVerdict applies the user rules: excludes first, then includes. It
// returns the code and reason a user is out, or "".
func (s Settings) ruleVerdict(u directory.SourceUser) (code, reason string) {
	var includes []string
	for i, r := range s.UserRules {
		if r.Action == Exclude && r.Matches(u) {
			return directory.SkipExcludedByRule, fmt.Sprintf("excluded by rule %d: %s", i+1, r.Condition())
		}
	}
	for i, r := range s.UserRules {
		if r.Action != Include {
			continue
		}
		if r.Matches(u) {
			return "", ""
		}
		includes = append(includes, strconv.Itoa(i+1))
	}
	switch len(includes) {
	case 0:
		return "", ""
	case 1:
		return directory.SkipNoIncludeRuleMatch, "matches no include rule (rule " + includes[0] + ")"
	}
	return directory.SkipNoIncludeRuleMatch, "matches no include rule (rules " + strings.Join(includes, ", ") + ")"
}
