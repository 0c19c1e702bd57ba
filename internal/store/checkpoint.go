package store

import "context"

// checkpointKey marks a context whose writes leave SQLite's write-ahead
// log unchecked-pointed (see WithoutCheckpoint).
type checkpointKey struct{}

// WithoutCheckpoint marks ctx: a backend that checkpoints a write-ahead
// log as it commits (SQLite past 1,000 pages) does not in the
// transactions run with it, and leaves the log to the Store's
// CheckpointSoon. An incremental run's apply and the writes that end it use
// it: the checkpoint in its commit was half a second of a 100,000-user
// delta, spent after the run's work was done. Other backends ignore it.
func WithoutCheckpoint(ctx context.Context) context.Context {
	return context.WithValue(ctx, checkpointKey{}, true)
}

// CheckpointDeferred reports whether ctx was marked by WithoutCheckpoint.
func CheckpointDeferred(ctx context.Context) bool {
	v, _ := ctx.Value(checkpointKey{}).(bool)
	return v
}
