-- Mail (issue 15): each user's enrollment cycles and the hashes of the
-- tokens their links carry; the outbox every mail goes through, which
-- stays as the record of what became of it (its body, which may hold a
-- link, is sealed and dropped once the mail is done); and each account's
-- mail settings (the enrollment template, who is notified) as JSON.

-- +goose Up
CREATE TABLE mail_settings (
    account_id    TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    enrollment    TEXT NOT NULL DEFAULT '',
    notifications TEXT NOT NULL DEFAULT ''
);

CREATE TABLE enrollments (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source_id        TEXT NOT NULL DEFAULT '',
    email            TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    expires_at       TIMESTAMP,
    reminders_sent   INTEGER NOT NULL DEFAULT 0,
    next_reminder_at TIMESTAMP,
    ended_at         TIMESTAMP,
    ended_via        TEXT NOT NULL DEFAULT '',
    last_mail_id     TEXT NOT NULL DEFAULT ''
);
-- One open cycle per user, whoever starts it.
CREATE UNIQUE INDEX enrollments_open ON enrollments (user_id) WHERE status = 'pending';
CREATE INDEX enrollments_user ON enrollments (user_id, status);
CREATE INDEX enrollments_expiry ON enrollments (status, expires_at);
CREATE INDEX enrollments_source ON enrollments (source_id, status);
CREATE INDEX enrollments_account ON enrollments (account_id, status, id);
CREATE INDEX enrollments_reminder ON enrollments (next_reminder_at) WHERE status = 'pending';

CREATE TABLE enrollment_tokens (
    hash          TEXT PRIMARY KEY,
    enrollment_id TEXT NOT NULL REFERENCES enrollments (id) ON DELETE CASCADE,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX enrollment_tokens_enrollment ON enrollment_tokens (enrollment_id);

CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL DEFAULT '',
    body            BLOB,
    ref             TEXT NOT NULL DEFAULT '',
    enrollment_id   TEXT NOT NULL DEFAULT '',
    dedupe_key      TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP,
    finished_at     TIMESTAMP,
    claim_holder    TEXT NOT NULL DEFAULT '',
    claim_until     TIMESTAMP
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at, created_at);
CREATE INDEX mail_outbox_account ON mail_outbox (account_id, id);
CREATE INDEX mail_outbox_ref ON mail_outbox (account_id, ref);
CREATE UNIQUE INDEX mail_outbox_dedupe ON mail_outbox (account_id, dedupe_key) WHERE dedupe_key <> '';

-- +goose Down
DROP TABLE mail_outbox;
DROP TABLE enrollment_tokens;
DROP TABLE enrollments;
DROP TABLE mail_settings;
