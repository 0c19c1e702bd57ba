package directory

import (
	"encoding/json"
	"time"
)

// RunKind says how much of a source a run read.
type RunKind string

// Run kinds.
const (
	RunFull   RunKind = "full"
	RunDelta  RunKind = "delta"
	RunSingle RunKind = "single_user"
)

// Outcome is how a run ended.
type Outcome string

// Run outcomes. Only a run that succeeded applied anything. A run that
// stopped says why (a safety limit, a source that suddenly looks empty); a
// cancelled run was asked to end (an interrupt, a shutdown) or was refused
// before it started (its source turned off, the server shutting down), and
// says why; an interrupted run's process died (a crash, kill -9, a lost
// machine), found by the next run of its source once its lease ran out.
//
// A run requested through the service starts queued, and goes queued ->
// running -> its outcome.
const (
	OutcomeQueued      Outcome = "queued"
	OutcomeRunning     Outcome = "running"
	OutcomeSucceeded   Outcome = "succeeded"
	OutcomeFailed      Outcome = "failed"
	OutcomeStopped     Outcome = "stopped"
	OutcomeCancelled   Outcome = "cancelled"
	OutcomeInterrupted Outcome = "interrupted"
)

// Counts tallies what a run did to the directory.
type Counts struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Disabled  int `json:"disabled"`
	Enabled   int `json:"enabled"`
	Deleted   int `json:"deleted"`
	Restored  int `json:"restored"`
	Unchanged int `json:"unchanged"`
	// Skipped counts the source objects the run did not import: the sum
	// of the run's SkipReasons.
	Skipped   int `json:"skipped"`
	Conflicts int `json:"conflicts"`
	// Warnings counts problems with objects the run imported (a phone
	// number left out): the sum of the run's Warnings.
	Warnings int `json:"warnings"`
	// MembersAdded and MembersRemoved count direct memberships.
	MembersAdded   int `json:"members_added"`
	MembersRemoved int `json:"members_removed"`
}

// Run is one synchronization of one source.
type Run struct {
	ID         string    `json:"id"`
	AccountID  string    `json:"account_id"`
	SourceID   string    `json:"source_id"`
	Source     string    `json:"source"`
	Kind       RunKind   `json:"kind"`
	Trigger    string    `json:"trigger"` // cli, schedule, api
	DryRun     bool      `json:"dry_run,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Outcome    Outcome   `json:"outcome"`
	// Reason says why a run failed or stopped, or why it went full.
	Reason string `json:"reason,omitempty"`
	Counts Counts `json:"counts"`
	// Users and Groups count what the source reported.
	SourceUsers  int `json:"source_users"`
	SourceGroups int `json:"source_groups"`
	// Skips counts skipped source objects by reason message: SkipReasons
	// without the codes, kept for the clients of API v1 that read it.
	Skips map[string]int `json:"skips,omitempty"`
	// SkipReasons counts the source objects the run did not import, by
	// reason; their counts add up to Counts.Skipped.
	SkipReasons Reasons `json:"skip_reasons"`
	// Warnings counts the problems with objects the run imported, by
	// reason; their counts add up to Counts.Warnings.
	Warnings  Reasons `json:"warnings"`
	Requests  int     `json:"requests"`
	Throttled int     `json:"throttled"`
	// Slot is the scheduled time this run is for, when the schedule
	// queued it; zero for other runs (requests, retries). A source has at
	// most one run per slot, however many processes run its schedule.
	Slot time.Time `json:"slot,omitzero"`
}

// Duration is how long the run took: zero while it runs (or if its clock
// went backwards), never negative.
func (r Run) Duration() time.Duration {
	if r.FinishedAt.IsZero() || r.FinishedAt.Before(r.StartedAt) {
		return 0
	}
	return r.FinishedAt.Sub(r.StartedAt)
}

// ChangeAction is what a run did to one object.
type ChangeAction string

// Change actions.
const (
	ActionCreated       ChangeAction = "created"
	ActionUpdated       ChangeAction = "updated"
	ActionDisabled      ChangeAction = "disabled"
	ActionEnabled       ChangeAction = "enabled"
	ActionDeleted       ChangeAction = "deleted" // moved to the trash
	ActionRestored      ChangeAction = "restored"
	ActionConflict      ChangeAction = "conflict"
	ActionMemberAdded   ChangeAction = "member_added"
	ActionMemberRemoved ChangeAction = "member_removed"
	ActionSkipped       ChangeAction = "skipped" // out of scope, never in the directory
	ActionWarning       ChangeAction = "warning" // imported, but part of it was not (an invalid phone)
)

// Change is one change a run made (or, in a dry run, would make).
type Change struct {
	RunID      string       `json:"run_id"`
	Seq        int          `json:"seq"`
	ObjectKind MemberKind   `json:"object_kind"`
	ObjectID   string       `json:"object_id,omitempty"`
	ExternalID string       `json:"external_id,omitempty"`
	Name       string       `json:"name"`
	Action     ChangeAction `json:"action"`
	Attributes []AttrChange `json:"attributes,omitempty"`
	// Member is the member added or removed, for membership changes.
	Member *Member `json:"member,omitempty"`
	// Detail says more: the member added or removed, the other side of a conflict.
	Detail string `json:"detail,omitempty"`
	// Object is the user's or group's whole state right after the change
	// (its User or Group JSON), for the changes that are events: their
	// event carries it as data.object. A plan that was not applied (a
	// dry run) has none. A membership change's is the Membership, which
	// the store gives from its fields rather than storing it.
	Object json.RawMessage `json:"object,omitempty"`
}

// MemberDetail is the Detail of a membership's change: the member added
// or removed.
func MemberDetail(m Member) string { return string(m.Kind) + " " + m.Name + " (" + m.ID + ")" }
