-- How far a run in progress has got (directory.RunProgress, JSON),
-- written every second or two by the run outside its transactions, for
-- the console's run page. A table of its own: the write never waits for,
-- nor holds, a lock on the run's row, which the run's apply updates.

-- +goose Up
CREATE TABLE run_progress (
    run_id     TEXT COLLATE "C" PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    account_id TEXT COLLATE "C" NOT NULL,
    data       TEXT NOT NULL
);

-- +goose Down
DROP TABLE run_progress;
