package engine

import (
	"encoding/json"

	"github.com/dirsync/dirsync/internal/directory"
)

// eventFor turns a change into its event in the account's feed; ok is false
// for changes that are not events (a quarantined conflict changes nothing).
func (a *applier) eventFor(c directory.Change) (directory.Event, bool) {
	typ := ""
	switch c.ObjectKind {
	case directory.MemberUser:
		typ = map[directory.ChangeAction]string{
			directory.ActionCreated:  directory.EventUserCreated,
			directory.ActionUpdated:  directory.EventUserUpdated,
			directory.ActionDisabled: directory.EventUserDisabled,
			directory.ActionEnabled:  directory.EventUserEnabled,
			directory.ActionDeleted:  directory.EventUserDeleted,
			directory.ActionRestored: directory.EventUserRestored,
		}[c.Action]
	case directory.MemberGroup:
		typ = map[directory.ChangeAction]string{
			directory.ActionCreated:  directory.EventGroupCreated,
			directory.ActionUpdated:  directory.EventGroupUpdated,
			directory.ActionDeleted:  directory.EventGroupDeleted,
			directory.ActionRestored: directory.EventGroupRestored,
		}[c.Action]
		if c.Member != nil {
			switch {
			case c.Action == directory.ActionMemberAdded && c.Member.Kind == directory.MemberUser:
				typ = directory.EventGroupUserAdded
			case c.Action == directory.ActionMemberRemoved && c.Member.Kind == directory.MemberUser:
				typ = directory.EventGroupUserRemoved
			case c.Action == directory.ActionMemberAdded:
				typ = directory.EventGroupGroupAdded
			case c.Action == directory.ActionMemberRemoved:
				typ = directory.EventGroupGroupRemoved
			}
		}
	}
	if typ == "" {
		return directory.Event{}, false
	}
	// The event refers to its change (written first), keeping only the
	// source's name: the store rebuilds its body (ChangeEventData) from
	// the change, which is not stored twice.
	data, _ := json.Marshal(struct {
		Source string `json:"source"`
	}{a.src.Name})
	return directory.Event{AccountID: a.src.AccountID, Type: typ, Time: a.now, SourceID: a.src.ID, RunID: a.run.ID, Data: data,
		ChangeSeq: int64(c.Seq)}, true
}

// runEvent is the sync.completed or sync.failed event of a run.
func runEvent(run directory.Run, typ string) directory.Event {
	data, _ := json.Marshal(run)
	return directory.Event{AccountID: run.AccountID, Type: typ, Time: run.FinishedAt, SourceID: run.SourceID, RunID: run.ID, Data: data}
}
