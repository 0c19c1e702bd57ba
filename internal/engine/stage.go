package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// stagingSink batches what a connector reads into the store's staging area.
type stagingSink struct {
	ctx      context.Context
	st       store.Stager
	runID    string
	batch    int
	progress func(Progress)
	rejects  *rejections

	mu                     sync.Mutex
	users, groups, members int
	skips                  skipTally
	bu                     []directory.SourceUser
	bg                     []directory.SourceGroup
	bm                     []directory.SourceMembership
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

// stage counts v, adds it to its batch, and writes the batches out when
// this one is full.
func stage[T any](s *stagingSink, count *int, batch *[]T, v T) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	*count++
	*batch = append(*batch, v)
	if len(*batch) >= s.batch {
		return s.flushLocked()
	}
	return nil
}

func (s *stagingSink) Skip(sk connector.Skipped) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skips.skip(sk)
	return nil
}

func (s *stagingSink) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked()
}

func (s *stagingSink) flushLocked() error {
	if len(s.bu) > 0 {
		if err := s.st.StageUsers(s.ctx, s.runID, s.bu); err != nil {
			return fmt.Errorf("stage users: %w", err)
		}
		s.bu = s.bu[:0]
	}
	if len(s.bg) > 0 {
		if err := s.st.StageGroups(s.ctx, s.runID, s.bg); err != nil {
			return fmt.Errorf("stage groups: %w", err)
		}
		s.bg = s.bg[:0]
	}
	if len(s.bm) > 0 {
		if err := s.st.StageMemberships(s.ctx, s.runID, s.bm); err != nil {
			return fmt.Errorf("stage memberships: %w", err)
		}
		s.bm = s.bm[:0]
	}
	if s.progress != nil {
		s.progress(Progress{Phase: "read", Users: s.users, Groups: s.groups, Members: s.members})
	}
	return nil
}
