package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// mirror is an integrator's own copy of the directory, built from an
// export and kept up to date from the change feed, as the README tells:
// each event's data.object replaces the copy's object (a membership's
// event adds or ends its membership).
type mirror struct {
	users   map[string]string // id -> the user's JSON, as the export and events show it
	groups  map[string]string // id -> the group's JSON
	members map[string]bool   // "group kind member"
	applied int               // events applied
}

func memberKey(group string, kind directory.MemberKind, id string) string {
	return fmt.Sprintf("%s %s %s", group, kind, id)
}

// canonical is raw JSON with its keys sorted, for comparing.
func canonical(t *testing.T, raw json.RawMessage) (string, string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("object %s: %v", raw, err)
	}
	b, _ := json.Marshal(m)
	id, _ := m["id"].(string)
	return id, string(b)
}

// export reads GET /export into a mirror and returns the cursor of its
// end line.
func (e *env) export() (*mirror, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/export", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[manage.RoleReadOnly])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		e.t.Fatalf("export: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	m := &mirror{users: map[string]string{}, groups: map[string]string{}, members: map[string]bool{}}
	var end *manage.ExportSummary
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if end != nil {
			e.t.Fatalf("export: a line after the end: %s", sc.Text())
		}
		var line struct {
			Type        string
			User, Group json.RawMessage
			Membership  manage.ExportMembership
			End         *manage.ExportSummary
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			e.t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		switch line.Type {
		case manage.ExportTypeUser:
			id, u := canonical(e.t, line.User)
			m.users[id] = u
		case manage.ExportTypeGroup:
			id, g := canonical(e.t, line.Group)
			m.groups[id] = g
		case manage.ExportTypeMembership:
			m.members[memberKey(line.Membership.GroupID, line.Membership.MemberKind, line.Membership.MemberID)] = true
		case manage.ExportTypeEnd:
			end = line.End
		default:
			e.t.Fatalf("export: line of type %q", line.Type)
		}
	}
	if err := sc.Err(); err != nil || end == nil {
		e.t.Fatalf("export cut short: %v", err)
	}
	if end.Users != len(m.users) || end.Groups != len(m.groups) || end.Memberships != len(m.members) {
		e.t.Fatalf("export end %+v, read %d users, %d groups, %d memberships", end, len(m.users), len(m.groups), len(m.members))
	}
	return m, end.Cursor
}

// apply applies one event of the feed to the mirror, from its object.
func (m *mirror) apply(t *testing.T, ev directory.Event) {
	var d struct {
		ObjectID string          `json:"object_id"`
		Object   json.RawMessage `json:"object"`
	}
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		t.Fatalf("event %d %s: %v", ev.Seq, ev.Type, err)
	}
	if ev.Type == directory.EventSyncCompleted || ev.Type == directory.EventSyncFailed {
		return
	}
	if len(d.Object) == 0 {
		t.Fatalf("event %d %s has no object: %s", ev.Seq, ev.Type, ev.Data)
	}
	var ms directory.Membership
	if strings.HasPrefix(ev.Type, "group.") && strings.Contains(ev.Type, "_") {
		if err := json.Unmarshal(d.Object, &ms); err != nil || ms.GroupID != d.ObjectID {
			t.Fatalf("event %d %s: membership %s (%v)", ev.Seq, ev.Type, d.Object, err)
		}
	}
	m.applied++
	switch ev.Type {
	case directory.EventUserCreated:
		if m.users[d.ObjectID] != "" {
			t.Fatalf("event %d creates user %s, which the export already held: the feed doubles the export", ev.Seq, d.ObjectID)
		}
		fallthrough
	case directory.EventUserUpdated, directory.EventUserRestored, directory.EventUserDisabled, directory.EventUserEnabled:
		if _, ok := m.users[d.ObjectID]; !ok && ev.Type != directory.EventUserCreated && ev.Type != directory.EventUserRestored {
			t.Fatalf("event %d %s of a user the mirror does not hold", ev.Seq, ev.Type)
		}
		id, u := canonical(t, d.Object)
		if id != d.ObjectID {
			t.Fatalf("event %d about %s has the object of %s", ev.Seq, d.ObjectID, id)
		}
		m.users[id] = u
	case directory.EventUserDeleted:
		delete(m.users, d.ObjectID)
		for k := range m.members {
			var g, kind, id string
			fmt.Sscan(k, &g, &kind, &id)
			if id == d.ObjectID {
				delete(m.members, k)
			}
		}
	case directory.EventGroupCreated, directory.EventGroupUpdated, directory.EventGroupRestored:
		id, g := canonical(t, d.Object)
		m.groups[id] = g
	case directory.EventGroupDeleted:
		delete(m.groups, d.ObjectID)
	case directory.EventGroupUserAdded, directory.EventGroupGroupAdded:
		k := memberKey(ms.GroupID, ms.MemberKind, ms.MemberID)
		if m.members[k] {
			t.Fatalf("event %d adds %s, which the export already held: the feed doubles the export", ev.Seq, k)
		}
		m.members[k] = true
	case directory.EventGroupUserRemoved, directory.EventGroupGroupRemoved:
		k := memberKey(ms.GroupID, ms.MemberKind, ms.MemberID)
		if _, held := m.users[ms.MemberID]; !m.members[k] && held {
			t.Fatalf("event %d removes %s, which the copy does not hold: an event was missed", ev.Seq, k)
		}
		delete(m.members, k)
	default:
		m.applied--
	}
}

// TestExportThenFollowTheFeed is what an integrator does: bootstrap a copy
// from the export while a sync is running, follow the events feed from the
// export's cursor until the run has ended and the feed is caught up, and
// end with exactly the directory's state (a fresh export), every change
// seen once.
func TestExportThenFollowTheFeed(t *testing.T) {
	e := newEnv(t)
	emu, settings := emulator(t, 120, 12)
	var src api.SourceView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "c", "kind": "entra", "settings": settings,
		"secret": emu.Credentials().ClientSecret, "schedule": "none"}, &src)
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", nil, nil)
	e.waitRun(src.ID, 1)

	// The tenant changes; a slow sync picks it up while the integrator
	// bootstraps.
	tenant := emu.Tenant()
	if _, err := tenant.Churn(3, 30, 20); err != nil {
		t.Fatal(err)
	}
	for _, u := range tenant.Users()[:4] {
		if err := tenant.DeleteUser(u.ID); err != nil {
			t.Fatal(err)
		}
	}
	tenant.SetLatency(20 * time.Millisecond)
	var run directory.Run
	if code := e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", map[string]string{"mode": "full"}, &run); code != 202 {
		t.Fatalf("sync: %d", code)
	}
	copy, cursor := e.export()
	exportedWhile := e.runOutcome(run.ID)
	// A local edit reaches the copy through the feed too.
	var someone string
	for id := range copy.users {
		someone = id
		break
	}
	if code := e.do(manage.RoleUserManager, "PATCH", "/api/v1/users/"+someone, map[string]any{"tags": []string{"vip"}, "notes": "call first"}, nil); code != 200 {
		t.Fatalf("PATCH user: %d", code)
	}

	// Follow the feed until the run has ended and a poll finds nothing.
	seen := map[int64]bool{}
	deadline := time.Now().Add(60 * time.Second)
	next := "/api/v1/events?limit=25&after=" + cursor
	for {
		ended := e.runOutcome(run.ID) != directory.OutcomeQueued && e.runOutcome(run.ID) != directory.OutcomeRunning
		var page struct {
			Events     []directory.Event
			Next, Poll string
		}
		if code := e.do(manage.RoleReadOnly, "GET", next, nil, &page); code != 200 {
			t.Fatalf("events: %d", code)
		}
		for _, ev := range page.Events {
			if seen[ev.Seq] {
				t.Fatalf("event %d read twice", ev.Seq)
			}
			seen[ev.Seq] = true
			copy.apply(t, ev)
		}
		if page.Next != "" {
			next = page.Next
			continue
		}
		next = page.Poll
		if ended && len(page.Events) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run did not end")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := e.runOutcome(run.ID); got != directory.OutcomeSucceeded {
		t.Fatalf("run %s", got)
	}
	t.Logf("exported while the run was %s; %d events applied", exportedWhile, copy.applied)
	if copy.applied < 30 {
		t.Fatalf("only %d events applied: the churn did not reach the feed", copy.applied)
	}

	want, _ := e.export()
	if !maps.Equal(copy.users, want.users) {
		for id, u := range want.users {
			if copy.users[id] != u {
				t.Errorf("user %s: the copy holds %s, the directory %s", id, copy.users[id], u)
			}
		}
		for id := range copy.users {
			if want.users[id] == "" {
				t.Errorf("user %s: the copy holds it, the directory does not", id)
			}
		}
	}
	if !maps.Equal(copy.groups, want.groups) {
		t.Errorf("groups: the copy %v, the directory %v", copy.groups, want.groups)
	}
	if !maps.Equal(copy.members, want.members) {
		var extra, missing []string
		for k := range copy.members {
			if !want.members[k] {
				extra = append(extra, k)
			}
		}
		for k := range want.members {
			if !copy.members[k] {
				missing = append(missing, k)
			}
		}
		t.Errorf("memberships: the copy has %d too many %v and misses %d %v", len(extra), slices.Sorted(slices.Values(extra)), len(missing), missing)
	}
}

// runOutcome reads a run's outcome through the API.
func (e *env) runOutcome(id string) directory.Outcome {
	e.t.Helper()
	var run directory.Run
	if code := e.do(manage.RoleReadOnly, "GET", "/api/v1/runs/"+id, nil, &run); code != 200 {
		e.t.Fatalf("run %s: %d", id, code)
	}
	return run.Outcome
}
