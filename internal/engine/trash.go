package engine

import (
	"context"
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
