package engine

import (
	"fmt"
	"strings"
	"sync"

	"github.com/dirsync/dirsync/internal/directory"
)

// maxRejectionChanges bounds the skipped changes a run records for
// refused objects; the run's skip counts hold them all.
const maxRejectionChanges = 1000

// rejections are the objects a read refused because an attribute was over
// its size limit (directory's Oversized): never staged, never applied,
// never in an event. The directory keeps what it had of them (a full run
// does not trash them for their absence), and the run records each as
// skipped, naming the attribute and the limit.
type rejections struct {
	mu            sync.Mutex
	users, groups map[string]bool
	changes       []directory.Change
}

func newRejections() *rejections {
	return &rejections{users: map[string]bool{}, groups: map[string]bool{}}
}

// admitUser reports whether the user fits the size limits; when it does
// not, it records why and returns the skip reason to count.
func (r *rejections) admitUser(u directory.SourceUser) (bool, string) {
	field, limit := u.Oversized()
	if field == "" {
		return true, ""
	}
	return false, r.add(r.users, directory.MemberUser, u.ExternalID, u.Username, field, limit)
}

// admitGroup is admitUser for groups.
func (r *rejections) admitGroup(g directory.SourceGroup) (bool, string) {
	field, limit := g.Oversized()
	if field == "" {
		return true, ""
	}
	return false, r.add(r.groups, directory.MemberGroup, g.ExternalID, g.Name, field, limit)
}

func (r *rejections) add(ids map[string]bool, kind directory.MemberKind, id, name, field, limit string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(id) <= directory.MaxValueBytes {
		ids[id] = true
	}
	if len(r.changes) < maxRejectionChanges {
		r.changes = append(r.changes, directory.Change{ObjectKind: kind, ExternalID: short(id), Name: short(name),
			Action: directory.ActionSkipped, Detail: fmt.Sprintf("%s is %s: not imported; the directory keeps what it had", field, limit)})
	}
	return fmt.Sprintf("not imported: %s over its size limit", field)
}

// short cuts a value to show in a change: the value that broke a limit
// may be the name itself.
func short(s string) string {
	const max = 128
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

// rejected reports whether the run refused the object with any of these
// links to the source.
func (r *rejections) rejected(kind directory.MemberKind, links []directory.SourceLink, sourceID string) bool {
	if r == nil {
		return false
	}
	ids := r.users
	if kind == directory.MemberGroup {
		ids = r.groups
	}
	for _, l := range links {
		if l.SourceID == sourceID && ids[l.ExternalID] {
			return true
		}
	}
	return false
}

// recordRejections records the refused objects as skipped changes (the
// read counted them).
func (a *applier) recordRejections() error {
	if a.rejects == nil {
		return nil
	}
	for _, c := range a.rejects.changes {
		if err := a.record(c); err != nil {
			return err
		}
	}
	return nil
}
