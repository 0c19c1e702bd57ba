-- The first schema, the same tables as the SQLite one. Ids and keys are
-- TEXT COLLATE "C" so they sort and compare bytewise, as in SQLite, whatever
-- the database's collation: keyset paging and the *_key columns (values
-- lowercased by Go) then behave the same on both. List-valued attributes
-- are JSON arrays in TEXT, '' when empty.

-- +goose Up
CREATE TABLE accounts (
    id         TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT NOT NULL,
    name_key   TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE sources (
    id          TEXT COLLATE "C" PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    name_key    TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL,
    config      BYTEA,
    secret      BYTEA,
    enabled     BOOLEAN NOT NULL DEFAULT FALSE,
    -- state is the connector's cursor (delta links, DirSync cookies).
    state       TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX sources_name_key ON sources (account_id, name_key);

CREATE TABLE users (
    id              TEXT COLLATE "C" PRIMARY KEY,
    account_id      TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    username        TEXT NOT NULL,
    username_key    TEXT COLLATE "C" NOT NULL,
    email           TEXT NOT NULL DEFAULT '',
    email_key       TEXT COLLATE "C" NOT NULL DEFAULT '',
    -- search_key is username, email and display name lowercased, for
    -- substring search.
    search_key      TEXT COLLATE "C" NOT NULL DEFAULT '',
    display_name    TEXT NOT NULL DEFAULT '',
    given_name      TEXT NOT NULL DEFAULT '',
    surname         TEXT NOT NULL DEFAULT '',
    job_title       TEXT NOT NULL DEFAULT '',
    department      TEXT NOT NULL DEFAULT '',
    mobile_phone    TEXT NOT NULL DEFAULT '',
    business_phones TEXT NOT NULL DEFAULT '',
    user_type       TEXT NOT NULL DEFAULT '',
    licenses        TEXT NOT NULL DEFAULT '',
    proxy_addresses TEXT NOT NULL DEFAULT '',
    immutable_id    TEXT NOT NULL DEFAULT '',
    account_name    TEXT NOT NULL DEFAULT '',
    dn              TEXT NOT NULL DEFAULT '',
    enabled         BOOLEAN NOT NULL DEFAULT FALSE,
    state           TEXT NOT NULL,
    tags            TEXT NOT NULL DEFAULT '',
    notes           TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    trashed_at      TIMESTAMPTZ
);
CREATE UNIQUE INDEX users_username_key ON users (account_id, username_key);
CREATE UNIQUE INDEX users_email_key ON users (account_id, email_key) WHERE email_key <> '';

CREATE TABLE groups (
    id               TEXT COLLATE "C" PRIMARY KEY,
    account_id       TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    name_key         TEXT COLLATE "C" NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    mail             TEXT NOT NULL DEFAULT '',
    search_key       TEXT COLLATE "C" NOT NULL DEFAULT '',
    group_types      TEXT NOT NULL DEFAULT '',
    security_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    mail_enabled     BOOLEAN NOT NULL DEFAULT FALSE,
    dn               TEXT NOT NULL DEFAULT '',
    state            TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    trashed_at       TIMESTAMPTZ
);
CREATE INDEX groups_name_key ON groups (account_id, name_key, id);

-- Links tie directory objects to source objects: one table per kind so
-- each has a foreign key to its object. A source object links to one
-- object at most; one object may link to several source objects.
CREATE TABLE user_links (
    source_id   TEXT COLLATE "C" NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    external_id TEXT COLLATE "C" NOT NULL,
    user_id     TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (source_id, external_id)
);
CREATE INDEX user_links_user ON user_links (user_id);
CREATE INDEX user_links_source_user ON user_links (source_id, user_id);

CREATE TABLE group_links (
    source_id   TEXT COLLATE "C" NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    external_id TEXT COLLATE "C" NOT NULL,
    group_id    TEXT COLLATE "C" NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (source_id, external_id)
);
CREATE INDEX group_links_group ON group_links (group_id);
CREATE INDEX group_links_source_group ON group_links (source_id, group_id);

-- A membership is owned by the source that reported it; the same
-- membership reported by two sources is two rows.
CREATE TABLE memberships (
    group_id    TEXT COLLATE "C" NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_kind TEXT COLLATE "C" NOT NULL,
    member_id   TEXT COLLATE "C" NOT NULL,
    source_id   TEXT COLLATE "C" NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, member_kind, member_id, source_id)
);
CREATE INDEX memberships_member ON memberships (member_kind, member_id);
CREATE INDEX memberships_source ON memberships (source_id);

-- Runs outlive their source: source_id has no foreign key, so the history
-- of a deleted source stays readable.
CREATE TABLE runs (
    id            TEXT COLLATE "C" PRIMARY KEY,
    account_id    TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    source_id     TEXT COLLATE "C" NOT NULL,
    source        TEXT NOT NULL DEFAULT '',
    kind          TEXT NOT NULL DEFAULT '',
    run_trigger   TEXT NOT NULL DEFAULT '',
    dry_run       BOOLEAN NOT NULL DEFAULT FALSE,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    outcome       TEXT NOT NULL DEFAULT '',
    reason        TEXT NOT NULL DEFAULT '',
    counts        TEXT NOT NULL DEFAULT '',
    source_users  INTEGER NOT NULL DEFAULT 0,
    source_groups INTEGER NOT NULL DEFAULT 0,
    skips         TEXT NOT NULL DEFAULT '',
    requests      INTEGER NOT NULL DEFAULT 0,
    throttled     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_account ON runs (account_id, started_at, id);
CREATE INDEX runs_source ON runs (source_id, started_at, id);

CREATE TABLE changes (
    run_id TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    data   TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- Staging: what a run read, before it is applied. No foreign key to runs,
-- so a run may stage before or without recording itself.
CREATE TABLE staged_users (
    run_id      TEXT COLLATE "C" NOT NULL,
    external_id TEXT COLLATE "C" NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (run_id, external_id)
);

CREATE TABLE staged_groups (
    run_id      TEXT COLLATE "C" NOT NULL,
    external_id TEXT COLLATE "C" NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (run_id, external_id)
);

CREATE TABLE staged_memberships (
    run_id      TEXT COLLATE "C" NOT NULL,
    group_ext   TEXT COLLATE "C" NOT NULL,
    member_kind TEXT COLLATE "C" NOT NULL,
    member_ext  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (run_id, group_ext, member_kind, member_ext)
);

-- +goose Down
DROP TABLE staged_memberships;
DROP TABLE staged_groups;
DROP TABLE staged_users;
DROP TABLE changes;
DROP TABLE runs;
DROP TABLE memberships;
DROP TABLE group_links;
DROP TABLE user_links;
DROP TABLE groups;
DROP TABLE users;
DROP TABLE sources;
DROP TABLE accounts;
