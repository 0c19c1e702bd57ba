package entra_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/graph"
)

func incremental(t *testing.T, c connector.Connector) connector.Incremental {
	t.Helper()
	inc, ok := c.(connector.Incremental)
	if !ok {
		t.Fatal("the Entra connector does not implement connector.Incremental")
	}
	return inc
}

func TestCursorTakesLatestTokens(t *testing.T) {
	e := newEnv(t)
	e.handle(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("$deltatoken") != "latest" {
			t.Errorf("cursor read data: %s", r.URL)
		}
		switch r.URL.Path {
		case "/v1.0/users/delta":
			if q.Get("$select") != strings.Join(graph.UserSelect, ",") {
				t.Errorf("users $select %q", q.Get("$select"))
			}
			io.WriteString(w, `{"@odata.deltaLink":"`+e.graph.URL+`/v1.0/users/delta?$deltatoken=U0","value":[]}`)
		case "/v1.0/groups/delta":
			io.WriteString(w, `{"@odata.deltaLink":"`+e.graph.URL+`/v1.0/groups/delta?$deltatoken=G0","value":[]}`)
		}
	})
	cur, err := incremental(t, e.open(t, e.config())).Cursor(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var parsed map[string]string
	if err := json.Unmarshal([]byte(cur), &parsed); err != nil || !strings.HasSuffix(parsed["users"], "$deltatoken=U0") || !strings.HasSuffix(parsed["groups"], "$deltatoken=G0") {
		t.Fatalf("cursor %s", cur)
	}
	if e.hits.Load() != 2 {
		t.Errorf("%d requests, want 2 whatever the tenant's size", e.hits.Load())
	}
}

// Microsoft's documented deltaLink responses with changes: a changed
// user, a soft-deleted user, a group whose description changed, one member
// removed and one added.
func TestChangesDocumentedRound(t *testing.T) {
	e := newEnv(t)
	e.handle(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("$deltatoken") {
		case "U1":
			e.serve(t, w, 200, "users-delta-changes.json")
		case "G1":
			e.serve(t, w, 200, "groups-delta-changes.json")
		default:
			t.Errorf("unexpected %s", r.URL)
		}
	})
	cur := `{"users":"` + e.graph.URL + `/v1.0/users/delta?$deltatoken=U1","groups":"` + e.graph.URL + `/v1.0/groups/delta?$deltatoken=G1"}`
	s := newSink()
	next, err := incremental(t, e.open(t, e.config())).Changes(ctx(t), cur, s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(next, "$deltatoken=MF1LuFYb") || !strings.Contains(next, "$deltatoken=sZwAFZib") {
		t.Errorf("next cursor %s", next)
	}
	slices.Sort(s.patches)
	want := []string{
		"group:2e5807ce-58f3-4a94-9b37-ffff2e085957:description,name",
		"user:25dcffff-959e-4ece-9973-e5d9b800e8cc:display_name,given_name,surname",
	}
	if !slices.Equal(s.patches, want) {
		t.Errorf("patches %v, want %v", s.patches, want)
	}
	if u := s.patchedUser["25dcffff-959e-4ece-9973-e5d9b800e8cc"]; u.DisplayName != "MOD Administrator" || u.GivenName != "MOD" {
		t.Errorf("patched user %+v", u)
	}
	// reason "changed" is a soft delete: restorable, not gone.
	if !slices.Equal(s.removed, []string{"user:8ffff70c-1c63-4860-b963-e34ec660931d:false"}) {
		t.Errorf("removed %v", s.removed)
	}
	if !slices.Equal(s.memRemoved, []string{"2e5807ce-58f3-4a94-9b37-ffff2e085957/user:632f6bb2-3ec8-4c1f-9073-0027a8c6859"}) {
		t.Errorf("memberships removed %v", s.memRemoved)
	}
	if got := s.members["2e5807ce-58f3-4a94-9b37-ffff2e085957"]; !slices.Equal(got, []string{"user:37de1ae3-408f-4702-8636-20824abda004"}) {
		t.Errorf("memberships added %v", got)
	}
	if s.userCalls != 0 || s.groupCalls != 0 {
		t.Error("a delta entry was handed over as a whole object; it may be partial")
	}
}

// The documented "large group" pages: the same group in two entries, each
// with a slice of members@delta to merge.
func TestChangesMergesSplitGroup(t *testing.T) {
	e := newEnv(t)
	e.handle(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.URL.Path == "/v1.0/users/delta":
			io.WriteString(w, `{"@odata.deltaLink":"`+e.graph.URL+`/v1.0/users/delta?$deltatoken=U2","value":[]}`)
		case q.Get("$skiptoken") == "large-page-2":
			e.serve(t, w, 200, "groups-delta-large-2.json")
		default:
			e.serve(t, w, 200, "groups-delta-large-1.json")
		}
	})
	cur := `{"users":"` + e.graph.URL + `/v1.0/users/delta?$deltatoken=U1","groups":"` + e.graph.URL + `/v1.0/groups/delta?$deltatoken=G1"}`
	s := newSink()
	next, err := incremental(t, e.open(t, e.config())).Changes(ctx(t), cur, s)
	if err != nil || !strings.Contains(next, "large-final") {
		t.Fatalf("next %s err %v", next, err)
	}
	const g = "2e5807ce-58f3-4a94-9b37-ffff2e085957"
	if got := s.members[g]; !slices.Equal(got, []string{"user:37de1ae3-408f-4702-8636-20824abda004", "user:23423fa6-821e-44b2-aae4-d039d33884c2"}) {
		t.Errorf("added %v", got)
	}
	if !slices.Equal(s.memRemoved, []string{g + "/user:632f6bb2-3ec8-4c1f-9073-0027a8c6859", g + "/user:c08a463b-7b8a-40a4-aa31-f9bf690b9551"}) {
		t.Errorf("removed %v", s.memRemoved)
	}
}

func TestChangesMinimalEntryIsAPatch(t *testing.T) {
	e := newEnv(t)
	e.handle(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1.0/users/delta" {
			io.WriteString(w, `{"@odata.deltaLink":"`+e.graph.URL+`/v1.0/users/delta?$deltatoken=U2","value":[
				{"id":"u1","jobTitle":null,"accountEnabled":false},
				{"id":"u2","@removed":{"reason":"deleted"}},
				{"id":"u3","userPrincipalName":"restored@contoso.com","displayName":"Restored"}
			]}`)
			return
		}
		io.WriteString(w, `{"@odata.deltaLink":"`+e.graph.URL+`/v1.0/groups/delta?$deltatoken=G2","value":[
			{"id":"g1","@removed":{"reason":"deleted"}},
			{"id":"g2","members@delta":[{"@odata.type":"#microsoft.graph.device","id":"d1"},{"@odata.type":"#microsoft.graph.device","id":"d2","@removed":{"reason":"deleted"}},{"@odata.type":"#microsoft.graph.group","id":"g3","@removed":{"reason":"deleted"}}]}
		]}`)
	})
	cur := `{"users":"` + e.graph.URL + `/v1.0/users/delta?$deltatoken=U1","groups":"` + e.graph.URL + `/v1.0/groups/delta?$deltatoken=G1"}`
	s := newSink()
	if _, err := incremental(t, e.open(t, e.config())).Changes(ctx(t), cur, s); err != nil {
		t.Fatal(err)
	}
	slices.Sort(s.patches)
	if !slices.Equal(s.patches, []string{"user:u1:enabled,job_title", "user:u3:display_name,username"}) {
		t.Errorf("patches %v", s.patches)
	}
	if u := s.patchedUser["u1"]; u.Enabled || u.JobTitle != "" {
		t.Errorf("u1 %+v", u)
	}
	slices.Sort(s.removed)
	if !slices.Equal(s.removed, []string{"group:g1:true", "user:u2:true"}) {
		t.Errorf("removed %v", s.removed)
	}
	if !slices.Equal(s.memRemoved, []string{"g2/group:g3"}) || len(s.skips) != 1 || s.skips[0].ExternalID != "d1" {
		t.Errorf("memberships removed %v, skips %v", s.memRemoved, s.skips)
	}
}

func TestChangesExpiredToken(t *testing.T) {
	e := newEnv(t)
	e.handle(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1.0/users/delta" {
			w.Header().Set("Location", e.graph.URL+"/v1.0/users/delta?$deltatoken=")
			w.WriteHeader(http.StatusGone)
			io.WriteString(w, `{"error":{"code":"syncStateNotFound","message":"The sync state generation is not found."}}`)
			return
		}
		io.WriteString(w, `{"@odata.deltaLink":"`+e.graph.URL+`/v1.0/groups/delta?$deltatoken=G2","value":[]}`)
	})
	inc := incremental(t, e.open(t, e.config()))
	cur := `{"users":"` + e.graph.URL + `/v1.0/users/delta?$deltatoken=old","groups":"` + e.graph.URL + `/v1.0/groups/delta?$deltatoken=old"}`
	next, err := inc.Changes(ctx(t), cur, newSink())
	if connector.KindOf(err) != connector.KindCursor || next != "" {
		t.Fatalf("next %q err %v", next, err)
	}
	if _, err := inc.Changes(ctx(t), "garbage", newSink()); connector.KindOf(err) != connector.KindCursor {
		t.Errorf("unreadable cursor: %v", err)
	}
}

func TestLookupUserUsesOneBatch(t *testing.T) {
	e := newEnv(t)
	e.handle(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1.0/users/u1/memberOf" { // the second page, followed outside the batch
			io.WriteString(w, `{"value":[{"@odata.type":"#microsoft.graph.group","id":"g3"}]}`)
			return
		}
		if r.URL.Path != "/v1.0/$batch" {
			t.Errorf("unexpected %s", r.URL)
			return
		}
		var req struct{ Requests []graph.BatchRequest }
		json.NewDecoder(r.Body).Decode(&req)
		if len(req.Requests) != 2 || req.Requests[0].URL != "/users/guest_fabrikam.com%23EXT%23@contoso.onmicrosoft.com?$select="+strings.Join(graph.UserSelect, ",") {
			t.Errorf("batch %+v", req.Requests)
		}
		io.WriteString(w, `{"responses":[
			{"id":"memberOf","status":200,"headers":{"Content-Type":"application/json"},"body":{"@odata.nextLink":"`+e.graph.URL+`/v1.0/users/u1/memberOf?$skiptoken=2","value":[
				{"@odata.type":"#microsoft.graph.group","id":"g1"},
				{"@odata.type":"#microsoft.graph.directoryRole","id":"r1"},
				{"@odata.type":"#microsoft.graph.group","id":"g2"}]}},
			{"id":"user","status":200,"headers":{"Content-Type":"application/json"},"body":{"id":"u1","userPrincipalName":"guest_fabrikam.com#EXT#@contoso.onmicrosoft.com","userType":"Guest","accountEnabled":true}}
		]}`)
	})
	u, ms, err := e.open(t, e.config()).(connector.UserLookup).LookupUser(ctx(t), "guest_fabrikam.com#EXT#@contoso.onmicrosoft.com")
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, m := range ms {
		if m.MemberExternalID != "u1" {
			t.Errorf("membership %+v", m)
		}
		groups = append(groups, m.GroupExternalID)
	}
	if u.ExternalID != "u1" || u.UserType != "Guest" || !slices.Equal(groups, []string{"g1", "g2", "g3"}) {
		t.Errorf("user %+v groups %v", u, groups)
	}
}

func TestLookupUserNotFound(t *testing.T) {
	e := newEnv(t)
	e.handle(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"responses":[
			{"id":"user","status":404,"body":{"error":{"code":"Request_ResourceNotFound","message":"Resource 'nobody@contoso.com' does not exist or one of its queried reference-property objects are not present."}}},
			{"id":"memberOf","status":404,"body":{"error":{"code":"Request_ResourceNotFound","message":"Resource does not exist."}}}
		]}`)
	})
	_, _, err := e.open(t, e.config()).(connector.UserLookup).LookupUser(ctx(t), "nobody@contoso.com")
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.Kind != connector.KindNotFound || !strings.Contains(ce.Message, "nobody@contoso.com") {
		t.Fatalf("err = %v", err)
	}
}
