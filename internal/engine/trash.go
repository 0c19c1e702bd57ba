package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// DefaultTrashRetention is how long the trash keeps users and groups before
// they are purged (Duo's 7 days): long enough to notice a mistake and for
// the source to bring them back with their ids.
const DefaultTrashRetention = 7 * 24 * time.Hour

// PurgeTrash deletes for good the account's users and groups that went to
// the trash before the given time, and reports how many.
func PurgeTrash(ctx context.Context, tx store.Tx, accountID string, before time.Time) (int, error) {
	trash := []directory.State{directory.StateTrash}
	n := 0
	users, err := tx.Users(ctx, accountID, store.UserQuery{States: trash})
	if err != nil {
		return n, err
	}
	for _, u := range users.Items {
		if u.TrashedAt.Before(before) {
			if err := tx.PurgeUser(ctx, accountID, u.ID); err != nil {
				return n, err
			}
			n++
		}
	}
	groups, err := tx.Groups(ctx, accountID, store.GroupQuery{States: trash})
	if err != nil {
		return n, err
	}
	for _, g := range groups.Items {
		if g.TrashedAt.Before(before) {
			if err := tx.PurgeGroup(ctx, accountID, g.ID); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// ManagedError is returned when restoring an object that a source still
// manages: the source says it is gone, and it comes back by itself when the
// source has it again.
type ManagedError struct {
	Kind    directory.MemberKind
	Name    string
	Sources []directory.SourceLink
}

func (e *ManagedError) Error() string {
	var names []string
	for _, l := range e.Sources {
		names = append(names, l.Source)
	}
	return fmt.Sprintf("%s %s is managed by source %s, which no longer has it: it comes back when the source has it again",
		e.Kind, e.Name, strings.Join(names, ", "))
}

// Restore takes a user (or, with u nil, a group) out of the trash, with its
// id and local data, and writes the restored event in the same transaction.
// The caller has found the object in the trash.
func Restore(ctx context.Context, tx store.Tx, u *directory.User, g *directory.Group, now time.Time, via string) error {
	var ev directory.Event
	if u != nil {
		if len(u.Sources) > 0 {
			return &ManagedError{directory.MemberUser, u.Username, u.Sources}
		}
		u.State, u.TrashedAt = directory.StateFor(u.Enabled), time.Time{}
		if err := tx.UpdateUser(ctx, *u); err != nil {
			return err
		}
		after, err := tx.User(ctx, u.AccountID, u.ID)
		if err != nil {
			return err
		}
		after.Normalize()
		ev = localEvent(u.AccountID, directory.EventUserRestored, directory.MemberUser, u.ID, u.Username, now, via, after)
	} else {
		if len(g.Sources) > 0 {
			return &ManagedError{directory.MemberGroup, g.Name, g.Sources}
		}
		g.State, g.TrashedAt = directory.StateActive, time.Time{}
		if err := tx.UpdateGroup(ctx, *g); err != nil {
			return err
		}
		after, err := tx.Group(ctx, g.AccountID, g.ID)
		if err != nil {
			return err
		}
		after.Normalize()
		ev = localEvent(g.AccountID, directory.EventGroupRestored, directory.MemberGroup, g.ID, g.Name, now, via, after)
	}
	return tx.AppendEvents(ctx, []directory.Event{ev})
}

// localEvent is the event of a change an administrator made by hand (through
// the API or the command line) rather than a run, with the object's state
// after it.
func localEvent(accountID, typ string, kind directory.MemberKind, id, name string, now time.Time, via string, object any) directory.Event {
	data, _ := json.Marshal(map[string]any{"object_kind": kind, "object_id": id, "name": name, "source": "", "detail": "through the " + via,
		"object": object})
	return directory.Event{AccountID: accountID, Type: typ, Time: now, Data: data}
}
