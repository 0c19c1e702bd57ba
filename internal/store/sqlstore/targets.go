package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// What provisioning into a target keeps: targets, the target's cached
// objects, links, sync errors and export runs.

const targetCols = `id, account_id, name, kind, config, secret, settings, enabled, created_at, updated_at`

func scanTarget(sc interface{ Scan(...any) error }, t *directory.Target) error {
	var settings string
	err := sc.Scan(&t.ID, &t.AccountID, &t.Name, &t.Kind, &t.Config, &t.Secret, &settings, &t.Enabled,
		nullTime{&t.CreatedAt}, nullTime{&t.UpdatedAt})
	if settings != "" {
		t.Settings = []byte(settings)
	}
	if len(t.Config) == 0 {
		t.Config = nil
	}
	if len(t.Secret) == 0 {
		t.Secret = nil
	}
	return err
}

func (r reader) Target(ctx context.Context, accountID, nameOrID string) (directory.Target, error) {
	var t directory.Target
	err := scanTarget(r.c.row(ctx, `SELECT `+targetCols+` FROM targets
		WHERE account_id = ? AND (id = ? OR name_key = ?)
		ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END LIMIT 1`,
		accountID, nameOrID, key(nameOrID), nameOrID), &t)
	if err != nil {
		return directory.Target{}, wrap(err, r.c.f, "target %q", nameOrID)
	}
	return t, nil
}

func (r reader) Targets(ctx context.Context, accountID string) ([]directory.Target, error) {
	rows, err := r.c.query(ctx, `SELECT `+targetCols+` FROM targets WHERE account_id = ? ORDER BY name_key, id`, accountID)
	if err != nil {
		return nil, wrap(err, r.c.f, "targets")
	}
	defer rows.Close()
	out := []directory.Target{}
	for rows.Next() {
		var t directory.Target
		if err := scanTarget(rows, &t); err != nil {
			return nil, wrap(err, r.c.f, "targets")
		}
		out = append(out, t)
	}
	return out, wrap(rows.Err(), r.c.f, "targets")
}

func (r reader) TargetState(ctx context.Context, targetID string) (string, error) {
	var state string
	err := r.c.row(ctx, `SELECT state FROM targets WHERE id = ?`, targetID).Scan(&state)
	return state, wrap(err, r.c.f, "target %q state", targetID)
}

func (r reader) TargetObjects(ctx context.Context, targetID, kind string) ([]store.TargetObject, error) {
	rows, err := r.c.query(ctx, `SELECT kind, cloud_id, data FROM target_objects WHERE target_id = ? AND kind = ? ORDER BY cloud_id`, targetID, kind)
	if err != nil {
		return nil, wrap(err, r.c.f, "target objects")
	}
	defer rows.Close()
	var out []store.TargetObject
	for rows.Next() {
		var o store.TargetObject
		var data string
		if err := rows.Scan(&o.Kind, &o.CloudID, &data); err != nil {
			return nil, wrap(err, r.c.f, "target objects")
		}
		o.Data = []byte(data)
		out = append(out, o)
	}
	return out, wrap(rows.Err(), r.c.f, "target objects")
}

func (r reader) TargetLinks(ctx context.Context, targetID string) ([]store.TargetLink, error) {
	rows, err := r.c.query(ctx, `SELECT kind, anchor, cloud_id, created_at FROM target_links WHERE target_id = ? ORDER BY kind, anchor`, targetID)
	if err != nil {
		return nil, wrap(err, r.c.f, "target links")
	}
	defer rows.Close()
	out := []store.TargetLink{}
	for rows.Next() {
		var l store.TargetLink
		if err := rows.Scan(&l.Kind, &l.Anchor, &l.CloudID, nullTime{&l.CreatedAt}); err != nil {
			return nil, wrap(err, r.c.f, "target links")
		}
		out = append(out, l)
	}
	return out, wrap(rows.Err(), r.c.f, "target links")
}

func (r reader) TargetErrors(ctx context.Context, targetID string) ([]store.TargetError, error) {
	rows, err := r.c.query(ctx, `SELECT kind, anchor, object, attribute, value, code, message, first_seen, last_seen
		FROM target_errors WHERE target_id = ? ORDER BY kind, object, anchor, attribute`, targetID)
	if err != nil {
		return nil, wrap(err, r.c.f, "target errors")
	}
	defer rows.Close()
	out := []store.TargetError{}
	for rows.Next() {
		var e store.TargetError
		if err := rows.Scan(&e.Kind, &e.Anchor, &e.Object, &e.Attribute, &e.Value, &e.Code, &e.Message,
			nullTime{&e.FirstSeen}, nullTime{&e.LastSeen}); err != nil {
			return nil, wrap(err, r.c.f, "target errors")
		}
		out = append(out, e)
	}
	return out, wrap(rows.Err(), r.c.f, "target errors")
}

const exportRunCols = `id, account_id, target_id, mode, staging, outcome, reason, started_at, finished_at, summary, plan`

func scanExportRun(sc interface{ Scan(...any) error }, r *store.ExportRun) error {
	var summary, plan string
	err := sc.Scan(&r.ID, &r.AccountID, &r.TargetID, &r.Mode, &r.Staging, &r.Outcome, &r.Reason,
		nullTime{&r.StartedAt}, nullTime{&r.FinishedAt}, &summary, &plan)
	if summary != "" {
		r.Summary = []byte(summary)
	}
	if plan != "" {
		r.Plan = []byte(plan)
	}
	return err
}

func (r reader) ExportRun(ctx context.Context, accountID, id string) (store.ExportRun, error) {
	var run store.ExportRun
	err := scanExportRun(r.c.row(ctx, `SELECT `+exportRunCols+` FROM export_runs WHERE account_id = ? AND id = ?`, accountID, id), &run)
	return run, wrap(err, r.c.f, "export run %q", id)
}

func (r reader) ExportRuns(ctx context.Context, targetID string, limit int) ([]store.ExportRun, error) {
	p, err := r.ExportRunPage(ctx, targetID, "", max(limit, 0))
	if p.Items == nil {
		p.Items = []store.ExportRun{}
	}
	return p.Items, err
}

// ExportRunPage pages a target's runs newest first, by a keyset on the
// run's id (time-ordered); the cursor is the last id of the page.
func (r reader) ExportRunPage(ctx context.Context, targetID, after string, limit int) (store.Page[store.ExportRun], error) {
	q := `SELECT ` + exportRunCols + ` FROM export_runs WHERE target_id = ?`
	args := []any{targetID}
	if after != "" {
		q += ` AND id < ?`
		args = append(args, after)
	}
	rows, err := r.c.query(ctx, q+` ORDER BY id DESC LIMIT ?`, append(args, pageLimit(limit))...)
	if err != nil {
		return store.Page[store.ExportRun]{}, wrap(err, r.c.f, "export runs")
	}
	defer rows.Close()
	var out []store.ExportRun
	for rows.Next() {
		var run store.ExportRun
		if err := scanExportRun(rows, &run); err != nil {
			return store.Page[store.ExportRun]{}, wrap(err, r.c.f, "export runs")
		}
		out = append(out, run)
	}
	if err := rows.Err(); err != nil {
		return store.Page[store.ExportRun]{}, wrap(err, r.c.f, "export runs")
	}
	p := store.Page[store.ExportRun]{Items: out}
	if limit > 0 && len(out) > limit {
		p.Items, p.Next = out[:limit], out[limit-1].ID
	}
	return p, nil
}

func (t *tx) CreateTarget(ctx context.Context, tg *directory.Target) error {
	if tg.Name == "" {
		return errors.New("sqlstore: create target: empty name")
	}
	if err := t.c.checkAccount(ctx, tg.AccountID); err != nil {
		return fmt.Errorf("sqlstore: create target %q: %w", tg.Name, err)
	}
	id, now := newID(), t.c.s.now()
	res, err := t.c.exec(ctx, `INSERT INTO targets (id, account_id, name, name_key, kind, config, secret, settings, enabled, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		id, tg.AccountID, tg.Name, key(tg.Name), tg.Kind, tg.Config, tg.Secret, string(tg.Settings), tg.Enabled, now, now)
	if err := inserted(res, err, t.c.f, "create target %q", tg.Name); err != nil {
		return err
	}
	tg.ID, tg.CreatedAt, tg.UpdatedAt = id, now, now
	return nil
}

func (t *tx) UpdateTarget(ctx context.Context, tg directory.Target) error {
	if tg.Name == "" {
		return errors.New("sqlstore: update target: empty name")
	}
	n, err := affected(t.c.exec(ctx, `UPDATE targets SET name = ?, name_key = ?, kind = ?, config = ?, secret = ?,
			settings = ?, enabled = ?, updated_at = ?
		WHERE id = ? AND account_id = ?
		AND NOT EXISTS (SELECT 1 FROM targets o WHERE o.account_id = ? AND o.name_key = ? AND o.id <> ?)`,
		tg.Name, key(tg.Name), tg.Kind, tg.Config, tg.Secret, string(tg.Settings), tg.Enabled, t.c.s.now(),
		tg.ID, tg.AccountID, tg.AccountID, key(tg.Name), tg.ID))
	if err != nil {
		return wrap(err, t.c.f, "update target %q", tg.Name)
	}
	if n == 0 {
		if _, err := t.Target(ctx, tg.AccountID, tg.ID); err != nil {
			return fmt.Errorf("sqlstore: update target: %w", err)
		}
		return fmt.Errorf("sqlstore: update target %q: name taken: %w", tg.Name, store.ErrAlreadyExists)
	}
	return nil
}

func (t *tx) DeleteTarget(ctx context.Context, accountID, id string) error {
	var tid string
	if err := t.c.row(ctx, `SELECT id FROM targets WHERE account_id = ? AND id = ?`, accountID, id).Scan(&tid); err != nil {
		return wrap(err, t.c.f, "delete target %q", id)
	}
	for _, q := range []string{
		`DELETE FROM target_objects WHERE target_id = ?`,
		`DELETE FROM target_links WHERE target_id = ?`,
		`DELETE FROM target_errors WHERE target_id = ?`,
		`DELETE FROM export_runs WHERE target_id = ?`,
		`DELETE FROM targets WHERE id = ?`,
	} {
		if _, err := t.c.exec(ctx, q, tid); err != nil {
			return wrap(err, t.c.f, "delete target %q", id)
		}
	}
	return nil
}

func (t *tx) SetTargetState(ctx context.Context, targetID, state string) error {
	n, err := affected(t.c.exec(ctx, `UPDATE targets SET state = ? WHERE id = ?`, state, targetID))
	if err == nil && n == 0 {
		return wrap(sql.ErrNoRows, t.c.f, "set target %q state", targetID)
	}
	return wrap(err, t.c.f, "set target %q state", targetID)
}

func (t *tx) PutTargetObjects(ctx context.Context, targetID string, objs []store.TargetObject) error {
	for _, o := range objs {
		_, err := t.c.exec(ctx, `INSERT INTO target_objects (target_id, kind, cloud_id, data) VALUES (?, ?, ?, ?)
			ON CONFLICT (target_id, kind, cloud_id) DO UPDATE SET data = excluded.data`, targetID, o.Kind, o.CloudID, string(o.Data))
		if err != nil {
			return wrap(err, t.c.f, "put target object %s %s", o.Kind, o.CloudID)
		}
	}
	return nil
}

func (t *tx) DeleteTargetObjects(ctx context.Context, targetID, kind string, cloudIDs []string) error {
	for _, id := range cloudIDs {
		if _, err := t.c.exec(ctx, `DELETE FROM target_objects WHERE target_id = ? AND kind = ? AND cloud_id = ?`, targetID, kind, id); err != nil {
			return wrap(err, t.c.f, "delete target object %s %s", kind, id)
		}
	}
	return nil
}

func (t *tx) ClearTargetObjects(ctx context.Context, targetID string) error {
	if _, err := t.c.exec(ctx, `DELETE FROM target_objects WHERE target_id = ?`, targetID); err != nil {
		return wrap(err, t.c.f, "clear target objects")
	}
	_, err := t.c.exec(ctx, `UPDATE targets SET state = '' WHERE id = ?`, targetID)
	return wrap(err, t.c.f, "clear target state")
}

func (t *tx) SetTargetLink(ctx context.Context, targetID string, l store.TargetLink) error {
	created := l.CreatedAt
	if created.IsZero() {
		created = t.c.s.now()
	}
	_, err := t.c.exec(ctx, `INSERT INTO target_links (target_id, kind, anchor, cloud_id, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (target_id, kind, anchor) DO UPDATE SET cloud_id = excluded.cloud_id`, targetID, l.Kind, l.Anchor, l.CloudID, timeArg(created))
	return wrap(err, t.c.f, "set target link %s %s", l.Kind, l.Anchor)
}

func (t *tx) DeleteTargetLink(ctx context.Context, targetID, kind, anchor string) error {
	_, err := t.c.exec(ctx, `DELETE FROM target_links WHERE target_id = ? AND kind = ? AND anchor = ?`, targetID, kind, anchor)
	return wrap(err, t.c.f, "delete target link %s %s", kind, anchor)
}

func (t *tx) ReplaceTargetErrors(ctx context.Context, targetID string, errs []store.TargetError) error {
	if _, err := t.c.exec(ctx, `DELETE FROM target_errors WHERE target_id = ?`, targetID); err != nil {
		return wrap(err, t.c.f, "replace target errors")
	}
	for _, e := range errs {
		_, err := t.c.exec(ctx, `INSERT INTO target_errors (target_id, kind, anchor, object, attribute, value, code, message, first_seen, last_seen)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, targetID, e.Kind, e.Anchor, e.Object, e.Attribute, e.Value, e.Code, e.Message,
			timeArg(e.FirstSeen), timeArg(e.LastSeen))
		if err != nil {
			return wrap(err, t.c.f, "replace target errors")
		}
	}
	return nil
}

func (t *tx) CreateExportRun(ctx context.Context, r *store.ExportRun) error {
	if err := t.c.checkAccount(ctx, r.AccountID); err != nil {
		return fmt.Errorf("sqlstore: create export run: %w", err)
	}
	id := newID()
	_, err := t.c.exec(ctx, `INSERT INTO export_runs (`+exportRunCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, r.AccountID, r.TargetID, r.Mode, r.Staging, r.Outcome, r.Reason, timeArg(r.StartedAt), timeArg(r.FinishedAt),
		string(r.Summary), string(r.Plan))
	if err != nil {
		return wrap(err, t.c.f, "create export run")
	}
	r.ID = id
	return nil
}

func (t *tx) UpdateExportRun(ctx context.Context, r store.ExportRun) error {
	n, err := affected(t.c.exec(ctx, `UPDATE export_runs SET mode = ?, staging = ?, outcome = ?, reason = ?, finished_at = ?,
		summary = ?, plan = ? WHERE id = ? AND account_id = ?`, r.Mode, r.Staging, r.Outcome, r.Reason, timeArg(r.FinishedAt),
		string(r.Summary), string(r.Plan), r.ID, r.AccountID))
	if err == nil && n == 0 {
		return wrap(sql.ErrNoRows, t.c.f, "update export run %q", r.ID)
	}
	return wrap(err, t.c.f, "update export run %q", r.ID)
}
