-- Queued runs across replicas: the process that will execute a queued run
-- claims it (claimed_by until claim_until, renewed while it waits for a
-- worker). A process that dies lets its claims run out; one shutting down
-- hands them on. Expand only: a previous release ignores the columns.

-- +goose Up
ALTER TABLE runs ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN claim_until TIMESTAMPTZ;
CREATE INDEX runs_queued ON runs (started_at, id) WHERE outcome = 'queued';

-- +goose Down
DROP INDEX runs_queued;
ALTER TABLE runs DROP COLUMN claim_until;
ALTER TABLE runs DROP COLUMN claimed_by;
