-- The trash (and any listing of one state) in key order without reading
-- every user or group of the account: the console's trash page at 100,000
-- users (the id too: the listings order by key then id, and without it
-- SQLite prefers the key index and reads every user). Expand only: a
-- previous release ignores the indexes.

-- +goose Up
CREATE INDEX users_state_key ON users (account_id, state, username_key, id);
CREATE INDEX groups_state_key ON groups (account_id, state, name_key, id);

-- +goose Down
DROP INDEX groups_state_key;
DROP INDEX users_state_key;
