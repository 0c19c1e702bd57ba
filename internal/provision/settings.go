// Package provision is dirsync's export engine, the mirror of the import
// one: it writes the users, groups and memberships of an account's Active
// Directory sources into an Entra ID tenant through Microsoft Graph, as
// Azure AD Connect does.
//
// A cycle reads the tenant's current state by delta (kept in the store, so
// that later cycles read only what changed), computes an export plan from
// the account's directory (create, update, disable, delete users; create,
// update, delete security groups; add and remove members), and applies it
// in $batch requests of 20 within Graph's write budget. Identity follows
// Azure AD Connect: the source anchor (ms-DS-ConsistencyGuid, else
// objectGUID) is written in base64 to onPremisesImmutableId; a cloud user
// is hard-matched on it, or soft-matched by UPN then mail when it has no
// anchor at all. Nothing is ever written to a cloud object dirsync did not
// create or match. Each object's failure is a sync error kept until it
// resolves; one bad object never stops the others.
package provision

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
)

// Defaults of Settings.
const (
	// DefaultDeletionThreshold is Azure AD Connect's export deletion
	// threshold: a cycle that would delete more objects stops.
	DefaultDeletionThreshold = 500
	// DefaultSchedule is Azure AD Connect's sync cycle interval.
	DefaultSchedule = "every 30m"
)

// Settings are a target's export options, stored as JSON with the target.
type Settings struct {
	// Sources are the ids of the account's sources whose users and groups
	// the target receives.
	Sources []string `json:"sources"`
	// Staging computes and records every plan but writes nothing.
	Staging bool `json:"staging"`
	// DeletionThreshold stops a cycle that would delete more objects than
	// this; 0 means DefaultDeletionThreshold.
	DeletionThreshold int `json:"deletion_threshold,omitempty"`
	// UsageLocation is the two-letter country code given to every user
	// (Entra needs one to assign licenses).
	UsageLocation string `json:"usage_location,omitempty"`
	// Flows override the default attribute flow table: a cloud attribute
	// to the directory attribute it takes, or "" for none.
	Flows map[string]string `json:"flows,omitempty"`
	// Schedule is when the target syncs under dirsync serve; empty means
	// DefaultSchedule.
	Schedule string `json:"schedule,omitempty"`
}

// ParseSettings reads stored settings; empty means the defaults.
func ParseSettings(b []byte) (Settings, error) {
	var s Settings
	if len(b) == 0 {
		return s, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("target settings: %w", err)
	}
	return s, nil
}

// Threshold is the deletion threshold in force.
func (s Settings) Threshold() int {
	if s.DeletionThreshold <= 0 {
		return DefaultDeletionThreshold
	}
	return s.DeletionThreshold
}

// ScheduleText is the schedule in force.
func (s Settings) ScheduleText() string {
	if s.Schedule == "" {
		return DefaultSchedule
	}
	return s.Schedule
}

var countryRE = regexp.MustCompile(`^[A-Z]{2}$`)

// SettingError is a setting that is wrong; Field names it.
type SettingError struct {
	Field   string
	Message string
}

func (e *SettingError) Error() string { return e.Message }

// Validate checks the settings that need nothing but themselves (the
// sources are manage's to check).
func (s Settings) Validate() error {
	if s.DeletionThreshold < 0 {
		return &SettingError{"deletion_threshold", fmt.Sprintf("deletion_threshold %d is negative: give a number of objects, 0 for the default %d", s.DeletionThreshold, DefaultDeletionThreshold)}
	}
	if s.UsageLocation != "" && !countryRE.MatchString(s.UsageLocation) {
		return &SettingError{"usage_location", fmt.Sprintf("usage_location %q is not a two-letter country code in capitals, such as US or FR", s.UsageLocation)}
	}
	for _, k := range mapKeys(s.Flows) {
		f, ok := flowByAttr(k)
		if !ok {
			return &SettingError{"flows", fmt.Sprintf("flow %q: Entra has no such user attribute dirsync writes; it writes %s", k, strings.Join(FlowAttributes(), ", "))}
		}
		v := s.Flows[k]
		if v == "" {
			if f.required {
				return &SettingError{"flows", fmt.Sprintf("flow %q cannot be turned off: Entra requires it", k)}
			}
			continue
		}
		if !slices.Contains(f.kinds, fieldKind(v)) {
			return &SettingError{"flows", fmt.Sprintf("flow %s=%s: %q is not a directory attribute this flow can take (%s)", k, v, v, strings.Join(sourceFieldsOf(f.kinds), ", "))}
		}
	}
	return nil
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fieldKind says whether a directory attribute is a string, a list or a
// boolean ("" when it is not one).
func fieldKind(name string) string {
	switch directory.UserField(name) {
	case directory.UserBusinessPhones, directory.UserProxyAddresses, directory.UserLicenses:
		return "list"
	case directory.UserEnabled:
		return "bool"
	}
	if slices.Contains(directory.UserFields, directory.UserField(name)) {
		return "string"
	}
	return ""
}

func sourceFieldsOf(kinds []string) []string {
	var out []string
	for _, f := range directory.UserFields {
		if slices.Contains(kinds, fieldKind(string(f))) {
			out = append(out, string(f))
		}
	}
	return out
}
