package directory

import (
	"cmp"
	"encoding/json"
	"slices"
)

// Skip codes say why a run did not import a source object. They are
// stable (programs may rely on them); the message beside each is for
// people and may change.
const (
	// Out of the source's scope (scope.Decide).
	SkipNotInSelectedGroup = "not_in_selected_group"
	SkipExcludedByRule     = "excluded_by_rule"
	SkipNoIncludeRuleMatch = "no_include_rule_match"
	SkipUnlicensed         = "unlicensed"
	SkipNoEmail            = "no_email"
	// Refused as read.
	SkipAttributeTooLong = "attribute_too_long" // an attribute or id over its size limit
	SkipNoUsername       = "no_username"
	SkipNoAnchor         = "no_anchor"
	// Group members the directory does not hold.
	SkipNonDirectoryMember = "non_directory_member"  // a device, contact, service principal, foreign security principal
	SkipMemberOutsideBase  = "member_outside_source" // a user or group outside the source's base
	SkipMemberNotFound     = "member_not_found"
	// A connector's skip without a code.
	SkipOther = "other"
)

// Warning codes say what part of an imported object was left out or
// changed on the way in.
const (
	WarnInvalidPhone          = "invalid_phone"           // not imported
	WarnPhoneExtensionDropped = "phone_extension_dropped" // imported without it
	WarnUsernameNotNormalized = "username_not_normalized" // kept as is
)

// SkipReason counts the objects a run skipped (or warned about) for one
// reason.
type SkipReason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Count   int    `json:"count"`
}

// Reasons are a run's skip reasons or warnings, one entry per code and
// message, sorted by code then message, so that a run reads the same
// however its source's pages arrived.
type Reasons []SkipReason

// Add counts n more objects for a reason.
func (rs *Reasons) Add(code, message string, n int) {
	i, found := slices.BinarySearchFunc(*rs, SkipReason{Code: code, Message: message}, func(a, b SkipReason) int {
		return cmp.Or(cmp.Compare(a.Code, b.Code), cmp.Compare(a.Message, b.Message))
	})
	if !found {
		*rs = slices.Insert(*rs, i, SkipReason{Code: code, Message: message})
	}
	(*rs)[i].Count += n
}

// Total is the sum of the counts.
func (rs Reasons) Total() int {
	n := 0
	for _, r := range rs {
		n += r.Count
	}
	return n
}

// ByMessage is the counts by message alone: the run's Skips.
func (rs Reasons) ByMessage() map[string]int {
	if len(rs) == 0 {
		return nil
	}
	m := make(map[string]int, len(rs))
	for _, r := range rs {
		m[r.Message] += r.Count
	}
	return m
}

// MarshalJSON writes no reasons as [], not null: every list is a list.
func (rs Reasons) MarshalJSON() ([]byte, error) {
	if rs == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]SkipReason(rs))
}

// Skip counts n source objects the run did not import, for one reason:
// in Counts.Skipped, SkipReasons and Skips alike, so they always agree.
func (r *Run) Skip(code, message string, n int) {
	r.Counts.Skipped += n
	r.SkipReasons.Add(code, message, n)
	if r.Skips == nil {
		r.Skips = map[string]int{}
	}
	r.Skips[message] += n
}

// Warn counts n problems with objects the run imported, for one reason,
// in Counts.Warnings and Warnings alike.
func (r *Run) Warn(code, message string, n int) {
	r.Counts.Warnings += n
	r.Warnings.Add(code, message, n)
}
