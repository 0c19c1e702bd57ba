package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// Enrollment cycles, the mail outbox and mail settings (store/mail.go).

const enrollmentCols = `id, account_id, user_id, source_id, email, status, created_at, expires_at, reminders_sent,
	next_reminder_at, ended_at, ended_via, last_mail_id`

func scanEnrollment(sc interface{ Scan(...any) error }, e *store.Enrollment) error {
	return sc.Scan(&e.ID, &e.AccountID, &e.UserID, &e.SourceID, &e.Email, &e.Status, nullTime{&e.CreatedAt},
		nullTime{&e.ExpiresAt}, &e.RemindersSent, nullTime{&e.NextReminderAt}, nullTime{&e.EndedAt}, &e.EndedVia, &e.LastMailID)
}

func (r reader) enrollments(ctx context.Context, what, q string, args ...any) ([]store.Enrollment, error) {
	rows, err := r.c.query(ctx, q, args...)
	if err != nil {
		return nil, wrap(err, r.c.f, "%s", what)
	}
	defer rows.Close()
	var out []store.Enrollment
	for rows.Next() {
		var e store.Enrollment
		if err := scanEnrollment(rows, &e); err != nil {
			return nil, wrap(err, r.c.f, "%s", what)
		}
		out = append(out, e)
	}
	return out, wrap(rows.Err(), r.c.f, "%s", what)
}

func (r reader) Enrollment(ctx context.Context, accountID, id string) (store.Enrollment, error) {
	var e store.Enrollment
	err := scanEnrollment(r.c.row(ctx, `SELECT `+enrollmentCols+` FROM enrollments WHERE account_id = ? AND id = ?`, accountID, id), &e)
	return e, wrap(err, r.c.f, "enrollment %q", id)
}

func (r reader) EnrollmentByToken(ctx context.Context, hash string) (store.Enrollment, error) {
	var e store.Enrollment
	err := scanEnrollment(r.c.row(ctx, `SELECT `+enrollmentCols+` FROM enrollments
		WHERE id = (SELECT enrollment_id FROM enrollment_tokens WHERE hash = ?)`, hash), &e)
	// The hash is a credential's digest: keep it out of the error.
	return e, wrap(err, r.c.f, "enrollment token")
}

func (r reader) Enrollments(ctx context.Context, accountID string, q store.EnrollmentQuery) (store.Page[store.Enrollment], error) {
	var page store.Page[store.Enrollment]
	var b strings.Builder
	args := []any{accountID}
	b.WriteString(`SELECT ` + enrollmentCols + ` FROM enrollments WHERE account_id = ?`)
	if len(q.Statuses) > 0 {
		b.WriteString(` AND status IN (?` + strings.Repeat(", ?", len(q.Statuses)-1) + `)`)
		for _, s := range q.Statuses {
			args = append(args, s)
		}
	}
	if q.UserID != "" {
		b.WriteString(` AND user_id = ?`)
		args = append(args, q.UserID)
	}
	if q.SourceID != "" {
		b.WriteString(` AND source_id = ?`)
		args = append(args, q.SourceID)
	}
	if q.Latest {
		b.WriteString(` AND id = (SELECT MAX(e2.id) FROM enrollments e2 WHERE e2.user_id = enrollments.user_id)`)
	}
	if q.After != "" {
		_, id, err := decodeCursor(q.After)
		if err != nil {
			return page, fmt.Errorf("sqlstore: enrollments: %w", err)
		}
		b.WriteString(` AND id > ?`)
		args = append(args, id)
	}
	b.WriteString(` ORDER BY id LIMIT ?`)
	args = append(args, pageLimit(q.Limit))
	items, err := r.enrollments(ctx, "enrollments", b.String(), args...)
	if items == nil {
		items = []store.Enrollment{}
	}
	if err != nil {
		return page, err
	}
	if q.Limit > 0 && len(items) > q.Limit {
		items = items[:q.Limit]
		page.Next = encodeCursor("e", items[q.Limit-1].ID)
	}
	page.Items = items
	return page, nil
}

func (r reader) DueReminders(ctx context.Context, now time.Time, limit int) ([]store.Enrollment, error) {
	return r.enrollments(ctx, "due reminders", `SELECT `+enrollmentCols+` FROM enrollments
		WHERE status = ? AND next_reminder_at IS NOT NULL AND next_reminder_at <= ? AND expires_at > ?
		ORDER BY next_reminder_at, id LIMIT ?`, store.EnrollmentPending, timeArg(now), timeArg(now), sqlLimit(limit))
}

func (r reader) EnrollmentCandidates(ctx context.Context, sourceID string, now time.Time, after string, limit int) ([]directory.User, error) {
	inner := `SELECT * FROM users WHERE id IN (SELECT l.user_id FROM user_links l WHERE l.source_id = ?)
		AND state = ? AND email <> '' AND id > ?
		AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.user_id = users.id
			AND (e.status = ? OR (e.status = ? AND e.expires_at > ?) OR (e.status = ? AND e.email = users.email)))
		ORDER BY id LIMIT ?`
	rows, err := r.c.query(ctx, userSelect(inner, `u.id`), sourceID, string(directory.StateActive), after,
		store.EnrollmentEnrolled, store.EnrollmentPending, timeArg(now), store.EnrollmentRefused, sqlLimit(limit))
	if err != nil {
		return nil, wrap(err, r.c.f, "enrollment candidates")
	}
	users, _, err := readUsers(rows)
	return users, wrap(err, r.c.f, "enrollment candidates")
}

func (t *tx) CreateEnrollment(ctx context.Context, e *store.Enrollment) error {
	if err := t.c.checkAccount(ctx, e.AccountID); err != nil {
		return fmt.Errorf("sqlstore: create enrollment: %w", err)
	}
	id := "enr_" + newID()
	_, err := t.c.exec(ctx, `INSERT INTO enrollments (`+enrollmentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, e.AccountID, e.UserID, e.SourceID, e.Email, e.Status, timeArg(e.CreatedAt), timeArg(e.ExpiresAt), e.RemindersSent,
		timeArg(e.NextReminderAt), timeArg(e.EndedAt), e.EndedVia, e.LastMailID)
	if err != nil {
		return wrap(err, t.c.f, "create enrollment")
	}
	e.ID = id
	return nil
}

func (t *tx) UpdateEnrollment(ctx context.Context, e store.Enrollment) error {
	n, err := affected(t.c.exec(ctx, `UPDATE enrollments SET email = ?, status = ?, expires_at = ?, reminders_sent = ?,
		next_reminder_at = ?, ended_at = ?, ended_via = ?, last_mail_id = ? WHERE account_id = ? AND id = ?`,
		e.Email, e.Status, timeArg(e.ExpiresAt), e.RemindersSent, timeArg(e.NextReminderAt), timeArg(e.EndedAt), e.EndedVia,
		e.LastMailID, e.AccountID, e.ID))
	if err == nil && n == 0 {
		err = sql.ErrNoRows
	}
	return wrap(err, t.c.f, "update enrollment %q", e.ID)
}

func (t *tx) AddEnrollmentToken(ctx context.Context, enrollmentID, hash string, at time.Time) error {
	if hash == "" {
		return errors.New("sqlstore: add enrollment token: empty hash")
	}
	_, err := t.c.exec(ctx, `INSERT INTO enrollment_tokens (hash, enrollment_id, created_at) VALUES (?, ?, ?)`,
		hash, enrollmentID, timeArg(at))
	return wrap(err, t.c.f, "add enrollment token")
}

func (t *tx) ExpireEnrollments(ctx context.Context, now time.Time) (int, error) {
	n, err := affected(t.c.exec(ctx, `UPDATE enrollments SET status = ?, ended_at = expires_at, next_reminder_at = NULL
		WHERE status = ? AND expires_at <= ?`, store.EnrollmentExpired, store.EnrollmentPending, timeArg(now)))
	return int(n), wrap(err, t.c.f, "expire enrollments")
}

const mailCols = `id, account_id, kind, to_addr, subject, body, ref, enrollment_id, dedupe_key, state, attempts,
	last_error, created_at, next_attempt_at, finished_at`

func scanMail(sc interface{ Scan(...any) error }, m *store.Mail) error {
	return sc.Scan(&m.ID, &m.AccountID, &m.Kind, &m.To, &m.Subject, &m.Body, &m.Ref, &m.EnrollmentID, &m.DedupeKey,
		&m.State, &m.Attempts, &m.LastError, nullTime{&m.CreatedAt}, nullTime{&m.NextAttemptAt}, nullTime{&m.FinishedAt})
}

func readMails(rows *sql.Rows) ([]store.Mail, error) {
	defer rows.Close()
	var out []store.Mail
	for rows.Next() {
		var m store.Mail
		if err := scanMail(rows, &m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func (r reader) Mail(ctx context.Context, accountID, id string) (store.Mail, error) {
	var m store.Mail
	err := scanMail(r.c.row(ctx, `SELECT `+mailCols+` FROM mail_outbox WHERE account_id = ? AND id = ?`, accountID, id), &m)
	return m, wrap(err, r.c.f, "mail %q", id)
}

func (r reader) Mails(ctx context.Context, accountID string, q store.MailQuery) (store.Page[store.Mail], error) {
	var page store.Page[store.Mail]
	var b strings.Builder
	args := []any{accountID}
	b.WriteString(`SELECT ` + mailCols + ` FROM mail_outbox WHERE account_id = ?`)
	for _, f := range []struct{ col, v string }{{"kind", q.Kind}, {"state", q.State}, {"ref", q.Ref}} {
		if f.v != "" {
			b.WriteString(` AND ` + f.col + ` = ?`)
			args = append(args, f.v)
		}
	}
	if q.After != "" {
		_, id, err := decodeCursor(q.After)
		if err != nil {
			return page, fmt.Errorf("sqlstore: mails: %w", err)
		}
		b.WriteString(` AND id < ?`)
		args = append(args, id)
	}
	b.WriteString(` ORDER BY id DESC LIMIT ?`)
	args = append(args, pageLimit(q.Limit))
	rows, err := r.c.queryOnce(ctx, b.String(), args...)
	if err != nil {
		return page, wrap(err, r.c.f, "mails")
	}
	items, err := readMails(rows)
	if err != nil {
		return page, wrap(err, r.c.f, "mails")
	}
	if q.Limit > 0 && len(items) > q.Limit {
		items = items[:q.Limit]
		page.Next = encodeCursor("m", items[q.Limit-1].ID)
	}
	page.Items = items
	return page, nil
}

func (r reader) MailSettings(ctx context.Context, accountID string) (store.MailSettings, error) {
	s := store.MailSettings{AccountID: accountID}
	var enr, notif string
	err := r.c.row(ctx, `SELECT enrollment, notifications FROM mail_settings WHERE account_id = ?`, accountID).Scan(&enr, &notif)
	if errors.Is(err, sql.ErrNoRows) {
		return s, nil
	}
	if enr != "" {
		s.Enrollment = []byte(enr)
	}
	if notif != "" {
		s.Notifications = []byte(notif)
	}
	return s, wrap(err, r.c.f, "mail settings of account %q", accountID)
}

func (t *tx) SetMailSettings(ctx context.Context, s store.MailSettings) error {
	if err := t.c.checkAccount(ctx, s.AccountID); err != nil {
		return fmt.Errorf("sqlstore: set mail settings: %w", err)
	}
	if _, err := t.c.exec(ctx, `DELETE FROM mail_settings WHERE account_id = ?`, s.AccountID); err != nil {
		return wrap(err, t.c.f, "set mail settings")
	}
	_, err := t.c.exec(ctx, `INSERT INTO mail_settings (account_id, enrollment, notifications) VALUES (?, ?, ?)`,
		s.AccountID, string(s.Enrollment), string(s.Notifications))
	return wrap(err, t.c.f, "set mail settings")
}

func (t *tx) EnqueueMail(ctx context.Context, m *store.Mail) (bool, error) {
	if m.To == "" || m.Kind == "" {
		return false, errors.New("sqlstore: enqueue mail: recipient and kind are required")
	}
	if m.DedupeKey != "" {
		var n int
		err := t.c.row(ctx, `SELECT COUNT(*) FROM mail_outbox WHERE account_id = ? AND dedupe_key = ?`, m.AccountID, m.DedupeKey).Scan(&n)
		if err != nil {
			return false, wrap(err, t.c.f, "enqueue mail")
		}
		if n > 0 {
			return false, nil
		}
	}
	if err := t.c.checkAccount(ctx, m.AccountID); err != nil {
		return false, fmt.Errorf("sqlstore: enqueue mail: %w", err)
	}
	id, now := "mail_"+newID(), t.c.s.now()
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now
	}
	if m.State == "" {
		m.State = store.MailQueued
	}
	_, err := t.c.exec(ctx, `INSERT INTO mail_outbox (`+mailCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, m.AccountID, m.Kind, m.To, m.Subject, m.Body, m.Ref, m.EnrollmentID, m.DedupeKey, m.State, m.Attempts,
		m.LastError, timeArg(m.CreatedAt), timeArg(m.NextAttemptAt), timeArg(m.FinishedAt))
	if err != nil {
		return false, wrap(err, t.c.f, "enqueue mail")
	}
	m.ID = id
	return true, nil
}

func (t *tx) ClaimMail(ctx context.Context, holder string, now, until time.Time, limit int) ([]store.Mail, error) {
	if holder == "" {
		return nil, errors.New("sqlstore: claim mail: empty holder")
	}
	q := `SELECT id FROM mail_outbox WHERE state = ? AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
		AND (claim_holder = '' OR claim_until IS NULL OR claim_until < ?) ORDER BY created_at, id LIMIT ?`
	if t.c.f.name == "postgres" {
		// A replica skips the rows another one is claiming, rather than
		// waiting for it and then finding them taken.
		q += ` FOR UPDATE SKIP LOCKED`
	}
	rows, err := t.c.query(ctx, q, store.MailQueued, timeArg(now), timeArg(now), sqlLimit(limit))
	if err != nil {
		return nil, wrap(err, t.c.f, "claim mail")
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, wrap(err, t.c.f, "claim mail")
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return nil, wrap(err, t.c.f, "claim mail")
	}
	var claimed []any
	for _, id := range ids {
		// The same condition again: the row lock makes the check and the
		// claim one step between replicas.
		n, err := affected(t.c.exec(ctx, `UPDATE mail_outbox SET claim_holder = ?, claim_until = ?
			WHERE id = ? AND state = ? AND (claim_holder = '' OR claim_until IS NULL OR claim_until < ?)`,
			holder, timeArg(until), id, store.MailQueued, timeArg(now)))
		if err != nil {
			return nil, wrap(err, t.c.f, "claim mail")
		}
		if n == 1 {
			claimed = append(claimed, id)
		}
	}
	if len(claimed) == 0 {
		return nil, nil
	}
	rows, err = t.c.queryOnce(ctx, `SELECT `+mailCols+` FROM mail_outbox WHERE id IN (?`+strings.Repeat(", ?", len(claimed)-1)+`)
		ORDER BY created_at, id`, claimed...)
	if err != nil {
		return nil, wrap(err, t.c.f, "claim mail")
	}
	out, err := readMails(rows)
	return out, wrap(err, t.c.f, "claim mail")
}

func (t *tx) FinishMail(ctx context.Context, m store.Mail, holder string) (bool, error) {
	n, err := affected(t.c.exec(ctx, `UPDATE mail_outbox SET state = ?, attempts = ?, last_error = ?, next_attempt_at = ?,
		finished_at = ?, body = ?, claim_holder = '', claim_until = NULL WHERE id = ? AND claim_holder = ?`,
		m.State, m.Attempts, m.LastError, timeArg(m.NextAttemptAt), timeArg(m.FinishedAt), m.Body, m.ID, holder))
	return n == 1, wrap(err, t.c.f, "finish mail %q", m.ID)
}

func (t *tx) WithdrawMail(ctx context.Context, accountID, enrollmentID string, now time.Time) (int, error) {
	n, err := affected(t.c.exec(ctx, `UPDATE mail_outbox SET state = ?, body = NULL, finished_at = ?
		WHERE account_id = ? AND enrollment_id = ? AND state = ? AND (claim_holder = '' OR claim_until < ?)`,
		store.MailWithdrawn, timeArg(now), accountID, enrollmentID, store.MailQueued, timeArg(now)))
	return int(n), wrap(err, t.c.f, "withdraw mail")
}

func (t *tx) ReleaseMail(ctx context.Context, id, holder string) error {
	_, err := t.c.exec(ctx, `UPDATE mail_outbox SET claim_holder = '', claim_until = NULL WHERE id = ? AND claim_holder = ?`, id, holder)
	return wrap(err, t.c.f, "release mail %q", id)
}

func (t *tx) PruneMail(ctx context.Context, before time.Time) (int, error) {
	n, err := affected(t.c.exec(ctx, `DELETE FROM mail_outbox WHERE state <> ? AND finished_at < ?`, store.MailQueued, timeArg(before)))
	return int(n), wrap(err, t.c.f, "prune mail")
}
