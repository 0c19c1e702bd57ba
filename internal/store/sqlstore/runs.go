package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

const runCols = `id, account_id, source_id, source, kind, run_trigger, dry_run, started_at, finished_at,
	outcome, reason, counts, source_users, source_groups, skips, requests, throttled, slot`

func scanRun(sc interface{ Scan(...any) error }, r *directory.Run) error {
	var counts, skips string
	err := sc.Scan(&r.ID, &r.AccountID, &r.SourceID, &r.Source, &r.Kind, &r.Trigger, &r.DryRun,
		nullTime{&r.StartedAt}, nullTime{&r.FinishedAt}, &r.Outcome, &r.Reason, &counts,
		&r.SourceUsers, &r.SourceGroups, &skips, &r.Requests, &r.Throttled, nullTime{&r.Slot})
	if err != nil {
		return err
	}
	if counts != "" {
		if err := json.Unmarshal([]byte(counts), &r.Counts); err != nil {
			return fmt.Errorf("run %s counts: %w", r.ID, err)
		}
	}
	if err := readSkips(skips, r); err != nil {
		return fmt.Errorf("run %s skips: %w", r.ID, err)
	}
	return nil
}

// runSkips is what the runs' skips column holds: the skip reasons and the
// warnings. Runs recorded before they had codes hold a JSON object of
// counts by message, which is read into Skips alone.
type runSkips struct {
	SkipReasons directory.Reasons `json:"skip_reasons"`
	Warnings    directory.Reasons `json:"warnings"`
}

func nilIfEmpty(rs directory.Reasons) directory.Reasons {
	if len(rs) == 0 {
		return nil
	}
	return rs
}

// readSkips reads the skips column into r (whose Counts are read).
func readSkips(column string, r *directory.Run) error {
	if column == "" {
		olderSkips(r)
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(column), &fields); err != nil {
		return err
	}
	if v, ok := fields["skip_reasons"]; !ok || len(v) == 0 || v[0] != '[' {
		if err := json.Unmarshal([]byte(column), &r.Skips); err != nil { // before codes
			return err
		}
		olderSkips(r)
		return nil
	}
	var rs runSkips
	if err := json.Unmarshal([]byte(column), &rs); err != nil {
		return err
	}
	r.SkipReasons, r.Warnings, r.Skips = nilIfEmpty(rs.SkipReasons), nilIfEmpty(rs.Warnings), rs.SkipReasons.ByMessage()
	return nil
}

// olderSkips makes a run recorded before skip codes (its skips a count by
// message, or none) agree with itself as every run since does:
// counts.skipped is the sum of skip_reasons, and of skips. Its skips
// become reasons of code other (the codes were not recorded); those
// releases counted in counts.skipped only users out of scope and objects
// refused, and in skips every skip, so the larger of the two is what was
// skipped, and what skips do not explain is one more reason. A run since
// has no skips only when it skipped nothing, and is left as it is.
func olderSkips(r *directory.Run) {
	if len(r.Skips) == 0 && r.Counts.Skipped == 0 {
		return
	}
	var reasons directory.Reasons
	for msg, n := range r.Skips {
		reasons.Add(directory.SkipOther, msg, n)
	}
	if rest := r.Counts.Skipped - reasons.Total(); rest > 0 {
		reasons.Add(directory.SkipOther, olderSkipsUnexplained, rest)
	}
	r.SkipReasons, r.Skips, r.Counts.Skipped = reasons, reasons.ByMessage(), reasons.Total()
}

// olderSkipsUnexplained is the message of the skips an older run counted
// without a reason.
const olderSkipsUnexplained = "skipped (recorded before skips had reasons)"

// runArgs are the values of runWriteCols.
func runArgs(r *directory.Run) ([]any, error) {
	counts, err := json.Marshal(r.Counts)
	if err != nil {
		return nil, err
	}
	var skips []byte
	if len(r.SkipReasons) > 0 || len(r.Warnings) > 0 {
		if skips, err = json.Marshal(runSkips{r.SkipReasons, r.Warnings}); err != nil {
			return nil, err
		}
	}
	return []any{r.Source, string(r.Kind), r.Trigger, r.DryRun, timeArg(r.StartedAt), timeArg(r.FinishedAt),
		string(r.Outcome), r.Reason, string(counts), r.SourceUsers, r.SourceGroups, string(skips),
		r.Requests, r.Throttled}, nil
}

const runWriteCols = `source, kind, run_trigger, dry_run, started_at, finished_at,
	outcome, reason, counts, source_users, source_groups, skips, requests, throttled`

func (r reader) Run(ctx context.Context, accountID, id string) (directory.Run, error) {
	var run directory.Run
	err := scanRun(r.c.row(ctx, `SELECT `+runCols+` FROM runs WHERE account_id = ? AND id = ?`, accountID, id), &run)
	if err != nil {
		return directory.Run{}, wrap(err, r.c.f, "run %q", id)
	}
	return run, nil
}

// Runs lists runs newest first, ids (UUIDv7, in creation order) breaking
// ties; limit 0 means all.
func (r reader) Runs(ctx context.Context, accountID, sourceID string, limit int) ([]directory.Run, error) {
	page, err := r.RunPage(ctx, accountID, store.RunQuery{SourceID: sourceID, Limit: limit})
	return page.Items, err
}

// RunPage lists runs as Runs does, from after a cursor (the start time
// and id of the previous page's last run).
func (r reader) RunPage(ctx context.Context, accountID string, rq store.RunQuery) (store.Page[directory.Run], error) {
	q := `SELECT ` + runCols + ` FROM runs WHERE account_id = ?`
	args := []any{accountID}
	if rq.SourceID != "" {
		q += ` AND source_id = ?`
		args = append(args, rq.SourceID)
	}
	if rq.After != "" {
		at, id, err := decodeTimeCursor(rq.After)
		if err != nil {
			return store.Page[directory.Run]{}, err
		}
		q += ` AND (started_at < ? OR (started_at = ? AND id < ?))`
		args = append(args, timeArg(at), timeArg(at), id)
	}
	q += ` ORDER BY started_at DESC, id DESC LIMIT ?`
	args = append(args, pageLimit(rq.Limit))
	runs, err := r.runs(ctx, "runs", q, args...)
	if err != nil {
		return store.Page[directory.Run]{}, err
	}
	page := store.Page[directory.Run]{Items: runs}
	if rq.Limit > 0 && len(runs) > rq.Limit {
		last := runs[rq.Limit-1]
		page.Items, page.Next = runs[:rq.Limit], encodeTimeCursor(last.StartedAt, last.ID)
	}
	return page, nil
}

// UnfinishedRuns lists the source's runs recorded as running, oldest first.
func (r reader) UnfinishedRuns(ctx context.Context, accountID, sourceID string) ([]directory.Run, error) {
	return r.runs(ctx, "unfinished runs", `SELECT `+runCols+` FROM runs WHERE account_id = ? AND source_id = ? AND outcome = ?
		ORDER BY started_at, id`, accountID, sourceID, string(directory.OutcomeRunning))
}

func (r reader) runs(ctx context.Context, what, q string, args ...any) ([]directory.Run, error) {
	rows, err := r.c.query(ctx, q, args...)
	if err != nil {
		return nil, wrap(err, r.c.f, "%s", what)
	}
	defer rows.Close()
	var out []directory.Run
	for rows.Next() {
		var run directory.Run
		if err := scanRun(rows, &run); err != nil {
			return nil, wrap(err, r.c.f, "%s", what)
		}
		out = append(out, run)
	}
	return out, wrap(rows.Err(), r.c.f, "%s", what)
}

// RunsByOutcome lists every account's runs with the outcome, oldest first.
func (r reader) RunsByOutcome(ctx context.Context, outcome directory.Outcome) ([]directory.Run, error) {
	return r.runs(ctx, "runs "+string(outcome), `SELECT `+runCols+` FROM runs WHERE outcome = ? ORDER BY started_at, id`, string(outcome))
}

// LastSuccesses reads each source's newest successful run by the runs'
// index on (source_id, started_at, id), from its newest run back to its
// first success: a few rows per source, however long the history.
func (r reader) LastSuccesses(ctx context.Context) ([]store.SourceSuccess, error) {
	rows, err := r.c.query(ctx, `SELECT s.account_id, s.id, s.name,
		(SELECT r.finished_at FROM runs r WHERE r.source_id = s.id AND r.outcome = ? AND r.dry_run = ?
			ORDER BY r.started_at DESC, r.id DESC LIMIT 1)
		FROM sources s ORDER BY s.account_id, s.id`, string(directory.OutcomeSucceeded), false)
	if err != nil {
		return nil, wrap(err, r.c.f, "last successes")
	}
	defer rows.Close()
	var out []store.SourceSuccess
	for rows.Next() {
		var s store.SourceSuccess
		if err := rows.Scan(&s.AccountID, &s.SourceID, &s.Source, nullTime{&s.FinishedAt}); err != nil {
			return nil, wrap(err, r.c.f, "last successes")
		}
		if !s.FinishedAt.IsZero() {
			out = append(out, s)
		}
	}
	return out, wrap(rows.Err(), r.c.f, "last successes")
}

// Changes lists a run's changes with Seq above after, in order; limit 0
// means all.
func (r reader) Changes(ctx context.Context, runID string, after, limit int) ([]directory.Change, error) {
	rows, err := r.c.query(ctx, `SELECT seq, data FROM changes WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
		runID, after, sqlLimit(limit))
	if err != nil {
		return nil, wrap(err, r.c.f, "changes of run %q", runID)
	}
	defer rows.Close()
	var out []directory.Change
	for rows.Next() {
		var (
			seq  int
			data string
		)
		if err := rows.Scan(&seq, &data); err != nil {
			return nil, wrap(err, r.c.f, "changes of run %q", runID)
		}
		c, err := decodeChange(data)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: changes of run %q: %w", runID, err)
		}
		c.RunID, c.Seq = runID, seq
		out = append(out, c)
	}
	return out, wrap(rows.Err(), r.c.f, "changes of run %q", runID)
}

// CreateRun records r, setting its ID; a zero StartedAt is now and an
// empty Outcome is running. A run's source, if it names one, must be of
// its account.
func (t *tx) CreateRun(ctx context.Context, r *directory.Run) error {
	if err := t.c.checkAccount(ctx, r.AccountID); err != nil {
		return fmt.Errorf("sqlstore: create run: %w", err)
	}
	if r.SourceID != "" {
		var one int
		err := t.c.row(ctx, `SELECT 1 FROM sources WHERE account_id = ? AND id = ?`, r.AccountID, r.SourceID).Scan(&one)
		if err != nil {
			return wrap(err, t.c.f, "create run: source %q", r.SourceID)
		}
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = t.c.s.now()
	}
	if r.Outcome == "" {
		r.Outcome = directory.OutcomeRunning
	}
	args, err := runArgs(r)
	if err != nil {
		return fmt.Errorf("sqlstore: create run: %w", err)
	}
	id := newID()
	args = append(args, id, r.AccountID, r.SourceID, timeArg(r.Slot))
	_, err = t.c.exec(ctx, `INSERT INTO runs (`+runWriteCols+`, id, account_id, source_id, slot)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return wrap(err, t.c.f, "create run")
	}
	r.ID = id
	return nil
}

// UpdateRun writes every field of r but ID, AccountID, SourceID and Slot,
// which a run keeps from its creation.
func (t *tx) UpdateRun(ctx context.Context, r directory.Run) error {
	args, err := runArgs(&r)
	if err != nil {
		return fmt.Errorf("sqlstore: update run: %w", err)
	}
	args = append(args, r.ID, r.AccountID)
	n, err := affected(t.c.exec(ctx, `UPDATE runs SET (`+runWriteCols+`) =
		(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) WHERE id = ? AND account_id = ?`, args...))
	if err == nil && n == 0 {
		err = sql.ErrNoRows
	}
	return wrap(err, t.c.f, "update run %q", r.ID)
}

// qPruneRuns deletes an account's runs finished before a time but for
// each source's newest run and newest successful run; the changes go with
// their run (ON DELETE CASCADE). By their end, not their start: a run's
// events are no later than its end, so a run outlives the events that are
// rebuilt from its changes (a run that ran across the cutoff is kept).
const qPruneRuns = `DELETE FROM runs WHERE account_id = ? AND COALESCE(finished_at, started_at) < ? AND outcome NOT IN (?, ?)
	AND id NOT IN (SELECT k.id FROM (
		SELECT (SELECT n.id FROM runs n WHERE n.source_id = s.id ORDER BY n.started_at DESC, n.id DESC LIMIT 1) AS id
			FROM sources s WHERE s.account_id = ?
		UNION
		SELECT (SELECT n.id FROM runs n WHERE n.source_id = s.id AND n.outcome = ? ORDER BY n.started_at DESC, n.id DESC LIMIT 1)
			FROM sources s WHERE s.account_id = ?) k
		WHERE k.id IS NOT NULL)`

// PruneRuns deletes the account's old finished runs and their changes.
func (t *tx) PruneRuns(ctx context.Context, accountID string, before time.Time) (int, error) {
	n, err := affected(t.c.exec(ctx, qPruneRuns, accountID, timeArg(before),
		string(directory.OutcomeQueued), string(directory.OutcomeRunning),
		accountID, string(directory.OutcomeSucceeded), accountID))
	if err != nil {
		return 0, wrap(err, t.c.f, "prune runs of account %q", accountID)
	}
	return int(n), nil
}

// changeBatch is how many changes one INSERT writes.
const changeBatch = 200

// AddChanges appends cs to the run's changes, numbering them on from the
// last (from 1); it sets RunID and Seq in cs.
func (t *tx) AddChanges(ctx context.Context, runID string, cs []directory.Change) error {
	var (
		runs int
		last int
	)
	err := t.c.row(ctx, `SELECT (SELECT COUNT(*) FROM runs WHERE id = ?), COALESCE((SELECT MAX(seq) FROM changes WHERE run_id = ?), 0)`,
		runID, runID).Scan(&runs, &last)
	if err == nil && runs == 0 {
		err = sql.ErrNoRows
	}
	if err != nil {
		return wrap(err, t.c.f, "add changes to run %q", runID)
	}
	if t.c.canCopy() {
		rows := make([][]any, len(cs))
		for i := range cs {
			last++
			cs[i].RunID, cs[i].Seq = runID, last
			data, err := encodeChange(cs[i])
			if err != nil {
				return fmt.Errorf("sqlstore: add changes to run %q: %w", runID, err)
			}
			rows[i] = []any{runID, last, data, changeUserID(cs[i])}
		}
		return wrap(t.c.copyRows(ctx, "changes", []string{"run_id", "seq", "data", "user_id"}, rows), t.c.f, "add changes to run %q", runID)
	}
	for start := 0; start < len(cs); start += changeBatch {
		batch := cs[start:min(start+changeBatch, len(cs))]
		args := make([]any, 0, 4*len(batch))
		for i := range batch {
			last++
			batch[i].RunID, batch[i].Seq = runID, last
			data, err := encodeChange(batch[i])
			if err != nil {
				return fmt.Errorf("sqlstore: add changes to run %q: %w", runID, err)
			}
			args = append(args, runID, last, data, changeUserID(batch[i]))
		}
		if err := t.c.insertRows(ctx, `INSERT INTO changes (run_id, seq, data, user_id) VALUES `, "(?, ?, ?, ?)", len(batch), changeBatch, "", args); err != nil {
			return wrap(err, t.c.f, "add changes to run %q", runID)
		}
	}
	return nil
}

// insertRows runs a multi-row INSERT of n rows of the tuple (with args
// laid out row after row) and the suffix (an ON CONFLICT clause). A full
// batch of full rows is a prepared statement; a shorter last one is not
// worth preparing.
func (c *conn) insertRows(ctx context.Context, prefix, tuple string, n, full int, suffix string, args []any) error {
	var b strings.Builder
	b.Grow(len(prefix) + n*(len(tuple)+2) + len(suffix) + 1)
	b.WriteString(prefix)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	b.WriteString(" ")
	b.WriteString(suffix)
	var err error
	if n == full {
		_, err = c.exec(ctx, b.String(), args...)
	} else {
		_, err = c.execOnce(ctx, b.String(), args...)
	}
	return err
}
