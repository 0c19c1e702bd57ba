-- The trash (and any listing of one state) in key order without reading
-- every user or group of the account: the console's trash page at 100,000
-- users. Expand only: a previous release ignores the indexes.

-- +goose Up
CREATE INDEX users_state_key ON users (account_id, state, username_key);
CREATE INDEX groups_state_key ON groups (account_id, state, name_key);

-- +goose Down
DROP INDEX groups_state_key;
DROP INDEX users_state_key;
