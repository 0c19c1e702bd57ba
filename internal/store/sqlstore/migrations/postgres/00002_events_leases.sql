-- The change feed, and the leases that keep one run per source.

-- +goose Up
CREATE TABLE events (
    seq        BIGSERIAL PRIMARY KEY,
    id         TEXT COLLATE "C" NOT NULL UNIQUE,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    type       TEXT NOT NULL,
    time       TIMESTAMPTZ NOT NULL,
    source_id  TEXT COLLATE "C" NOT NULL DEFAULT '',
    run_id     TEXT COLLATE "C" NOT NULL DEFAULT '',
    data       TEXT NOT NULL
);
CREATE INDEX events_account_seq ON events (account_id, seq);
CREATE INDEX events_time ON events (time);

CREATE TABLE source_leases (
    source_id  TEXT COLLATE "C" PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE source_leases;
DROP TABLE events;
