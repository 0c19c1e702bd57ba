-- What dirsync serve keeps beside the directory: API tokens (hashed),
-- webhook subscriptions with their delivery state and log, and schedules.

-- +goose Up
CREATE TABLE api_tokens (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT NOT NULL DEFAULT '',
    role       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);

CREATE TABLE webhooks (
    id              TEXT COLLATE "C" PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    event_types     TEXT NOT NULL DEFAULT '',
    secret          BYTEA,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMPTZ NOT NULL,
    cursor          BIGINT NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    first_failed_at TIMESTAMPTZ,
    next_attempt_at TIMESTAMPTZ
);
CREATE INDEX webhooks_account ON webhooks (account_id);

CREATE TABLE webhook_deliveries (
    id          TEXT COLLATE "C" PRIMARY KEY,
    webhook_id  TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    account_id  TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    event_seq   BIGINT NOT NULL,
    event_type  TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    http_status INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    time        TIMESTAMPTZ NOT NULL,
    duration_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, time);

CREATE TABLE source_schedules (
    source_id  TEXT COLLATE "C" PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    spec       TEXT NOT NULL,
    last_run   TIMESTAMPTZ
);

-- +goose Down
DROP TABLE source_schedules;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE api_tokens;
