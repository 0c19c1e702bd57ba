-- What dirsync serve keeps beside the directory: API tokens (hashed),
-- webhook subscriptions with their delivery state and log, and schedules.

-- +goose Up
CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT NOT NULL DEFAULT '',
    role       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);

CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    event_types     TEXT NOT NULL DEFAULT '',
    secret          BLOB,
    enabled         INTEGER NOT NULL DEFAULT 1,
    created_at      TIMESTAMP NOT NULL,
    cursor          INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    first_failed_at TIMESTAMP,
    next_attempt_at TIMESTAMP
);
CREATE INDEX webhooks_account ON webhooks (account_id);

CREATE TABLE webhook_deliveries (
    id          TEXT PRIMARY KEY,
    webhook_id  TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    account_id  TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    event_seq   INTEGER NOT NULL,
    event_type  TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    http_status INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    time        TIMESTAMP NOT NULL,
    duration_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, time);

CREATE TABLE source_schedules (
    source_id  TEXT PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    spec       TEXT NOT NULL,
    last_run   TIMESTAMP
);

-- +goose Down
DROP TABLE source_schedules;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE api_tokens;
