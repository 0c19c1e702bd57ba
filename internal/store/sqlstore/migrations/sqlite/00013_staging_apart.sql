-- Staging moves to a database of its own, attached to every connection as
-- "stage" (stagedb.go): the directory's file no longer keeps the space a
-- run's staging took once it is dropped.

-- +goose Up
DROP TABLE staged_memberships;
DROP TABLE staged_groups;
DROP TABLE staged_users;

-- +goose Down
CREATE TABLE main.staged_users (
    run_id      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (run_id, external_id)
);

CREATE TABLE main.staged_groups (
    run_id      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (run_id, external_id)
);

CREATE TABLE main.staged_memberships (
    run_id      TEXT NOT NULL,
    group_ext   TEXT NOT NULL,
    member_kind TEXT NOT NULL,
    member_ext  TEXT NOT NULL,
    PRIMARY KEY (run_id, group_ext, member_kind, member_ext)
);
