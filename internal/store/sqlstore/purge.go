package sqlstore

import (
	"context"
	"fmt"

	"github.com/dirsync/dirsync/internal/store"
)

// PurgeUser deletes a user for good; its links go with it (foreign keys) and
// its memberships are removed here, since members have no foreign key.
func (t *tx) PurgeUser(ctx context.Context, accountID, id string) error {
	return t.purge(ctx, "users", "user", accountID, id)
}

// PurgeGroup deletes a group for good, with its links, its own memberships
// (foreign key) and its place in other groups.
func (t *tx) PurgeGroup(ctx context.Context, accountID, id string) error {
	return t.purge(ctx, "groups", "group", accountID, id)
}

func (t *tx) purge(ctx context.Context, table, kind, accountID, id string) error {
	if _, err := t.c.exec(ctx, `DELETE FROM memberships WHERE member_kind = ? AND member_id = ?
		AND member_id IN (SELECT id FROM `+table+` WHERE account_id = ?)`, kind, id, accountID); err != nil {
		return wrap(err, t.c.f, "purge %s %s: memberships", kind, id)
	}
	n, err := affected(t.c.exec(ctx, `DELETE FROM `+table+` WHERE account_id = ? AND id = ?`, accountID, id))
	if err != nil {
		return wrap(err, t.c.f, "purge %s %s", kind, id)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: purge %s %s: %w", kind, id, store.ErrNotFound)
	}
	return nil
}
