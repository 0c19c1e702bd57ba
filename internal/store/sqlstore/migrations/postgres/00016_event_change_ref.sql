-- An event that a change of a run becomes (a membership's, the most
-- numerous) keeps a reference to that change instead of a copy of it: its
-- data holds only the source's name, and the feed rebuilds the body from
-- the change (events.go). The change feed and the run history then do not
-- store the same change twice.

-- +goose Up
ALTER TABLE events ADD COLUMN change_seq BIGINT;

-- +goose Down
ALTER TABLE events DROP COLUMN change_seq;
