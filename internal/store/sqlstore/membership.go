package sqlstore

import (
	"context"

	"github.com/dirsync/dirsync/internal/directory"
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

// MembershipsOf lists the groups a member belongs to through one source.
func (t *tx) MembershipsOf(ctx context.Context, sourceID string, kind directory.MemberKind, memberID string) ([]store.Membership, error) {
	rows, err := t.c.query(ctx, `SELECT m.group_id, g.name FROM memberships m JOIN groups g ON g.id = m.group_id
		WHERE m.source_id = ? AND m.member_kind = ? AND m.member_id = ? ORDER BY m.group_id`, sourceID, string(kind), memberID)
	if err != nil {
		return nil, wrap(err, t.c.f, "memberships of %s %s", kind, memberID)
	}
	defer rows.Close()
	var out []store.Membership
	for rows.Next() {
		m := store.Membership{MemberKind: kind, MemberID: memberID}
		if err := rows.Scan(&m.GroupID, &m.GroupName); err != nil {
			return nil, wrap(err, t.c.f, "memberships of %s %s", kind, memberID)
		}
		out = append(out, m)
	}
	return out, wrap(rows.Err(), t.c.f, "memberships of %s %s", kind, memberID)
}

// StagedMembersOf lists what a run staged as one group's direct members.
func (s *Store) StagedMembersOf(ctx context.Context, runID, groupExternalID string) ([]directory.SourceMembership, error) {
	rows, err := s.db.QueryContext(ctx, s.flavor.rebind(`SELECT member_kind, member_ext FROM staged_memberships
		WHERE run_id = ? AND group_ext = ? ORDER BY member_kind, member_ext`), runID, groupExternalID)
	if err != nil {
		return nil, wrap(err, s.flavor, "staged members of %s", groupExternalID)
	}
	defer rows.Close()
	var out []directory.SourceMembership
	for rows.Next() {
		m := directory.SourceMembership{GroupExternalID: groupExternalID}
		if err := rows.Scan(&m.MemberKind, &m.MemberExternalID); err != nil {
			return nil, wrap(err, s.flavor, "staged members of %s", groupExternalID)
		}
		out = append(out, m)
	}
	return out, wrap(rows.Err(), s.flavor, "staged members of %s", groupExternalID)
}

// MembersOwned lists a group's direct members through one source.
func (t *tx) MembersOwned(ctx context.Context, sourceID, groupID string) ([]store.Membership, error) {
	rows, err := t.c.query(ctx, `SELECT m.member_kind, m.member_id, g.name,
			COALESCE((SELECT u.username FROM users u WHERE m.member_kind = 'user' AND u.id = m.member_id),
				(SELECT mg.name FROM groups mg WHERE m.member_kind = 'group' AND mg.id = m.member_id), '')
		FROM memberships m JOIN groups g ON g.id = m.group_id
		WHERE m.source_id = ? AND m.group_id = ? ORDER BY m.member_kind, m.member_id`, sourceID, groupID)
	if err != nil {
		return nil, wrap(err, t.c.f, "members of group %s", groupID)
	}
	defer rows.Close()
	var out []store.Membership
	for rows.Next() {
		m := store.Membership{GroupID: groupID}
		if err := rows.Scan(&m.MemberKind, &m.MemberID, &m.GroupName, &m.MemberName); err != nil {
			return nil, wrap(err, t.c.f, "members of group %s", groupID)
		}
		out = append(out, m)
	}
	return out, wrap(rows.Err(), t.c.f, "members of group %s", groupID)
}
