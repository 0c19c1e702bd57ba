package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dirsync/dirsync/internal/store"
)

// What dirsync serve keeps: tokens, webhooks, deliveries and schedules.
// The reader methods serve both the Store (outside a transaction) and a tx.

var (
	_ store.Reader = (*Store)(nil)
	_ store.Tx     = (*tx)(nil)
)

const tokenCols = `id, account_id, name, role, hash, prefix, created_at, revoked_at`

func scanToken(sc interface{ Scan(...any) error }, t *store.APIToken) error {
	return sc.Scan(&t.ID, &t.AccountID, &t.Name, &t.Role, &t.Hash, &t.Prefix, nullTime{&t.CreatedAt}, nullTime{&t.RevokedAt})
}

func (r reader) TokenByHash(ctx context.Context, hash string) (store.APIToken, error) {
	var t store.APIToken
	err := scanToken(r.c.row(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = ?`, hash), &t)
	// The hash is a credential's digest: keep it out of the error.
	return t, wrap(err, r.c.f, "token")
}

func (r reader) Tokens(ctx context.Context, accountID string) ([]store.APIToken, error) {
	return collect(ctx, r.c, "tokens", scanToken, `SELECT `+tokenCols+` FROM api_tokens WHERE account_id = ? ORDER BY created_at, id`, accountID)
}

func (t *tx) CreateToken(ctx context.Context, tok *store.APIToken) error {
	if tok.Hash == "" || tok.Role == "" {
		return errors.New("sqlstore: create token: hash and role are required")
	}
	if err := t.c.checkAccount(ctx, tok.AccountID); err != nil {
		return fmt.Errorf("sqlstore: create token: %w", err)
	}
	id, now := "tok_"+newID(), t.c.s.now()
	_, err := t.c.exec(ctx, `INSERT INTO api_tokens (id, account_id, name, role, hash, prefix, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, tok.AccountID, tok.Name, tok.Role, tok.Hash, tok.Prefix, now)
	if err != nil {
		return wrap(err, t.c.f, "create token")
	}
	tok.ID, tok.CreatedAt = id, now
	return nil
}

func (t *tx) RevokeToken(ctx context.Context, accountID, id string, now time.Time) error {
	n, err := affected(t.c.exec(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE account_id = ? AND id = ?`,
		timeArg(now), accountID, id))
	if err == nil && n == 0 {
		err = sql.ErrNoRows
	}
	return wrap(err, t.c.f, "revoke token %q", id)
}

const webhookCols = `id, account_id, url, event_types, secret, enabled, created_at, cursor, attempts, first_failed_at, next_attempt_at`

func scanWebhook(sc interface{ Scan(...any) error }, w *store.Webhook) error {
	var types string
	err := sc.Scan(&w.ID, &w.AccountID, &w.URL, &types, &w.Secret, &w.Enabled, nullTime{&w.CreatedAt},
		&w.Cursor, &w.Attempts, nullTime{&w.FirstFailedAt}, nullTime{&w.NextAttemptAt})
	if err != nil {
		return err
	}
	w.EventTypes = []string{}
	if types != "" {
		if err := json.Unmarshal([]byte(types), &w.EventTypes); err != nil {
			return fmt.Errorf("webhook %s event types: %w", w.ID, err)
		}
	}
	return nil
}

func (r reader) webhooks(ctx context.Context, what, q string, args ...any) ([]store.Webhook, error) {
	return collect(ctx, r.c, what, scanWebhook, q, args...)
}

func (r reader) Webhook(ctx context.Context, accountID, id string) (store.Webhook, error) {
	var w store.Webhook
	err := scanWebhook(r.c.row(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE account_id = ? AND id = ?`, accountID, id), &w)
	return w, wrap(err, r.c.f, "webhook %q", id)
}

func (r reader) Webhooks(ctx context.Context, accountID string) ([]store.Webhook, error) {
	return r.webhooks(ctx, "webhooks", `SELECT `+webhookCols+` FROM webhooks WHERE account_id = ? ORDER BY created_at, id`, accountID)
}

func (r reader) AllWebhooks(ctx context.Context) ([]store.Webhook, error) {
	return r.webhooks(ctx, "all webhooks", `SELECT `+webhookCols+` FROM webhooks WHERE enabled = ? ORDER BY created_at, id`, true)
}

func typesArg(types []string) (string, error) {
	if len(types) == 0 {
		return "", nil
	}
	b, err := json.Marshal(types)
	return string(b), err
}

func (t *tx) CreateWebhook(ctx context.Context, w *store.Webhook) error {
	if w.URL == "" {
		return errors.New("sqlstore: create webhook: empty url")
	}
	if err := t.c.checkAccount(ctx, w.AccountID); err != nil {
		return fmt.Errorf("sqlstore: create webhook: %w", err)
	}
	types, err := typesArg(w.EventTypes)
	if err != nil {
		return fmt.Errorf("sqlstore: create webhook: %w", err)
	}
	id, now := "wh_"+newID(), t.c.s.now()
	_, err = t.c.exec(ctx, `INSERT INTO webhooks (id, account_id, url, event_types, secret, enabled, created_at, cursor, attempts)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)`, id, w.AccountID, w.URL, types, w.Secret, w.Enabled, now, w.Cursor)
	if err != nil {
		return wrap(err, t.c.f, "create webhook")
	}
	w.ID, w.CreatedAt = id, now
	return nil
}

func (t *tx) UpdateWebhook(ctx context.Context, w store.Webhook) error {
	types, err := typesArg(w.EventTypes)
	if err != nil {
		return fmt.Errorf("sqlstore: update webhook: %w", err)
	}
	n, err := affected(t.c.exec(ctx, `UPDATE webhooks SET url = ?, event_types = ?, secret = ?, enabled = ?
		WHERE account_id = ? AND id = ?`,
		w.URL, types, w.Secret, w.Enabled, w.AccountID, w.ID))
	if err == nil && n == 0 {
		err = sql.ErrNoRows
	}
	return wrap(err, t.c.f, "update webhook %q", w.ID)
}

func (t *tx) SaveWebhookState(ctx context.Context, w store.Webhook, holder string) (bool, error) {
	n, err := affected(t.c.exec(ctx, `UPDATE webhooks SET cursor = ?, attempts = ?, first_failed_at = ?, next_attempt_at = ?
		WHERE account_id = ? AND id = ? AND (? = '' OR lease_holder = ?)`,
		w.Cursor, w.Attempts, timeArg(w.FirstFailedAt), timeArg(w.NextAttemptAt), w.AccountID, w.ID, holder, holder))
	return n == 1, wrap(err, t.c.f, "save webhook %q delivery state", w.ID)
}

func (t *tx) ClaimWebhook(ctx context.Context, id, holder string, now, until time.Time) (bool, error) {
	if holder == "" {
		return false, errors.New("sqlstore: claim webhook: empty holder")
	}
	// One statement: the row lock makes the check and the claim atomic
	// between replicas.
	n, err := affected(t.c.exec(ctx, `UPDATE webhooks SET lease_holder = ?, lease_until = ?
		WHERE id = ? AND enabled = ? AND (lease_holder = '' OR lease_holder = ? OR lease_until IS NULL OR lease_until < ?)`,
		holder, timeArg(until), id, true, holder, timeArg(now)))
	return n == 1, wrap(err, t.c.f, "claim webhook %q", id)
}

func (t *tx) ReleaseWebhook(ctx context.Context, id, holder string) error {
	_, err := t.c.exec(ctx, `UPDATE webhooks SET lease_holder = '', lease_until = NULL WHERE id = ? AND lease_holder = ?`, id, holder)
	return wrap(err, t.c.f, "release webhook %q", id)
}

func (t *tx) DeleteWebhook(ctx context.Context, accountID, id string) error {
	n, err := affected(t.c.exec(ctx, `DELETE FROM webhooks WHERE account_id = ? AND id = ?`, accountID, id))
	if err == nil && n == 0 {
		err = sql.ErrNoRows
	}
	if err == nil {
		_, err = t.c.exec(ctx, `DELETE FROM webhook_deliveries WHERE webhook_id = ?`, id)
	}
	return wrap(err, t.c.f, "delete webhook %q", id)
}

const deliveryCols = `id, webhook_id, account_id, event_id, event_seq, event_type, attempt, outcome, http_status, error, error_summary, time, duration_ms`

func (r reader) Deliveries(ctx context.Context, accountID, webhookID string, limit int) ([]store.Delivery, error) {
	page, err := r.DeliveryPage(ctx, accountID, webhookID, "", limit)
	return page.Items, err
}

// DeliveryPage lists the delivery log newest first, from after a cursor
// (the time and id of the previous page's last attempt).
func (r reader) DeliveryPage(ctx context.Context, accountID, webhookID, after string, limit int) (store.Page[store.Delivery], error) {
	q := `SELECT ` + deliveryCols + ` FROM webhook_deliveries WHERE account_id = ? AND webhook_id = ?`
	args := []any{accountID, webhookID}
	if after != "" {
		at, id, err := decodeTimeCursor(after)
		if err != nil {
			return store.Page[store.Delivery]{}, err
		}
		q += ` AND (time < ? OR (time = ? AND id < ?))`
		args = append(args, timeArg(at), timeArg(at), id)
	}
	rows, err := r.c.query(ctx, q+` ORDER BY time DESC, id DESC LIMIT ?`, append(args, pageLimit(limit))...)
	if err != nil {
		return store.Page[store.Delivery]{}, wrap(err, r.c.f, "deliveries")
	}
	defer rows.Close()
	page := store.Page[store.Delivery]{Items: []store.Delivery{}}
	for rows.Next() {
		var d store.Delivery
		if err := rows.Scan(&d.ID, &d.WebhookID, &d.AccountID, &d.EventID, &d.EventSeq, &d.EventType, &d.Attempt,
			&d.Outcome, &d.HTTPStatus, &d.Error, &d.ErrorSummary, nullTime{&d.Time}, &d.DurationMS); err != nil {
			return store.Page[store.Delivery]{}, wrap(err, r.c.f, "deliveries")
		}
		page.Items = append(page.Items, d)
	}
	if limit > 0 && len(page.Items) > limit {
		last := page.Items[limit-1]
		page.Items, page.Next = page.Items[:limit], encodeTimeCursor(last.Time, last.ID)
	}
	return page, wrap(rows.Err(), r.c.f, "deliveries")
}

func (t *tx) AddDelivery(ctx context.Context, d *store.Delivery) error {
	id := "dlv_" + newID()
	_, err := t.c.exec(ctx, `INSERT INTO webhook_deliveries (`+deliveryCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, d.WebhookID, d.AccountID, d.EventID, d.EventSeq, d.EventType, d.Attempt, d.Outcome, d.HTTPStatus, d.Error,
		d.ErrorSummary, timeArg(d.Time), d.DurationMS)
	if err != nil {
		return wrap(err, t.c.f, "add delivery")
	}
	d.ID = id
	return nil
}

func (t *tx) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	n, err := affected(t.c.exec(ctx, `DELETE FROM webhook_deliveries WHERE time < ?`, timeArg(before)))
	return int(n), wrap(err, t.c.f, "prune deliveries")
}

func scanSchedule(sc interface{ Scan(...any) error }, s *store.SourceSchedule) error {
	var spec string
	if err := sc.Scan(&s.SourceID, &s.AccountID, &spec, nullTime{&s.LastRun}); err != nil {
		return err
	}
	s.Spec = json.RawMessage(spec)
	return nil
}

func (r reader) SourceSchedule(ctx context.Context, sourceID string) (store.SourceSchedule, error) {
	var s store.SourceSchedule
	err := scanSchedule(r.c.row(ctx, `SELECT source_id, account_id, spec, last_run FROM source_schedules WHERE source_id = ?`, sourceID), &s)
	return s, wrap(err, r.c.f, "schedule of source %q", sourceID)
}

func (r reader) SourceSchedules(ctx context.Context) ([]store.SourceSchedule, error) {
	rows, err := r.c.query(ctx, `SELECT source_id, account_id, spec, last_run FROM source_schedules ORDER BY source_id`)
	if err != nil {
		return nil, wrap(err, r.c.f, "schedules")
	}
	defer rows.Close()
	var out []store.SourceSchedule
	for rows.Next() {
		var s store.SourceSchedule
		if err := scanSchedule(rows, &s); err != nil {
			return nil, wrap(err, r.c.f, "schedules")
		}
		out = append(out, s)
	}
	return out, wrap(rows.Err(), r.c.f, "schedules")
}

func (t *tx) SetSourceSchedule(ctx context.Context, s store.SourceSchedule) error {
	if len(s.Spec) == 0 {
		return errors.New("sqlstore: set schedule: empty spec")
	}
	// Delete then insert: the same on both databases, and a schedule is
	// written rarely.
	if _, err := t.c.exec(ctx, `DELETE FROM source_schedules WHERE source_id = ?`, s.SourceID); err != nil {
		return wrap(err, t.c.f, "set schedule of source %q", s.SourceID)
	}
	_, err := t.c.exec(ctx, `INSERT INTO source_schedules (source_id, account_id, spec, last_run) VALUES (?, ?, ?, ?)`,
		s.SourceID, s.AccountID, string(s.Spec), timeArg(s.LastRun))
	return wrap(err, t.c.f, "set schedule of source %q", s.SourceID)
}

func (r reader) SourceHealth(ctx context.Context, sourceID string) (store.SourceHealth, error) {
	var h store.SourceHealth
	err := r.c.row(ctx, `SELECT source_id, account_id, auth_failing, auth_message, since, expiry_notified_days
		FROM source_health WHERE source_id = ?`, sourceID).Scan(&h.SourceID, &h.AccountID, &h.AuthFailing, &h.AuthMessage,
		nullTime{&h.Since}, &h.ExpiryNotifiedDays)
	return h, wrap(err, r.c.f, "health of source %q", sourceID)
}

func (t *tx) SetSourceHealth(ctx context.Context, h store.SourceHealth) error {
	if _, err := t.c.exec(ctx, `DELETE FROM source_health WHERE source_id = ?`, h.SourceID); err != nil {
		return wrap(err, t.c.f, "set health of source %q", h.SourceID)
	}
	_, err := t.c.exec(ctx, `INSERT INTO source_health (source_id, account_id, auth_failing, auth_message, since, expiry_notified_days)
		VALUES (?, ?, ?, ?, ?, ?)`, h.SourceID, h.AccountID, h.AuthFailing, h.AuthMessage, timeArg(h.Since), h.ExpiryNotifiedDays)
	return wrap(err, t.c.f, "set health of source %q", h.SourceID)
}

func (r reader) LastEventSeq(ctx context.Context, accountID string) (int64, error) {
	var seq int64
	err := r.c.row(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events WHERE account_id = ?`, accountID).Scan(&seq)
	return seq, wrap(err, r.c.f, "last event of account %q", accountID)
}
