-- What the service knows of a source's health beyond its runs: whether its
-- credentials are refused (reauthorization required), and which secret
-- expiry warning its owners were last given, so each is sent once.

-- +goose Up
CREATE TABLE source_health (
    source_id            TEXT COLLATE "C" PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
    account_id           TEXT NOT NULL,
    auth_failing         BOOLEAN NOT NULL DEFAULT FALSE,
    auth_message         TEXT NOT NULL DEFAULT '',
    since                TIMESTAMPTZ,
    expiry_notified_days INTEGER NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE source_health;
