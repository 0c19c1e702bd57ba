package ldap

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
)

// recorder is a ChangeSink that keeps what it is given, and can apply an
// incremental read onto a snapshot the way the engine does (patches keep
// the fields they do not name), so a test can compare the result with a
// fresh snapshot.
type recorder struct {
	mu      sync.Mutex
	users   map[string]directory.SourceUser
	groups  map[string]directory.SourceGroup
	members map[directory.SourceMembership]bool
	skips   []connector.Skipped
	// calls logs every call in order, for tests of what Changes sends.
	calls []string
	// patches keeps the fields of each UserPatch/GroupPatch by external ID.
	patches map[string][]string
	removed map[string]bool // external ID → hard
}

func newRecorder() *recorder {
	return &recorder{
		users:   map[string]directory.SourceUser{},
		groups:  map[string]directory.SourceGroup{},
		members: map[directory.SourceMembership]bool{},
		patches: map[string][]string{},
		removed: map[string]bool{},
	}
}

// clone copies a snapshot so that Changes can be applied onto the copy.
func (r *recorder) clone() *recorder {
	c := newRecorder()
	for k, v := range r.users {
		c.users[k] = v
	}
	for k, v := range r.groups {
		c.groups[k] = v
	}
	for k := range r.members {
		c.members[k] = true
	}
	return c
}

func (r *recorder) log(format string, args ...any) {
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
}

func (r *recorder) User(u directory.SourceUser) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users[u.ExternalID] = u
	r.log("user %s %s", u.ExternalID, u.Username)
	return nil
}

func (r *recorder) Group(g directory.SourceGroup) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups[g.ExternalID] = g
	r.log("group %s %s", g.ExternalID, g.Name)
	return nil
}

func (r *recorder) Membership(m directory.SourceMembership) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.members[m] = true
	r.log("member+ %s %s %s", m.GroupExternalID, m.MemberKind, m.MemberExternalID)
	return nil
}

func (r *recorder) Skip(s connector.Skipped) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.skips = append(r.skips, s)
	r.log("skip %s %s %s", s.Kind, s.ExternalID, s.Reason)
	return nil
}

func (r *recorder) UserPatch(u directory.SourceUser, fields []directory.UserField) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := fieldNames(fields)
	r.patches[u.ExternalID] = append(r.patches[u.ExternalID], names...)
	r.log("userpatch %s %s", u.ExternalID, strings.Join(names, ","))
	old, ok := r.users[u.ExternalID]
	if !ok {
		return fmt.Errorf("patch of unknown user %s", u.ExternalID)
	}
	patched, err := directory.OverlayUser(old, u, fields)
	r.users[u.ExternalID] = patched
	return err
}

func (r *recorder) GroupPatch(g directory.SourceGroup, fields []directory.GroupField) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := fieldNames(fields)
	r.patches[g.ExternalID] = append(r.patches[g.ExternalID], names...)
	r.log("grouppatch %s %s", g.ExternalID, strings.Join(names, ","))
	old, ok := r.groups[g.ExternalID]
	if !ok {
		return fmt.Errorf("patch of unknown group %s", g.ExternalID)
	}
	patched, err := directory.OverlayGroup(old, g, fields)
	r.groups[g.ExternalID] = patched
	return err
}

func fieldNames[F ~string](fields []F) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = string(f)
	}
	return out
}

func (r *recorder) RemoveUser(id string, hard bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log("removeuser %s %v", id, hard)
	r.removed[id] = hard
	delete(r.users, id)
	for m := range r.members {
		if m.MemberExternalID == id {
			delete(r.members, m)
		}
	}
	return nil
}

func (r *recorder) RemoveGroup(id string, hard bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log("removegroup %s %v", id, hard)
	r.removed[id] = hard
	delete(r.groups, id)
	for m := range r.members {
		if m.GroupExternalID == id || m.MemberExternalID == id {
			delete(r.members, m)
		}
	}
	return nil
}

func (r *recorder) RemoveMembership(m directory.SourceMembership) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log("member- %s %s %s", m.GroupExternalID, m.MemberKind, m.MemberExternalID)
	delete(r.members, m)
	return nil
}

// byName indexes users by username.
func (r *recorder) byName() map[string]directory.SourceUser {
	out := map[string]directory.SourceUser{}
	for _, u := range r.users {
		out[u.Username] = u
	}
	return out
}

func (r *recorder) groupByName(name string) (directory.SourceGroup, bool) {
	for _, g := range r.groups {
		if g.Name == name {
			return g, true
		}
	}
	return directory.SourceGroup{}, false
}

// memberNames lists a group's direct members as "user:NAME" and
// "group:NAME", sorted.
func (r *recorder) memberNames(groupID string) []string {
	var out []string
	for m := range r.members {
		if m.GroupExternalID != groupID {
			continue
		}
		switch m.MemberKind {
		case directory.MemberUser:
			out = append(out, "user:"+r.users[m.MemberExternalID].Username)
		case directory.MemberGroup:
			out = append(out, "group:"+r.groups[m.MemberExternalID].Name)
		}
	}
	slices.Sort(out)
	return out
}

// membersDangling lists memberships whose member or group is unknown.
func (r *recorder) membersDangling() []string {
	var out []string
	for m := range r.members {
		_, g := r.groups[m.GroupExternalID]
		var ok bool
		if m.MemberKind == directory.MemberUser {
			_, ok = r.users[m.MemberExternalID]
		} else {
			_, ok = r.groups[m.MemberExternalID]
		}
		if !g || !ok {
			out = append(out, fmt.Sprint(m))
		}
	}
	return out
}
