package manage

import (
	"context"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// Export kinds, one per line of an export.
const (
	ExportTypeUser       = "user"
	ExportTypeGroup      = "group"
	ExportTypeMembership = "membership"
	ExportTypeEnd        = "end"
)

// ExportItem is one line of an export: a user, a group, a direct
// membership, and last the end, which carries the events cursor of the
// snapshot and the counts. An export without its end was cut short.
type ExportItem struct {
	Type       string            `json:"type"`
	User       *directory.User   `json:"user,omitempty"`
	Group      *directory.Group  `json:"group,omitempty"`
	Membership *ExportMembership `json:"membership,omitempty"`
	End        *ExportSummary    `json:"end,omitempty"`
}

// ExportMembership is one direct membership.
type ExportMembership = directory.Membership

// ExportSummary ends an export.
type ExportSummary struct {
	// Cursor is the events cursor of the snapshot: the change feed read
	// from it holds exactly what changed after the export, no event twice
	// and none missed.
	Cursor      string `json:"cursor"`
	Users       int    `json:"users"`
	Groups      int    `json:"groups"`
	Memberships int    `json:"memberships"`
}

// exportPage is how many users or groups an export reads at a time.
const exportPage = 500

// Export hands the account's directory to emit, a line at a time, at one
// consistent snapshot: its users and groups (those not in the trash), the
// direct memberships between them, and last the events cursor of that
// snapshot. The directory and its events change in the same transactions,
// so a reader that loads the export and then follows the feed from the
// cursor ends with the directory, without a gap or a double. Memory stays
// flat: the export is read a page at a time.
func (m *Manager) Export(ctx context.Context, actor Actor, emit func(ExportItem) error) error {
	if err := actor.require(ActRead); err != nil {
		return err
	}
	return m.d.Store.Snapshot(ctx, func(rd store.Reader) error {
		// The first read fixes the snapshot: the cursor is taken in it.
		last, err := rd.LastEventSeq(ctx, actor.AccountID)
		if err != nil {
			return err
		}
		end := ExportSummary{Cursor: EventCursor(last, m.now())}
		// Memberships of a group in the trash are not the directory's.
		trashed := map[string]bool{}
		gone, err := rd.Groups(ctx, actor.AccountID, store.GroupQuery{States: []directory.State{directory.StateTrash}})
		if err != nil {
			return err
		}
		for _, g := range gone.Items {
			trashed[g.ID] = true
		}
		for after := ""; ; {
			page, err := rd.Users(ctx, actor.AccountID, store.UserQuery{After: after, Limit: exportPage})
			if err != nil {
				return err
			}
			for i := range page.Items {
				normalizeUser(&page.Items[i])
				if err := emit(ExportItem{Type: ExportTypeUser, User: &page.Items[i]}); err != nil {
					return err
				}
			}
			end.Users += len(page.Items)
			if after = page.Next; after == "" {
				break
			}
		}
		for after := ""; ; {
			page, err := rd.Groups(ctx, actor.AccountID, store.GroupQuery{After: after, Limit: exportPage})
			if err != nil {
				return err
			}
			for i := range page.Items {
				n, err := exportGroup(ctx, rd, actor, &page.Items[i], trashed, emit)
				if err != nil {
					return err
				}
				end.Memberships += n
			}
			end.Groups += len(page.Items)
			if after = page.Next; after == "" {
				break
			}
		}
		return emit(ExportItem{Type: ExportTypeEnd, End: &end})
	})
}

// exportGroup emits a group and its direct members; it counts the members.
func exportGroup(ctx context.Context, rd store.Reader, actor Actor, g *directory.Group, trashed map[string]bool, emit func(ExportItem) error) (int, error) {
	normalizeGroup(g)
	if err := emit(ExportItem{Type: ExportTypeGroup, Group: g}); err != nil {
		return 0, err
	}
	ms, err := rd.Members(ctx, actor.AccountID, g.ID, false)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, mb := range ms {
		if trashed[mb.ID] {
			continue
		}
		n++
		if err := emit(ExportItem{Type: ExportTypeMembership, Membership: &ExportMembership{GroupID: g.ID, MemberKind: mb.Kind, MemberID: mb.ID}}); err != nil {
			return 0, err
		}
	}
	return n, nil
}
