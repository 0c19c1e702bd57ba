package directory

import (
	"encoding/json"
	"time"
)

// Event types in the change feed. Every change a run applies becomes one,
// written in the same transaction as the change.
const (
	EventUserCreated  = "user.created"
	EventUserUpdated  = "user.updated"
	EventUserDisabled = "user.disabled"
	EventUserEnabled  = "user.enabled"
	EventUserDeleted  = "user.deleted"
	EventUserRestored = "user.restored"
	// EventUserEnrolled: the application confirmed the user's enrollment
	// (issue 15's enrollment cycle ends).
	EventUserEnrolled       = "user.enrolled"
	EventGroupCreated       = "group.created"
	EventGroupUpdated       = "group.updated"
	EventGroupDeleted       = "group.deleted"
	EventGroupRestored      = "group.restored"
	EventGroupUserAdded     = "group.user_added"
	EventGroupUserRemoved   = "group.user_removed"
	EventGroupGroupAdded    = "group.group_added"
	EventGroupGroupRemoved  = "group.group_removed"
	EventSyncCompleted      = "sync.completed"
	EventSyncFailed         = "sync.failed"
	EventSourceReauthorize  = "source.reauthorization_required"
	EventSourceSecretExpiry = "source.secret_expiring"
)

// EventVersion is the version of the one event schema, which the events
// feed and webhook bodies share: Event's JSON. It grows without a new
// version (new fields, new types); a change that is not additive would
// be version 2.
const EventVersion = 1

// Event is one entry of an account's append-only change feed.
type Event struct {
	// Seq orders the feed; readers resume after the last Seq they saw.
	Seq       int64     `json:"seq"`
	ID        string    `json:"id"` // unique, stable: the webhook-id of its deliveries
	AccountID string    `json:"account_id"`
	Type      string    `json:"type"`
	Time      time.Time `json:"time"`
	SourceID  string    `json:"source_id,omitempty"`
	RunID     string    `json:"run_id,omitempty"`
	// Data is the event's body: what changed (for updates each attribute
	// before and after) and, as data.object, the object's whole state
	// after the change (see ChangeEventData).
	Data json.RawMessage `json:"data"`
	// ChangeSeq, when set, is the change of the run (RunID) that the event
	// is: the store keeps the event as a reference to it, and rebuilds
	// Data from the change and the source's name that Data holds.
	ChangeSeq int64 `json:"-"`
}

// MarshalJSON writes the event in the one event schema, with its version.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event // without this method
	if len(e.Data) == 0 {
		e.Data = json.RawMessage("{}")
	}
	return json.Marshal(struct {
		Version int `json:"version"`
		plain
	}{EventVersion, plain(e)})
}

// ChangeEventData is the body of the event a change becomes: the object,
// the source it came from, what changed, and as object the object's whole
// state after the change (c.Object, as ShownObject shows it): a User or a
// Group, or for a membership's event the Membership (added or, for a
// removal, ended), which the store's reading of the change gives from
// the change's own fields. The store rebuilds it from the change for the
// events it keeps as a reference to their change, so that the same change
// is not stored twice. A change recorded before objects were (an older
// release) gives no object.
func ChangeEventData(c Change, source string) json.RawMessage {
	body := struct {
		Kind       MemberKind      `json:"object_kind"`
		ID         string          `json:"object_id"`
		ExternalID string          `json:"external_id,omitempty"`
		Name       string          `json:"name"`
		Source     string          `json:"source"`
		Attributes []AttrChange    `json:"attributes,omitempty"`
		Member     *Member         `json:"member,omitempty"`
		Detail     string          `json:"detail,omitempty"`
		Object     json.RawMessage `json:"object,omitempty"`
	}{c.ObjectKind, c.ObjectID, c.ExternalID, c.Name, source, c.Attributes, c.Member, c.Detail, c.Object}
	data, _ := json.Marshal(body)
	return data
}

// ShownObject is a stored user's or group's JSON as answers show it, its
// empty lists lists (see User.Normalize); nil stays nil.
func ShownObject(kind MemberKind, stored json.RawMessage) json.RawMessage {
	shown, _ := ReadObject(kind, stored)
	return shown
}

// ReadObject reads a stored user's or group's JSON once, into the JSON
// answers show (ShownObject) and the attributes its creation set (each of
// its own, from nothing: what a creation's change lists).
func ReadObject(kind MemberKind, stored json.RawMessage) (shown json.RawMessage, created []AttrChange) {
	if len(stored) == 0 {
		return nil, nil
	}
	var v interface{ Normalize() }
	switch kind {
	case MemberUser:
		u := &User{}
		v, created = u, nil
		if json.Unmarshal(stored, u) != nil {
			return stored, nil
		}
		created = DiffUsers(UserAttributes{}, u.UserAttributes)
	case MemberGroup:
		g := &Group{}
		v = g
		if json.Unmarshal(stored, g) != nil {
			return stored, nil
		}
		created = DiffGroups(GroupAttributes{}, g.GroupAttributes)
	default:
		return stored, nil
	}
	v.Normalize()
	out, err := json.Marshal(v)
	if err != nil {
		return stored, created
	}
	return out, created
}
