-- Provisioning into a target (an Entra ID tenant): the targets, the
-- target's objects as last read (so that a cycle reads only Graph's delta),
-- the links between the account's objects (by anchor) and the cloud objects
-- dirsync created or matched, the last cycle's sync errors, and the export
-- runs with their plans.

-- +goose Up
CREATE TABLE targets (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    config     BYTEA,
    secret     BYTEA,
    settings   TEXT NOT NULL DEFAULT '',
    state      TEXT NOT NULL DEFAULT '',
    enabled    BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (account_id, name_key)
);

CREATE TABLE target_objects (
    target_id TEXT COLLATE "C" NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    kind      TEXT COLLATE "C" NOT NULL,
    cloud_id  TEXT COLLATE "C" NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (target_id, kind, cloud_id)
);

CREATE TABLE target_links (
    target_id  TEXT COLLATE "C" NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    kind       TEXT COLLATE "C" NOT NULL,
    anchor     TEXT COLLATE "C" NOT NULL,
    cloud_id   TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (target_id, kind, anchor)
);

CREATE TABLE target_errors (
    target_id  TEXT COLLATE "C" NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    kind       TEXT COLLATE "C" NOT NULL,
    anchor     TEXT COLLATE "C" NOT NULL,
    object     TEXT COLLATE "C" NOT NULL,
    attribute  TEXT NOT NULL DEFAULT '',
    value      TEXT NOT NULL DEFAULT '',
    code       TEXT NOT NULL DEFAULT '',
    message    TEXT NOT NULL DEFAULT '',
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL
);
CREATE INDEX target_errors_target ON target_errors (target_id, kind, object);

CREATE TABLE export_runs (
    id          TEXT COLLATE "C" PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    target_id   TEXT COLLATE "C" NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    mode        TEXT NOT NULL,
    staging     BOOLEAN NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    summary     TEXT NOT NULL DEFAULT '',
    plan        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX export_runs_target ON export_runs (target_id, id);

-- +goose Down
DROP TABLE export_runs;
DROP TABLE target_errors;
DROP TABLE target_links;
DROP TABLE target_objects;
DROP TABLE targets;
