package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// changeUserID is the user a change is about, stored beside it so that a
// user's history is found through an index: the changed user, or the user
// a membership change added or removed; nil for anything else.
func changeUserID(c directory.Change) any {
	switch {
	case c.ObjectKind == directory.MemberUser && c.ObjectID != "":
		return c.ObjectID
	case c.Member != nil && c.Member.Kind == directory.MemberUser && c.Member.ID != "":
		return c.Member.ID
	}
	return nil
}

// UserChanges lists the changes succeeded, applied runs made about the
// user, newest first. The index on user_id finds them; a user's history
// is short enough to sort.
func (r reader) UserChanges(ctx context.Context, accountID, userID string, q store.UserChangeQuery) (store.Page[store.UserChange], error) {
	sql := `SELECT c.run_id, c.seq, c.data, r.source_id, r.source, r.finished_at FROM changes c JOIN runs r ON r.id = c.run_id
		WHERE c.user_id = ? AND r.account_id = ? AND r.outcome = ? AND r.dry_run = ?`
	args := []any{userID, accountID, string(directory.OutcomeSucceeded), false}
	if q.After != "" {
		at, pos, err := decodeTimeCursor(q.After)
		if err != nil {
			return store.Page[store.UserChange]{}, err
		}
		runID, seq, err := splitChangePos(pos)
		if err != nil {
			return store.Page[store.UserChange]{}, err
		}
		sql += ` AND (r.finished_at < ? OR (r.finished_at = ? AND (c.run_id < ? OR (c.run_id = ? AND c.seq < ?))))`
		args = append(args, timeArg(at), timeArg(at), runID, runID, seq)
	}
	sql += ` ORDER BY r.finished_at DESC, c.run_id DESC, c.seq DESC LIMIT ?`
	args = append(args, pageLimit(q.Limit))
	out, err := r.userChanges(ctx, userID, sql, args)
	if err != nil {
		return store.Page[store.UserChange]{}, err
	}
	page := store.Page[store.UserChange]{Items: out}
	if q.Limit > 0 && len(out) > q.Limit {
		last := out[q.Limit-1]
		page.Items = out[:q.Limit]
		page.Next = encodeTimeCursor(last.AppliedAt, last.RunID+"/"+strconv.Itoa(last.Seq))
	}
	return page, nil
}

func (r reader) userChanges(ctx context.Context, userID, q string, args []any) ([]store.UserChange, error) {
	rows, err := r.c.query(ctx, q, args...)
	if err != nil {
		return nil, wrap(err, r.c.f, "changes of user %q", userID)
	}
	defer rows.Close()
	var out []store.UserChange
	for rows.Next() {
		var (
			uc   store.UserChange
			data string
		)
		if err := rows.Scan(&uc.RunID, &uc.Seq, &data, &uc.SourceID, &uc.Source, nullTime{&uc.AppliedAt}); err != nil {
			return nil, wrap(err, r.c.f, "changes of user %q", userID)
		}
		runID, seq := uc.RunID, uc.Seq
		c, err := decodeChange(data)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: changes of user %q: %w", userID, err)
		}
		uc.Change = c
		uc.RunID, uc.Seq = runID, seq
		out = append(out, uc)
	}
	return out, wrap(rows.Err(), r.c.f, "changes of user %q", userID)
}

// splitChangePos reads a change's position in a cursor: its run and Seq.
func splitChangePos(pos string) (string, int, error) {
	i := strings.LastIndexByte(pos, '/')
	if i <= 0 {
		return "", 0, store.ErrInvalidCursor
	}
	seq, err := strconv.Atoi(pos[i+1:])
	if err != nil || seq < 1 {
		return "", 0, store.ErrInvalidCursor
	}
	return pos[:i], seq, nil
}
