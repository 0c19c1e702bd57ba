package engine

import (
	"context"
	"sync"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
)

// A run records how far it has got as it goes (directory.RunProgress):
// while a full run reads the source, at every batch it stages and every
// second between, the objects read and the requests made so far; during the apply, after each of its steps,
// the counts so far. Each record goes to Options.Live at once, and to the
// store (SetRunProgress) at most every progressEvery, in a small write of
// its own outside the apply's transaction, which it neither joins nor
// waits for: on SQLite the apply holds the only writer, so the store skips
// those, and only Options.Live hears the apply's steps.

// progressEvery is how often, at most, the store records a run's progress.
const progressEvery = 2 * time.Second

// progressLog is a run's progress and when the store last recorded it.
type progressLog struct {
	mu      sync.Mutex
	p       directory.RunProgress
	written time.Time
}

// recordProgress updates the run's progress and records it; force writes
// it to the store however recently it last did.
func (j *job) recordProgress(ctx context.Context, force bool, update func(*directory.RunProgress)) {
	l := &j.prog
	l.mu.Lock()
	update(&l.p)
	l.p.At = j.e.now()
	p, due := l.p, force || l.p.At.Sub(l.written) >= progressEvery
	if due {
		l.written = l.p.At
	}
	l.mu.Unlock()
	if j.opts.Live != nil && j.run.ID != "" {
		j.opts.Live(j.run.ID, p)
	}
	if due && j.run.ID != "" {
		if err := j.e.Store.SetRunProgress(ctx, j.src.AccountID, j.run.ID, p); err != nil && ctx.Err() == nil {
			j.log.Warn("record the run's progress", "err", err)
		}
	}
}

// readWatch records a full run's read every second until stopped.
type readWatch struct {
	stop func()
}

// watchRead starts recording what the sink has read so far, at every
// batch it stages and every second between; stop records it one last
// time, as read, the apply next.
func (j *job) watchRead(ctx context.Context, sink *stagingSink) readWatch {
	recordCounts := func(phase string, force bool, users, groups, members int) {
		requests := 0
		if c, ok := j.conn.(connector.Counter); ok {
			requests = c.Stats().Requests
		}
		j.recordProgress(ctx, force, func(p *directory.RunProgress) {
			p.Phase, p.Users, p.Groups, p.Members, p.Requests = phase, users, groups, members, requests
		})
	}
	record := func(phase string, force bool) {
		sink.mu.Lock()
		users, groups, members := sink.users, sink.groups, sink.members
		sink.mu.Unlock()
		recordCounts(phase, force, users, groups, members)
	}
	sink.progress = func(users, groups, members int) { recordCounts("read", false, users, groups, members) }
	record("read", true)
	tick := clock.Or(j.e.Clock).NewTicker(time.Second)
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C():
				record("read", false)
			}
		}
	}()
	return readWatch{stop: func() {
		tick.Stop()
		close(done)
		<-ended
		record("apply", true) // the read's last counts, before the apply holds the writer
	}}
}

// tracked is the apply's steps, each recording the run's counts once done.
func (j *job) tracked(ctx context.Context, steps []step) []step {
	out := make([]step, len(steps))
	for i, s := range steps {
		out[i] = step{name: s.name, fn: func() error {
			if err := s.fn(); err != nil {
				return err
			}
			j.recordProgress(ctx, false, func(p *directory.RunProgress) { p.Phase, p.Step, p.Applied = "apply", s.name, j.run.Counts })
			return nil
		}}
	}
	return out
}
