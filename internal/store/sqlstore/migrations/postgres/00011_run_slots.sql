-- Each scheduled slot of a source runs once, however many dirsync serve
-- processes run the schedule: the run a slot queued records the slot, and
-- no two runs of a source record the same one. Expand only: a previous
-- release, which leaves the column empty, keeps working beside this one.

-- +goose Up
ALTER TABLE runs ADD COLUMN slot TIMESTAMPTZ;
CREATE UNIQUE INDEX runs_slot ON runs (source_id, slot) WHERE slot IS NOT NULL;

-- +goose Down
DROP INDEX runs_slot;
ALTER TABLE runs DROP COLUMN slot;
