-- The runs still recorded as running, found at every lease taken: the run
-- in progress, or runs whose process died (marked interrupted then).

-- +goose Up
CREATE INDEX runs_unfinished ON runs (source_id, started_at) WHERE outcome = 'running';

-- +goose Down
DROP INDEX runs_unfinished;
