package manage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// TrashQuery pages the trash: its users first, then its groups.
type TrashQuery struct {
	After string // the Next of the previous page
	Limit int    // 0 lists everything
}

// Trash is what waits in the trash, with when it will be purged.
type Trash struct {
	Users  []directory.User
	Groups []directory.Group
	// Next is the cursor of the next page, "" on the last.
	Next string
	// Retention is how long the trash keeps what goes there: an object is
	// purged after its TrashedAt plus Retention.
	Retention time.Duration
}

// PurgeAfter is when an object trashed at trashedAt is purged.
func (t Trash) PurgeAfter(trashedAt time.Time) time.Time { return trashedAt.Add(t.Retention) }

// Positions in the trash listing: in its users, or in its groups.
const (
	trashInUsers  = "u"
	trashInGroups = "g"
)

// ListTrash lists the users and groups pending deletion, a page holding at
// most Limit of them together.
func (m *Manager) ListTrash(ctx context.Context, actor Actor, q TrashQuery) (Trash, error) {
	t := Trash{Retention: m.trashRetention(ctx, m.d.Store, actor.AccountID), Users: []directory.User{}, Groups: []directory.Group{}}
	if err := actor.require(ActRead); err != nil {
		return t, err
	}
	pos, err := decodeCursor(listTrash, q.After)
	if err != nil {
		return t, err
	}
	part, after, _ := strings.Cut(pos, ":")
	if pos != "" && part != trashInUsers && part != trashInGroups {
		return t, invalid("after", "after is not a cursor this listing returned")
	}
	trash := []directory.State{directory.StateTrash}
	left := q.Limit
	if part != trashInGroups {
		users, err := m.Users(ctx, actor, UserQuery{States: trash, Limit: q.Limit, After: encodeCursor(listUsers, after)})
		if err != nil {
			return t, err
		}
		t.Users = users.Items
		if users.Next != "" {
			t.Next = trashCursor(trashInUsers, listUsers, users.Next)
			return t, nil
		}
		after = ""
		if q.Limit > 0 {
			left = q.Limit - len(users.Items)
		}
		if q.Limit > 0 && left == 0 {
			// A full page of users: the groups start on the next page, if any.
			if probe, err := m.Groups(ctx, actor, GroupQuery{States: trash, Limit: 1}); err != nil || len(probe.Items) == 0 {
				return t, err
			}
			t.Next = encodeCursor(listTrash, trashInGroups+":")
			return t, nil
		}
	}
	groups, err := m.Groups(ctx, actor, GroupQuery{States: trash, Limit: left, After: encodeCursor(listGroups, after)})
	if err != nil {
		return t, err
	}
	t.Groups = groups.Items
	if groups.Next != "" {
		t.Next = trashCursor(trashInGroups, listGroups, groups.Next)
	}
	return t, nil
}

// trashCursor makes the trash listing's cursor from the cursor of its
// users or groups listing.
func trashCursor(part, list, next string) string {
	pos, _ := decodeCursor(list, next)
	return encodeCursor(listTrash, part+":"+pos)
}

// TrashRef names something in the trash: a user by id, username or email,
// or a group by id or name. Kind narrows the search to users
// (directory.MemberUser) or groups; empty looks at both.
type TrashRef struct {
	Kind directory.MemberKind
	Key  string
}

// TrashObject is a user or a group (one of them is set).
type TrashObject struct {
	User  *directory.User
	Group *directory.Group
}

// Name is how the object is shown: "user alice" or "group Sales".
func (o TrashObject) Name() string {
	if o.User != nil {
		return "user " + o.User.Username
	}
	return "group " + o.Group.Name
}

// findTrash finds what ref names, preferring what is in the trash (a name
// may be both a trashed and a live object's).
func findTrash(ctx context.Context, rd store.Reader, actor Actor, ref TrashRef) (TrashObject, error) {
	key := strings.TrimSpace(ref.Key)
	var found []TrashObject
	if ref.Kind != directory.MemberGroup {
		if u, err := findUser(ctx, rd, actor, key); err == nil {
			found = append(found, TrashObject{User: &u})
		} else if KindOf(err) != NotFound {
			return TrashObject{}, err
		}
	}
	if ref.Kind != directory.MemberUser {
		gs, err := rd.Groups(ctx, actor.AccountID, store.GroupQuery{States: []directory.State{directory.StateTrash}, Search: key})
		if err != nil {
			return TrashObject{}, err
		}
		for _, g := range gs.Items {
			if g.ID == key || strings.EqualFold(g.Name, key) {
				found = append(found, TrashObject{Group: &g})
			}
		}
		if len(found) == 0 {
			if g, err := findGroup(ctx, rd, actor, key); err == nil {
				found = append(found, TrashObject{Group: &g})
			} else if KindOf(err) != NotFound {
				return TrashObject{}, err
			}
		}
	}
	var inTrash []TrashObject
	for _, o := range found {
		if (o.User != nil && o.User.State == directory.StateTrash) || (o.Group != nil && o.Group.State == directory.StateTrash) {
			inTrash = append(inTrash, o)
		}
	}
	switch {
	case len(inTrash) == 1:
		return inTrash[0], nil
	case len(inTrash) > 1:
		return TrashObject{}, invalid("id", "%q names more than one object in the trash: give its id (see dirsync trash list)", key)
	case len(found) > 0:
		return found[0], conflict(CodeNotInTrash, "%s is not in the trash", found[0].Name())
	}
	what := "user or group"
	switch ref.Kind {
	case directory.MemberUser:
		what = "user"
	case directory.MemberGroup:
		what = "group"
	}
	return TrashObject{}, notFound("account %s has no %s %q in the trash", actor.AccountName, what, key)
}

// Restore takes a user or group out of the trash, with its id and local
// data. An object a source still manages cannot be: the source says it is
// gone, and it comes back by itself when the source has it again.
func (m *Manager) Restore(ctx context.Context, actor Actor, ref TrashRef) (TrashObject, error) {
	if err := actor.require(ActRestore); err != nil {
		return TrashObject{}, err
	}
	var o TrashObject
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		if o, err = findTrash(ctx, tx, actor, ref); err != nil {
			return err
		}
		return restore(ctx, tx, o.User, o.Group, m.now(), actor.Via)
	})
	if o.User != nil {
		normalizeUser(o.User)
	}
	return o, err
}

// Purge deletes one object in the trash for good.
func (m *Manager) Purge(ctx context.Context, actor Actor, ref TrashRef) (TrashObject, error) {
	if err := actor.require(ActPurge); err != nil {
		return TrashObject{}, err
	}
	var o TrashObject
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		if o, err = findTrash(ctx, tx, actor, ref); err != nil {
			if KindOf(err) == Conflict {
				return conflict(CodeNotInTrash, "%s is not in the trash: only what is in the trash can be purged", o.Name())
			}
			return err
		}
		if o.User != nil {
			return tx.PurgeUser(ctx, actor.AccountID, o.User.ID)
		}
		return tx.PurgeGroup(ctx, actor.AccountID, o.Group.ID)
	})
	return o, err
}

// PurgeExpired deletes for good what has been in the trash longer than
// olderThan (nil means the account's trash retention), and reports how
// many.
func (m *Manager) PurgeExpired(ctx context.Context, actor Actor, olderThan *time.Duration) (int, error) {
	if err := actor.require(ActPurge); err != nil {
		return 0, err
	}
	age := m.trashRetention(ctx, m.d.Store, actor.AccountID)
	if olderThan != nil {
		age = *olderThan
	}
	if age < 0 {
		return 0, invalid("older_than", "the age must not be negative")
	}
	n := 0
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		n, err = purgeTrash(ctx, tx, actor.AccountID, m.now().Add(-age))
		return err
	})
	return n, err
}

// ParseAge reads an age such as 3d, 12h or 90m: Go's durations plus days.
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && fmt.Sprint(n) == days && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, invalid("older_than", "%q is not an age such as 7d, 12h or 90m", s)
	}
	return d, nil
}

// purgeAllExpired purges every account's trash past its retention.
func (m *Manager) purgeAllExpired(ctx context.Context, tx store.Tx) (int, error) {
	accounts, err := tx.Accounts(ctx)
	if err != nil {
		return 0, err
	}
	purged := 0
	for _, acc := range accounts {
		p, err := purgeTrash(ctx, tx, acc.ID, m.now().Add(-m.trashRetention(ctx, tx, acc.ID)))
		if err != nil {
			return purged, err
		}
		purged += p
	}
	return purged, nil
}
