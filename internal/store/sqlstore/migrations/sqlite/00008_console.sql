-- What the admin console keeps: its users (email unique in the whole
-- deployment, an argon2id password hash), their sessions (the SHA-256 of
-- the cookie's token), one-time sign-in links (hashed), failed sign-ins per
-- address for the lockout, and each account's settings (JSON). All of it in
-- the database, so that any replica answers.

-- +goose Up
CREATE TABLE console_users (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email               TEXT NOT NULL,
    email_key           TEXT NOT NULL UNIQUE,
    role                TEXT NOT NULL,
    password_hash       TEXT NOT NULL DEFAULT '',
    created_at          TIMESTAMP NOT NULL,
    password_changed_at TIMESTAMP,
    last_sign_in_at     TIMESTAMP
);
CREATE INDEX console_users_account ON console_users (account_id, email_key);

CREATE TABLE console_sessions (
    id           TEXT PRIMARY KEY,
    hash         TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
    account_id   TEXT NOT NULL,
    client       TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    revoked_at   TIMESTAMP
);
CREATE INDEX console_sessions_user ON console_sessions (user_id, created_at);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

CREATE TABLE console_links (
    hash       TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);

CREATE TABLE console_signin_attempts (
    email_key    TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL DEFAULT 0,
    window_start TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);

CREATE TABLE account_settings (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    data       TEXT NOT NULL
);

-- +goose Down
DROP TABLE account_settings;
DROP TABLE console_signin_attempts;
DROP TABLE console_links;
DROP TABLE console_sessions;
DROP TABLE console_users;
