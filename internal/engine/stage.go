package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// stagingSink batches what a connector reads into the store's staging
// area. A full batch goes to one writer goroutine, so the connector goes
// on reading while the batch is written (a write never stalls the next
// request); at most one batch waits for the writer, so memory stays a few
// batches whatever the source's size. The writer also hands each users
// batch, once staged, to prepare (when set): the work of the apply done
// while the source is still read.
type stagingSink struct {
	ctx   context.Context
	st    store.Stager
	runID string
	batch int
	// progress, when set, is told the counts read so far at every batch
	// handed to the writer (under mu: it must not call the sink).
	progress func(users, groups, members int)
	rejects  *rejections
	// prepare, when set, is called by the writer with each users batch it
	// staged, in the order staged.
	prepare func(ctx context.Context, users []directory.SourceUser) error

	mu                     sync.Mutex
	users, groups, members int
	skips                  skipTally
	bu                     []directory.SourceUser
	bg                     []directory.SourceGroup
	bm                     []directory.SourceMembership

	// The writer: started with the first batch, ended by flush or close.
	queue   chan stageBatch
	done    chan struct{}
	werr    error // the writer's first error, read once done is closed or under mu
	failed  chan struct{}
	failOne sync.Once
}

// stageBatch is one batch for the writer.
type stageBatch struct {
	users  []directory.SourceUser
	groups []directory.SourceGroup
	ms     []directory.SourceMembership
}

var _ connector.Sink = (*stagingSink)(nil)

func (s *stagingSink) User(u directory.SourceUser) error {
	if ok, reason := s.rejects.admitUser(u); !ok {
		return s.refuse(&s.users, reason)
	}
	return stage(s, &s.users, &s.bu, u)
}

func (s *stagingSink) Group(g directory.SourceGroup) error {
	if ok, reason := s.rejects.admitGroup(g); !ok {
		return s.refuse(&s.groups, reason)
	}
	return stage(s, &s.groups, &s.bg, g)
}

// refuse counts an object the source reported and the run refused.
func (s *stagingSink) refuse(count *int, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	*count++
	s.skips.refuse(reason)
	return nil
}

func (s *stagingSink) Membership(m directory.SourceMembership) error {
	if reason, over := oversizedMembership(m); over {
		return s.refuse(&s.members, reason)
	}
	return stage(s, &s.members, &s.bm, m)
}

// oversizedMembership refuses a membership naming an id over the size
// limit: no object the run admits has such an id.
func oversizedMembership(m directory.SourceMembership) (string, bool) {
	if len(m.GroupExternalID) > directory.MaxValueBytes || len(m.MemberExternalID) > directory.MaxValueBytes {
		return "not imported: membership naming an id over its size limit", true
	}
	return "", false
}

// stage counts v, adds it to its batch, and hands the batches to the
// writer when this one is full.
func stage[T any](s *stagingSink, count *int, batch *[]T, v T) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	*count++
	*batch = append(*batch, v)
	if len(*batch) >= s.batch {
		return s.sendLocked()
	}
	return nil
}

func (s *stagingSink) Skip(sk connector.Skipped) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skips.skip(sk)
	return nil
}

// sendLocked hands the batches to the writer, starting it if need be, and
// waits while it is busy with an earlier one; it answers the writer's
// error, if it failed.
func (s *stagingSink) sendLocked() error {
	if s.queue == nil {
		s.queue, s.done, s.failed = make(chan stageBatch, 1), make(chan struct{}), make(chan struct{})
		go s.write(s.queue)
	}
	b := stageBatch{users: s.bu, groups: s.bg, ms: s.bm}
	s.bu, s.bg, s.bm = nil, nil, nil
	if s.progress != nil {
		s.progress(s.users, s.groups, s.members)
	}
	select {
	case s.queue <- b:
		return nil
	case <-s.failed:
		return s.werr
	case <-s.ctx.Done():
		return context.Cause(s.ctx)
	}
}

// write is the writer: it stages each batch in turn, and stops at the
// first error (the next send answers it).
func (s *stagingSink) write(queue <-chan stageBatch) {
	defer close(s.done)
	for b := range queue {
		if err := s.writeBatch(b); err != nil {
			s.werr = err
			s.failOne.Do(func() { close(s.failed) })
			for range queue { // drain until closed; senders see failed
			}
			return
		}
	}
}

func (s *stagingSink) writeBatch(b stageBatch) error {
	if len(b.users) > 0 {
		if err := s.st.StageUsers(s.ctx, s.runID, b.users); err != nil {
			return fmt.Errorf("stage users: %w", err)
		}
		if s.prepare != nil {
			if err := s.prepare(s.ctx, b.users); err != nil {
				return fmt.Errorf("prepare users: %w", err)
			}
		}
	}
	if len(b.groups) > 0 {
		if err := s.st.StageGroups(s.ctx, s.runID, b.groups); err != nil {
			return fmt.Errorf("stage groups: %w", err)
		}
	}
	if len(b.ms) > 0 {
		if err := s.st.StageMemberships(s.ctx, s.runID, b.ms); err != nil {
			return fmt.Errorf("stage memberships: %w", err)
		}
	}
	return nil
}

// flush writes what is left and waits for the writer to finish: once it
// returns nil, everything read is staged.
func (s *stagingSink) flush() error {
	s.mu.Lock()
	var err error
	if len(s.bu)+len(s.bg)+len(s.bm) > 0 {
		err = s.sendLocked()
	}
	s.mu.Unlock()
	if werr := s.close(); err == nil {
		err = werr
	}
	return err
}

// close stops the writer once it has written what it was handed, and
// answers its error. It is safe to call more than once.
func (s *stagingSink) close() error {
	s.mu.Lock()
	q := s.queue
	s.queue = nil
	s.mu.Unlock()
	if q == nil {
		return nil
	}
	close(q)
	<-s.done
	return s.werr
}
