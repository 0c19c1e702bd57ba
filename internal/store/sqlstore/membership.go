package sqlstore

import (
	"context"

	"github.com/dirsync/dirsync/internal/store"
)

// AddMembership records one direct membership that a source owns, for an
// incremental run that learns of memberships one at a time.
func (t *tx) AddMembership(ctx context.Context, sourceID string, m store.Membership) (bool, error) {
	n, err := affected(t.c.exec(ctx, `INSERT INTO memberships (group_id, member_kind, member_id, source_id)
		VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, m.GroupID, string(m.MemberKind), m.MemberID, sourceID))
	if err != nil {
		return false, wrap(err, t.c.f, "add membership %s %s %s", m.GroupID, m.MemberKind, m.MemberID)
	}
	return n == 1, nil
}

// RemoveMembership removes one direct membership that a source owns.
func (t *tx) RemoveMembership(ctx context.Context, sourceID string, m store.Membership) (bool, error) {
	n, err := affected(t.c.exec(ctx, `DELETE FROM memberships
		WHERE group_id = ? AND member_kind = ? AND member_id = ? AND source_id = ?`, m.GroupID, string(m.MemberKind), m.MemberID, sourceID))
	if err != nil {
		return false, wrap(err, t.c.f, "remove membership %s %s %s", m.GroupID, m.MemberKind, m.MemberID)
	}
	return n == 1, nil
}
