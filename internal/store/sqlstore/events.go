package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// eventCols are the columns of an event row that eventRow gives, in its
// order (the feed number, seq, is the database's or drawn apart).
const eventCols = "id, account_id, type, time, source_id, run_id, data, change_seq"

// eventRow is e's values for eventCols: a body of "{}" when it has none,
// and no change_seq unless it refers to a change.
func eventRow(e directory.Event) []any {
	data := string(e.Data)
	if data == "" {
		data = "{}"
	}
	var change any
	if e.ChangeSeq > 0 {
		change = e.ChangeSeq
	}
	return []any{e.ID, e.AccountID, e.Type, timeArg(e.Time), e.SourceID, e.RunID, data, change}
}

// AppendEvents adds events to their accounts' feeds.
//
// Readers page by seq, so seqs must become visible in order. SQLite has one
// writer at a time, which gives that for free. On PostgreSQL a sequence
// hands out numbers at insert, not at commit, so two transactions could
// commit out of order and a reader could skip the smaller seq; an advisory
// lock per account, held to commit, keeps appends to one feed in a line.
func (t *tx) AppendEvents(ctx context.Context, es []directory.Event) error {
	locked := map[string]bool{}
	for i := range es {
		e := &es[i]
		if e.ID == "" {
			id, err := uuid.NewV7()
			if err != nil {
				return fmt.Errorf("sqlstore: event id: %w", err)
			}
			e.ID = "evt_" + id.String()
		}
		if !locked[e.AccountID] {
			if err := t.c.f.lockFeed(ctx, t.c, e.AccountID); err != nil {
				return wrap(err, t.c.f, "lock event feed")
			}
			locked[e.AccountID] = true
		}
	}
	if t.c.canCopy() {
		return wrap(t.c.copyEvents(ctx, es), t.c.f, "append events")
	}
	// Many rows per statement: a run appends one event per change.
	for start := 0; start < len(es); start += eventBatch {
		batch := es[start:min(start+eventBatch, len(es))]
		var q strings.Builder
		q.WriteString(`INSERT INTO events (` + eventCols + `) VALUES `)
		args := make([]any, 0, 8*len(batch))
		for i, e := range batch {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, eventRow(e)...)
		}
		q.WriteString(" RETURNING id, seq")
		rows, err := t.c.query(ctx, q.String(), args...)
		if err != nil {
			return wrap(err, t.c.f, "append events")
		}
		seqs := make(map[string]int64, len(batch))
		for rows.Next() {
			var id string
			var seq int64
			if err := rows.Scan(&id, &seq); err != nil {
				rows.Close()
				return wrap(err, t.c.f, "append events")
			}
			seqs[id] = seq
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return wrap(err, t.c.f, "append events")
		}
		for i := range batch {
			batch[i].Seq = seqs[batch[i].ID]
		}
	}
	return nil
}

// eventBatch is how many events one INSERT carries (8 values each).
const eventBatch = 200

// PruneEvents deletes events older than before.
func (t *tx) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	n, err := affected(t.c.exec(ctx, `DELETE FROM events WHERE time < ?`, timeArg(before)))
	if err != nil {
		return 0, wrap(err, t.c.f, "prune events")
	}
	return int(n), nil
}

// PruneAccountEvents deletes the account's events older than before.
func (t *tx) PruneAccountEvents(ctx context.Context, accountID string, before time.Time) (int, error) {
	n, err := affected(t.c.exec(ctx, `DELETE FROM events WHERE account_id = ? AND time < ?`, accountID, timeArg(before)))
	if err != nil {
		return 0, wrap(err, t.c.f, "prune events of account %q", accountID)
	}
	return int(n), nil
}

// Events lists an account's feed after a seq, in order; limit 0 means all.
// An event kept as a reference to its change (change_seq) gets its body
// rebuilt from the change and the source name it stored; should the change
// be gone (the run history pruned before the feed, which Prune avoids), the
// event keeps what it stored.
func (r reader) Events(ctx context.Context, accountID string, after int64, limit int) ([]directory.Event, error) {
	rows, err := r.c.query(ctx, `SELECT e.seq, e.id, e.account_id, e.type, e.time, e.source_id, e.run_id, e.data, c.data
		FROM events e LEFT JOIN changes c ON e.change_seq IS NOT NULL AND c.run_id = e.run_id AND c.seq = e.change_seq
		WHERE e.account_id = ? AND e.seq > ? ORDER BY e.seq LIMIT ?`, accountID, after, sqlLimit(limit))
	if err != nil {
		return nil, wrap(err, r.c.f, "events")
	}
	defer rows.Close()
	var out []directory.Event
	for rows.Next() {
		var e directory.Event
		var data string
		var change sql.NullString
		if err := rows.Scan(&e.Seq, &e.ID, &e.AccountID, &e.Type, nullTime{&e.Time}, &e.SourceID, &e.RunID, &data, &change); err != nil {
			return nil, wrap(err, r.c.f, "events")
		}
		e.Data = []byte(data)
		if change.Valid {
			if e.Data, err = changeEventData(change.String, data); err != nil {
				return nil, fmt.Errorf("sqlstore: event %s: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	return out, wrap(rows.Err(), r.c.f, "events")
}

// changeEventData rebuilds the body of an event kept as a reference: the
// change it refers to, and the source name the event stored.
func changeEventData(change, stored string) (json.RawMessage, error) {
	var ref struct {
		Source string `json:"source"`
	}
	c, err := decodeChange(change)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(stored), &ref); err != nil {
		return nil, err
	}
	return directory.ChangeEventData(c, ref.Source), nil
}

// AcquireLease takes or renews the source's run lease.
func (t *tx) AcquireLease(ctx context.Context, sourceID, holder string, now time.Time, ttl time.Duration) error {
	var current string
	var expires time.Time
	err := t.c.row(ctx, `SELECT holder, expires_at FROM source_leases WHERE source_id = ?`, sourceID).Scan(&current, nullTime{&expires})
	switch {
	case err == nil && current != holder && expires.After(now):
		return fmt.Errorf("sqlstore: source %s is held by %s until %s: %w", sourceID, current, expires.Format(time.RFC3339), store.ErrLeaseHeld)
	case err == nil:
		_, err = t.c.exec(ctx, `UPDATE source_leases SET holder = ?, expires_at = ? WHERE source_id = ?`, holder, timeArg(now.Add(ttl)), sourceID)
	case errors.Is(err, sql.ErrNoRows):
		_, err = t.c.exec(ctx, `INSERT INTO source_leases (source_id, holder, expires_at) VALUES (?, ?, ?)`, sourceID, holder, timeArg(now.Add(ttl)))
	}
	return wrap(err, t.c.f, "lease source %s", sourceID)
}

// ReleaseLease ends holder's lease on the source.
func (t *tx) ReleaseLease(ctx context.Context, sourceID, holder string) error {
	_, err := t.c.exec(ctx, `DELETE FROM source_leases WHERE source_id = ? AND holder = ?`, sourceID, holder)
	return wrap(err, t.c.f, "release lease on source %s", sourceID)
}
