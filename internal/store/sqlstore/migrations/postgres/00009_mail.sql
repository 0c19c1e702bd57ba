-- Mail (issue 15): each user's enrollment cycles and the hashes of the
-- tokens their links carry; the outbox every mail goes through, which
-- stays as the record of what became of it (its body, which may hold a
-- link, is sealed and dropped once the mail is done); and each account's
-- mail settings (the enrollment template, who is notified) as JSON.

-- +goose Up
CREATE TABLE mail_settings (
    account_id    TEXT COLLATE "C" PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    enrollment    TEXT COLLATE "C" NOT NULL DEFAULT '',
    notifications TEXT COLLATE "C" NOT NULL DEFAULT ''
);

CREATE TABLE enrollments (
    id               TEXT COLLATE "C" PRIMARY KEY,
    account_id       TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id          TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source_id        TEXT COLLATE "C" NOT NULL DEFAULT '',
    email            TEXT COLLATE "C" NOT NULL DEFAULT '',
    status           TEXT COLLATE "C" NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ,
    reminders_sent   INTEGER NOT NULL DEFAULT 0,
    next_reminder_at TIMESTAMPTZ,
    ended_at         TIMESTAMPTZ,
    ended_via        TEXT COLLATE "C" NOT NULL DEFAULT '',
    last_mail_id     TEXT COLLATE "C" NOT NULL DEFAULT ''
);
-- One open cycle per user, whoever starts it.
CREATE UNIQUE INDEX enrollments_open ON enrollments (user_id) WHERE status = 'pending';
CREATE INDEX enrollments_user ON enrollments (user_id, status);
CREATE INDEX enrollments_expiry ON enrollments (status, expires_at);
CREATE INDEX enrollments_source ON enrollments (source_id, status);
CREATE INDEX enrollments_account ON enrollments (account_id, status, id);
CREATE INDEX enrollments_reminder ON enrollments (next_reminder_at) WHERE status = 'pending';

CREATE TABLE enrollment_tokens (
    hash          TEXT COLLATE "C" PRIMARY KEY,
    enrollment_id TEXT COLLATE "C" NOT NULL REFERENCES enrollments (id) ON DELETE CASCADE,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX enrollment_tokens_enrollment ON enrollment_tokens (enrollment_id);

CREATE TABLE mail_outbox (
    id              TEXT COLLATE "C" PRIMARY KEY,
    account_id      TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind            TEXT COLLATE "C" NOT NULL,
    to_addr         TEXT COLLATE "C" NOT NULL,
    subject         TEXT COLLATE "C" NOT NULL DEFAULT '',
    body            BYTEA,
    ref             TEXT COLLATE "C" NOT NULL DEFAULT '',
    enrollment_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
    dedupe_key      TEXT COLLATE "C" NOT NULL DEFAULT '',
    state           TEXT COLLATE "C" NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    claim_holder    TEXT COLLATE "C" NOT NULL DEFAULT '',
    claim_until     TIMESTAMPTZ
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
