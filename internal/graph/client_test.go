package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/dirsync/dirsync/internal/graph"
	"github.com/dirsync/dirsync/internal/graph/graphtest"
)

// staticCred hands out "tok-N": the same one until asked with claims,
// which is how the client forces a fresh token.
type staticCred struct {
	mu     sync.Mutex
	n      int
	calls  int
	claims []string
}

func (c *staticCred) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.n == 0 || o.Claims != "" {
		c.n++
	}
	if o.Claims != "" {
		c.claims = append(c.claims, o.Claims)
	}
	return azcore.AccessToken{Token: "tok-" + string(rune('0'+c.n)), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

type fixture struct {
	srv   *httptest.Server
	c     *graph.Client
	clock *graphtest.Clock
	cred  *staticCred
	hits  atomic.Int64
}

// newFixture starts a Graph test server (on 127.0.0.1, TLS, trusted through
// the client's extra-CA setting as an admin would trust a proxy's CA).
func newFixture(t *testing.T, budget time.Duration, h func(f *fixture, w http.ResponseWriter, r *http.Request)) *fixture {
	t.Helper()
	f := &fixture{clock: graphtest.NewClock(), cred: &staticCred{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		h(f, w, r)
	}))
	t.Cleanup(f.srv.Close)
	hc, err := graph.NewHTTPClient(graphtest.CAPEM(f.srv))
	if err != nil {
		t.Fatal(err)
	}
	f.c, err = graph.New(graph.Options{
		Credential: f.cred,
		GraphURL:   f.srv.URL,
		HTTPClient: hc,
		Budget:     budget,
		Clock:      f.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) serve(t *testing.T, w http.ResponseWriter, status int, name string) {
	graphtest.ServeTestdata(t, w, status, name, f.srv.URL)
}

func TestListUsersDocumentedResponse(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/v1.0/users" || q.Get("$top") != "999" || q.Get("$select") != strings.Join(graph.UserSelect, ",") {
			t.Errorf("unexpected request %s", r.URL)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer tok-1" {
			t.Errorf("Authorization = %q", got)
		}
		f.serve(t, w, 200, "list-users.json")
	})
	var users []graph.User
	if err := f.c.ListUsers(context.Background(), graph.Query{}, func(us []graph.User) error {
		users = append(users, us...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 {
		t.Fatalf("got %d users", len(users))
	}
	adams, admin := users[0], users[1]
	if adams.ID != "6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0" || adams.UserPrincipalName != "Adams@contoso.com" || adams.Mail != "Adams@contoso.com" {
		t.Errorf("adams = %+v", adams)
	}
	// givenName is null in the documented response: present, and empty.
	if !adams.Has("givenName") || adams.GivenName != "" || adams.Has("accountEnabled") {
		t.Errorf("adams fields = %v", adams.Fields)
	}
	if admin.Mail != "" || !slices.Equal(admin.BusinessPhones, []string{"425-555-0100"}) || admin.MobilePhone != "425-555-0101" || admin.Surname != "Administrator" {
		t.Errorf("admin = %+v", admin)
	}
	if s := f.c.Stats(); s.Requests != 1 || s.Retries != 0 || s.Throttled != 0 {
		t.Errorf("stats = %+v", s)
	}
}

// The nextLink of Microsoft's paging example (a $skiptoken with %27
// escapes) must come back to the server byte for byte.
func TestNextLinkFollowedExactly(t *testing.T) {
	const skip = "$top=3&$skiptoken=X%2744537074020001000000223A416C657857404D333635783939353035322E4F6E4D6963726F736F66742E636F6D29557365725F33613166623664392D373666342D346233352D623139332D333764643136373530396233B900000000000000000000%27"
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery == skip {
			io.WriteString(w, `{"value":[{"id":"2","userPrincipalName":"b@contoso.com"}]}`)
			return
		}
		if r.URL.Query().Has("$skiptoken") {
			t.Errorf("nextLink was altered: %s", r.URL.RawQuery)
		}
		io.WriteString(w, `{"@odata.nextLink":"`+f.srv.URL+`/v1.0/users?`+skip+`","value":[{"id":"1","userPrincipalName":"a@contoso.com"}]}`)
	})
	var ids []string
	err := f.c.ListUsers(context.Background(), graph.Query{Top: 3}, func(us []graph.User) error {
		for _, u := range us {
			ids = append(ids, u.ID)
		}
		return nil
	})
	if err != nil || !slices.Equal(ids, []string{"1", "2"}) {
		t.Fatalf("ids %v, err %v", ids, err)
	}
}

func TestNextLinkToAnotherHostRefused(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"@odata.nextLink":"`+other.URL+`/v1.0/users?$skiptoken=x","value":[]}`)
	})
	err := f.c.ListUsers(context.Background(), graph.Query{}, func([]graph.User) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "refusing to follow") {
		t.Fatalf("err = %v", err)
	}
	if elsewhere.Load() != 0 {
		t.Fatal("the token was sent to another host")
	}
}

func TestErrStopEndsPaging(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"@odata.nextLink":"`+f.srv.URL+`/v1.0/users?$skiptoken=next","value":[{"id":"1"}]}`)
	})
	err := f.c.ListUsers(context.Background(), graph.Query{Top: 1}, func([]graph.User) error { return graph.ErrStop })
	if err != nil || f.hits.Load() != 1 {
		t.Fatalf("err %v, %d requests", err, f.hits.Load())
	}
}

func TestUsersDeltaDocumentedRound(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1.0/users/delta" {
			t.Errorf("path %s", r.URL.Path)
		}
		q := r.URL.Query()
		switch {
		case q.Get("$select") != "" && q.Get("$skiptoken") == "":
			f.serve(t, w, 200, "users-delta-1.json")
		case strings.HasPrefix(q.Get("$skiptoken"), "oEBwdSP6"):
			f.serve(t, w, 200, "users-delta-2.json")
		case strings.HasPrefix(q.Get("$skiptoken"), "pqwSUjGYvb3jQpbwVAwEL7yuI3dU1LecfkkfLPtnIjtQ5LOhVoS7qQG_wdVCHHlbQpga7"):
			f.serve(t, w, 200, "users-delta-3.json")
		case strings.HasPrefix(q.Get("$deltatoken"), "oEcOySpF"):
			f.serve(t, w, 200, "users-delta-changes.json")
		default:
			t.Errorf("unexpected %s", r.URL)
			w.WriteHeader(400)
		}
	})
	ctx := context.Background()
	var entries []graph.User
	collect := func(us []graph.User) error { entries = append(entries, us...); return nil }
	dl, err := f.c.DeltaUsers(ctx, f.c.UsersDeltaURL([]string{"displayName", "givenName", "surname"}), graph.DeltaOptions{}, collect)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dl, f.srv.URL+"/v1.0/users/delta?$deltatoken=oEcOySpF") {
		t.Fatalf("deltaLink = %s", dl)
	}
	if len(entries) != 8 {
		t.Fatalf("%d entries", len(entries))
	}
	gone := entries[2]
	if gone.ID != "86462606-fde0-4fc4-9e0c-a20eb73e54c6" || gone.Removed == nil || gone.Removed.Reason != graph.ReasonDeleted || !slices.Equal(gone.Fields, []string{"id"}) {
		t.Errorf("removed entry = %+v", gone)
	}
	// "Conf Room Adams" came with displayName only: a patch, not a whole user.
	if adams := entries[3]; !slices.Equal(adams.Fields, []string{"displayName", "id"}) || adams.Removed != nil {
		t.Errorf("partial entry = %+v", adams)
	}

	entries = nil
	dl2, err := f.c.DeltaUsers(ctx, dl, graph.DeltaOptions{}, collect)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dl2, "$deltatoken=MF1LuFYb") || len(entries) != 2 {
		t.Fatalf("deltaLink %s, %d entries", dl2, len(entries))
	}
	if e := entries[1]; e.Removed == nil || e.Removed.Reason != graph.ReasonChanged {
		t.Errorf("soft delete entry = %+v", e)
	}
}

func TestDeltaMinimalSendsPreferOnEveryPage(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Prefer") != "return=minimal" {
			t.Errorf("page %s without Prefer: return=minimal", r.URL.RawQuery)
		}
		if r.URL.Query().Has("$skiptoken") {
			f.serve(t, w, 200, "users-delta-changes.json")
			return
		}
		f.serve(t, w, 200, "users-delta-minimal.json")
	})
	var first graph.User
	n := 0
	_, err := f.c.DeltaUsers(context.Background(), f.srv.URL+"/v1.0/users/delta?$deltatoken=saved", graph.DeltaOptions{Minimal: true}, func(us []graph.User) error {
		if n == 0 {
			first = us[0]
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// jobTitle was set to null: present (so it must be cleared), mobilePhone absent (unchanged).
	if !first.Has("jobTitle") || first.Has("mobilePhone") || first.DisplayName != "displayName-value" {
		t.Errorf("minimal entry = %+v", first)
	}
}

func TestDeltaRoundWithoutDeltaLinkIsAnError(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"value":[]}`)
	})
	_, err := f.c.DeltaUsers(context.Background(), f.c.UsersDeltaURL(nil), graph.DeltaOptions{}, func([]graph.User) error { return nil })
	if err == nil {
		t.Fatal("a round that never reached a deltaLink passed")
	}
}

func TestGroupsDeltaDocumentedRound(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Get("$skiptoken") == "" && q.Get("$deltatoken") == "":
			if sel := q.Get("$select"); !strings.HasSuffix(sel, ",members") {
				t.Errorf("$select = %q", sel)
			}
			f.serve(t, w, 200, "groups-delta-1.json")
		case strings.HasPrefix(q.Get("$skiptoken"), "pqwSUjGYvb3jQpbwVAwEL7yuI3dU1LecfkkfLPtnIjvB7XnF"):
			f.serve(t, w, 200, "groups-delta-2.json")
		case strings.HasPrefix(q.Get("$skiptoken"), "pqwSUjGYvb3jQpbwVAwEL7yuI3dU1LecfkkfLPtnIjtQ5LOhVoS7qQG"):
			f.serve(t, w, 200, "groups-delta-3.json")
		default:
			t.Errorf("unexpected %s", r.URL)
		}
	})
	members := map[string][]string{}
	var names []string
	dl, err := f.c.DeltaGroups(context.Background(), f.c.GroupsDeltaURL(nil, true), graph.DeltaOptions{}, func(gs []graph.Group) error {
		for _, g := range gs {
			names = append(names, g.DisplayName)
			for _, m := range g.MembersDelta {
				if m.Kind() != graph.KindUser {
					t.Errorf("member kind %q", m.Kind())
				}
				members[g.ID] = append(members[g.ID], m.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dl, "$deltatoken=sZwAFZib") {
		t.Errorf("deltaLink %s", dl)
	}
	if !slices.Equal(names, []string{"TestGroup1", "TestGroup2", "TestGroup3", "TestGroup4", "TestGroup5", "TestGroup6"}) {
		t.Errorf("groups %v", names)
	}
	if got := members["421e797f-9406-4934-b778-4908421e3505"]; !slices.Equal(got, []string{"3c8ac7c4-d365-4df9-abfa-356a9dd7763c", "49320844-be99-4164-8167-87ff5d047ace"}) {
		t.Errorf("TestGroup4 members %v", got)
	}
}

func TestGroupsDeltaLargeGroupComesInSlices(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("$skiptoken") == "large-page-2" {
			f.serve(t, w, 200, "groups-delta-large-2.json")
			return
		}
		f.serve(t, w, 200, "groups-delta-large-1.json")
	})
	var entries []graph.Group
	dl, err := f.c.DeltaGroups(context.Background(), f.srv.URL+"/v1.0/groups/delta?$deltatoken=before", graph.DeltaOptions{}, func(gs []graph.Group) error {
		entries = append(entries, gs...)
		return nil
	})
	if err != nil || !strings.HasSuffix(dl, "$deltatoken=large-final") {
		t.Fatalf("dl %s, err %v", dl, err)
	}
	if len(entries) != 2 || entries[0].ID != entries[1].ID {
		t.Fatalf("expected the same group twice, got %+v", entries)
	}
	if m := entries[1].MembersDelta; len(m) != 2 || m[0].Removed == nil || m[0].Removed.Reason != graph.ReasonDeleted || m[1].Removed != nil {
		t.Errorf("second slice = %+v", m)
	}
}

func TestMembersKeepTheirType(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/memberOf") {
			f.serve(t, w, 200, "user-memberof.json")
			return
		}
		f.serve(t, w, 200, "group-members.json")
	})
	ctx := context.Background()
	var ms []graph.DirectoryObject
	if err := f.c.ListMembers(ctx, "02bd9fd6-8f93-4758-87c3-1fb73740a315", graph.Query{}, func(p []graph.DirectoryObject) error {
		ms = append(ms, p...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The documented example carries no @odata.type: the client must not invent one.
	if len(ms) != 1 || ms[0].Kind() != "" || ms[0].Mail != "user1@contoso.com" {
		t.Errorf("members %+v", ms)
	}
	ms = nil
	if err := f.c.ListMemberOf(ctx, "guest_example.com#EXT#@contoso.onmicrosoft.com", graph.Query{}, func(p []graph.DirectoryObject) error {
		ms = append(ms, p...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Kind() != graph.KindGroup {
		t.Errorf("memberOf %+v", ms)
	}
}

func TestGetUserEscapesGuestUPN(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		if r.URL.EscapedPath() != "/v1.0/users/guest_example.com%23EXT%23@contoso.onmicrosoft.com" {
			t.Errorf("path %s", r.URL.EscapedPath())
		}
		io.WriteString(w, `{"id":"g1","userPrincipalName":"guest_example.com#EXT#@contoso.onmicrosoft.com","accountEnabled":false,"userType":"Guest"}`)
	})
	u, err := f.c.GetUser(context.Background(), "guest_example.com#EXT#@contoso.onmicrosoft.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.AccountEnabled == nil || *u.AccountEnabled || u.UserType != "Guest" {
		t.Errorf("user %+v", u)
	}
}

func TestErrorBodyParsed(t *testing.T) {
	for _, tc := range []struct {
		file, code, reqID string
		status            int
	}{
		{"error-example.json", "invalidRange", "request-id", 416},
		{"error-authorization-denied.json", "Authorization_RequestDenied", "93b6f17e-c05d-4f45-ad2a-6665c708d8a0", 403},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
				f.serve(t, w, tc.status, tc.file)
			})
			_, err := f.c.GetUser(context.Background(), "x", nil)
			var ge *graph.Error
			if !errors.As(err, &ge) {
				t.Fatalf("err = %v", err)
			}
			if ge.Status != tc.status || ge.Code != tc.code || ge.RequestID != tc.reqID || ge.Message == "" {
				t.Errorf("error = %+v", ge)
			}
			if f.hits.Load() != 1 {
				t.Errorf("a %d was retried", tc.status)
			}
		})
	}
}

func TestExpiredDeltaToken(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", f.srv.URL+"/v1.0/users/delta?$deltatoken=")
		w.WriteHeader(http.StatusGone)
		io.WriteString(w, `{"error":{"code":"syncStateNotFound","message":"The sync state generation is not found."}}`)
	})
	_, err := f.c.DeltaUsers(context.Background(), f.srv.URL+"/v1.0/users/delta?$deltatoken=old", graph.DeltaOptions{}, func([]graph.User) error { return nil })
	var ge *graph.Error
	if !graph.IsDeltaExpired(err) || !errors.As(err, &ge) || !strings.HasSuffix(ge.Location, "$deltatoken=") {
		t.Fatalf("err = %v", err)
	}
	if graph.IsDeltaExpired(&graph.Error{Status: 403, Code: "Authorization_RequestDenied"}) {
		t.Error("403 taken for an expired token")
	}
	if !graph.IsDeltaExpired(&graph.Error{Status: 400, Code: "resyncRequired"}) {
		t.Error("resyncRequired not recognized")
	}
}

func TestLatestDeltaLink(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("$deltatoken") != "latest" || !strings.Contains(r.URL.Query().Get("$select"), "members") {
			t.Errorf("query %s", r.URL.RawQuery)
		}
		io.WriteString(w, `{"@odata.deltaLink":"`+f.srv.URL+`/v1.0/groups/delta?$deltatoken=now","value":[]}`)
	})
	dl, err := f.c.LatestDeltaLink(context.Background(), f.c.GroupsDeltaURL(nil, true))
	if err != nil || dl != f.srv.URL+"/v1.0/groups/delta?$deltatoken=now" {
		t.Fatalf("dl %q err %v", dl, err)
	}
}

func TestOrganizationAndDomains(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1.0/organization":
			io.WriteString(w, `{"value":[{"id":"84841066-274d-4ec0-a5c1-276be684bdd3","displayName":"Contoso","verifiedDomains":[{"capabilities":"Email, OfficeCommunicationsOnline","isDefault":true,"isInitial":true,"name":"contoso.onmicrosoft.com","type":"Managed"}]}]}`)
		case "/v1.0/domains":
			io.WriteString(w, `{"value":[{"authenticationType":"authenticationType-value","availabilityStatus":"availabilityStatus-value","id":"contoso.com","isAdminManaged":true,"isDefault":true,"isInitial":true,"isRoot":true}]}`)
		}
	})
	orgs, err := f.c.Organization(context.Background())
	if err != nil || len(orgs) != 1 || orgs[0].DisplayName != "Contoso" || orgs[0].VerifiedDomains[0].Name != "contoso.onmicrosoft.com" {
		t.Fatalf("orgs %+v err %v", orgs, err)
	}
	ds, err := f.c.Domains(context.Background())
	if err != nil || len(ds) != 1 || ds[0].ID != "contoso.com" || !ds[0].IsDefault {
		t.Fatalf("domains %+v err %v", ds, err)
	}
}

func TestBatchDocumentedResponse(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1.0/$batch" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s", r.Method, r.URL)
		}
		var req struct{ Requests []graph.BatchRequest }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Requests) != 5 {
			t.Errorf("batch body: %v, %d requests", err, len(req.Requests))
		}
		// Answers may come in any order: reverse the documented ones.
		var resp struct {
			Responses []json.RawMessage `json:"responses"`
		}
		json.Unmarshal(graphtest.Testdata(t, "batch-response.json", f.srv.URL), &resp)
		slices.Reverse(resp.Responses)
		json.NewEncoder(w).Encode(resp)
	})
	reqs := []graph.BatchRequest{
		{ID: "1", Method: "GET", URL: "/me/memberOf"},
		{ID: "2", Method: "GET", URL: "/me/planner/tasks"},
		{ID: "3", Method: "DELETE", URL: "/groups/0e226165-c685-41ce-8bfc-df8360ab325d"},
		{ID: "4", Method: "POST", URL: "/users/161ab652-cdbc-490d-82a4-0ada1f0db247/getPasswordSingleSignOnCredentials", Body: json.RawMessage(`{}`), Headers: map[string]string{"Content-Type": "application/json"}},
		{ID: "5", Method: "GET", URL: "users?$select=id,displayName,userPrincipalName&$filter=city eq null&$count=true", Headers: map[string]string{"ConsistencyLevel": "eventual"}},
	}
	got, err := f.c.Batch(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []int
	for i, r := range got {
		if r.ID != reqs[i].ID {
			t.Errorf("answer %d is for request %s", i, r.ID)
		}
		statuses = append(statuses, r.Status)
	}
	if !slices.Equal(statuses, []int{200, 403, 403, 405, 200}) {
		t.Errorf("statuses %v", statuses)
	}
	var ge *graph.Error
	if err := got[2].Err(); !errors.As(err, &ge) || ge.Code != "Authorization_RequestDenied" || ge.RequestID != "93b6f17e-c05d-4f45-ad2a-6665c708d8a0" {
		t.Errorf("answer 3 error = %v", err)
	}
	var users struct {
		Value []graph.User `json:"value"`
	}
	if err := got[4].Decode(&users); err != nil || users.Value[0].UserPrincipalName != "LynneR@contoso.com" {
		t.Errorf("answer 5 = %+v, %v", users, err)
	}
	if got[0].Header("content-type") == "" {
		t.Error("sub-response headers not kept")
	}
}

func TestBatchRetriesThrottledSubRequestOnly(t *testing.T) {
	var calls atomic.Int64
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		var req struct{ Requests []graph.BatchRequest }
		json.NewDecoder(r.Body).Decode(&req)
		throttled := graphtest.Testdata(t, "error-throttled.json", f.srv.URL)
		var out []map[string]any
		n := calls.Add(1)
		for _, q := range req.Requests {
			switch {
			case n == 1 && q.ID == "b":
				out = append(out, map[string]any{"id": q.ID, "status": 429, "headers": map[string]string{"Retry-After": "7", "Content-Type": "application/json"}, "body": json.RawMessage(throttled)})
			case n == 1 && q.ID == "c":
				// c depends on b, so it fails with it.
				out = append(out, map[string]any{"id": q.ID, "status": 424, "body": json.RawMessage(`{"error":{"code":"FailedDependency","message":"dependency failed"}}`)})
			default:
				if n == 2 && q.ID == "a" {
					t.Errorf("request a succeeded but was sent again")
				}
				if n == 2 && q.ID == "c" && !slices.Equal(q.DependsOn, []string{"b"}) {
					t.Errorf("c's dependsOn = %v", q.DependsOn)
				}
				out = append(out, map[string]any{"id": q.ID, "status": 200, "body": map[string]any{"id": q.ID}})
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"responses": out})
	})
	got, err := f.c.Batch(context.Background(), []graph.BatchRequest{
		{ID: "a", Method: "GET", URL: "/users/a"},
		{ID: "b", Method: "GET", URL: "/users/b"},
		{ID: "c", Method: "GET", URL: "/users/c", DependsOn: []string{"b"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.Status != 200 {
			t.Errorf("%s: %d", r.ID, r.Status)
		}
	}
	sleeps := f.clock.Sleeps()
	if len(sleeps) != 1 || sleeps[0] < 7*time.Second || sleeps[0] >= 7500*time.Millisecond {
		t.Errorf("sleeps %v, want one Retry-After of 7s plus jitter", sleeps)
	}
	if s := f.c.Stats(); s.Requests != 2 || s.Throttled != 1 || s.Retries != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestBatchThrottledPastBudgetReturnsThe429(t *testing.T) {
	f := newFixture(t, 30*time.Second, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"responses":[{"id":"1","status":429,"headers":{"Retry-After":"20"},"body":{"error":{"code":"TooManyRequests","message":"Please retry again later."}}}]}`)
	})
	got, err := f.c.Batch(context.Background(), []graph.BatchRequest{{ID: "1", Method: "GET", URL: "/users/1"}})
	if err != nil {
		t.Fatal(err)
	}
	var ge *graph.Error
	if !errors.As(got[0].Err(), &ge) || ge.Status != 429 || ge.RetryAfter != 20*time.Second {
		t.Fatalf("answer %+v", got[0])
	}
	if f.hits.Load() != 2 {
		t.Errorf("%d batches sent, want 2 (the second 20 s wait would pass the 30 s budget)", f.hits.Load())
	}
}

func TestBatchSplitsIntoTwenties(t *testing.T) {
	var sizes []int
	var mu sync.Mutex
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		var req struct{ Requests []graph.BatchRequest }
		json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		sizes = append(sizes, len(req.Requests))
		mu.Unlock()
		var out []map[string]any
		for _, q := range req.Requests {
			out = append(out, map[string]any{"id": q.ID, "status": 200, "body": map[string]any{}})
		}
		json.NewEncoder(w).Encode(map[string]any{"responses": out})
	})
	var reqs []graph.BatchRequest
	for i := range 45 {
		reqs = append(reqs, graph.BatchRequest{ID: string(rune('A'+i/26)) + string(rune('a'+i%26)), Method: "GET", URL: "/users"})
	}
	got, err := f.c.Batch(context.Background(), reqs)
	if err != nil || len(got) != 45 {
		t.Fatalf("%d answers, err %v", len(got), err)
	}
	if !slices.Equal(sizes, []int{20, 20, 5}) {
		t.Errorf("batch sizes %v", sizes)
	}
	if _, err := f.c.Batch(context.Background(), []graph.BatchRequest{{ID: "x"}, {ID: "X"}}); err == nil {
		t.Error("duplicate ids (ids are case-insensitive) accepted")
	}
}

func TestThrottledRetryAfterHonoured(t *testing.T) {
	f := newFixture(t, 5*time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		if f.hits.Load() == 1 {
			w.Header().Set("Retry-After", "10")
			f.serve(t, w, 429, "error-throttled.json")
			return
		}
		io.WriteString(w, `{"value":[]}`)
	})
	if err := f.c.ListUsers(context.Background(), graph.Query{}, func([]graph.User) error { return nil }); err != nil {
		t.Fatal(err)
	}
	sleeps := f.clock.Sleeps()
	if len(sleeps) != 1 || sleeps[0] < 10*time.Second || sleeps[0] >= 10500*time.Millisecond {
		t.Errorf("sleeps %v, want Retry-After 10s plus under 0.5s of jitter", sleeps)
	}
	if s := f.c.Stats(); s.Requests != 2 || s.Throttled != 1 || s.Retries != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestServiceUnavailableBacksOff(t *testing.T) {
	f := newFixture(t, 5*time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		switch f.hits.Load() {
		case 1:
			w.WriteHeader(503)
		case 2:
			w.WriteHeader(504)
			io.WriteString(w, "<html>gateway timeout</html>")
		default:
			io.WriteString(w, `{"value":[]}`)
		}
	})
	if err := f.c.ListUsers(context.Background(), graph.Query{}, func([]graph.User) error { return nil }); err != nil {
		t.Fatal(err)
	}
	s := f.clock.Sleeps()
	if len(s) != 2 || s[0] < 500*time.Millisecond || s[0] >= time.Second || s[1] < time.Second || s[1] >= 2*time.Second {
		t.Errorf("sleeps %v, want exponential backoff with jitter (0.5-1s, 1-2s)", s)
	}
}

func TestBudgetExhausted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		header string
	}{
		{"throttled", 429, "60"},
		{"unavailable", 503, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 5*time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(tc.status)
			})
			err := f.c.ListUsers(context.Background(), graph.Query{}, func([]graph.User) error { return nil })
			var ge *graph.Error
			if !errors.Is(err, graph.ErrRetryBudget) || !errors.As(err, &ge) || ge.Status != tc.status {
				t.Fatalf("err = %v", err)
			}
			var total time.Duration
			for _, d := range f.clock.Sleeps() {
				total += d
			}
			if total > 5*time.Minute || total < 3*time.Minute {
				t.Errorf("waited %v in all, want most of the 5 minute budget and no more", total)
			}
		})
	}
}

// resetOnce answers the first connection with a TCP reset.
func TestConnectionResetRetried(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		if f.hits.Load() == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			if tc, ok := conn.(interface{ NetConn() net.Conn }); ok {
				if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
					tcp.SetLinger(0) // close with RST, not FIN
				}
			}
			conn.Close()
			return
		}
		io.WriteString(w, `{"value":[{"id":"1"}]}`)
	})
	n := 0
	if err := f.c.ListUsers(context.Background(), graph.Query{}, func(us []graph.User) error { n += len(us); return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1 || f.c.Stats().Retries != 1 || len(f.clock.Sleeps()) != 1 {
		t.Errorf("users %d, stats %+v, sleeps %v", n, f.c.Stats(), f.clock.Sleeps())
	}
}

func TestExpiredTokenRefreshedOnce(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer tok-1" {
			f.serve(t, w, 401, "error-expired-token.json")
			return
		}
		io.WriteString(w, `{"value":[{"id":"1"}]}`)
	})
	if err := f.c.ListUsers(context.Background(), graph.Query{}, func([]graph.User) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(f.cred.claims) != 1 || !strings.Contains(f.cred.claims[0], `"nbf"`) {
		t.Errorf("fresh token not forced: claims %v", f.cred.claims)
	}
	if len(f.clock.Sleeps()) != 0 {
		t.Errorf("slept %v before retrying with a new token", f.clock.Sleeps())
	}
}

func TestUnauthorizedAfterTwoRefreshesIsAnError(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		f.serve(t, w, 401, "error-expired-token.json")
	})
	err := f.c.ListUsers(context.Background(), graph.Query{}, func([]graph.User) error { return nil })
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Status != 401 || ge.Code != "InvalidAuthenticationToken" {
		t.Fatalf("err = %v", err)
	}
	if f.hits.Load() != 3 {
		t.Errorf("%d requests, want 3 (two refreshes, then give up)", f.hits.Load())
	}
}

func TestClaimsChallengeUsed(t *testing.T) {
	// A CAE challenge: claims is base64 of {"access_token":{"nbf":{"essential":true, "value":"1604106651"}}}
	const challenge = `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwgInZhbHVlIjoiMTYwNDEwNjY1MSJ9fX0="`
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		if f.hits.Load() == 1 {
			w.Header().Set("WWW-Authenticate", challenge)
			w.WriteHeader(401)
			return
		}
		io.WriteString(w, `{"value":[]}`)
	})
	if err := f.c.ListUsers(context.Background(), graph.Query{}, func([]graph.User) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(f.cred.claims) != 1 || f.cred.claims[0] != `{"access_token":{"nbf":{"essential":true, "value":"1604106651"}}}` {
		t.Errorf("claims %q", f.cred.claims)
	}
}

func TestCancelStopsWaiting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		cancel()
		w.WriteHeader(503)
	})
	err := f.c.ListUsers(ctx, graph.Query{}, func([]graph.User) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestCustomCloudNeedsHTTPS(t *testing.T) {
	if _, err := graph.CustomCloud("http://login.example", "https://graph.example"); err == nil {
		t.Error("http authority accepted")
	}
	c, err := graph.CustomCloud("https://login.example/", "https://graph.example")
	if err != nil || c.AuthorityURL != "https://login.example" || c.Scope() != "https://graph.example/.default" || !c.Custom {
		t.Errorf("cloud %+v err %v", c, err)
	}
	for _, name := range graph.CloudNames {
		if c, ok := graph.LookupCloud(name); !ok || c.Custom {
			t.Errorf("cloud %s", name)
		}
	}
	if c, _ := graph.LookupCloud("usgovdod"); c.GraphURL != "https://dod-graph.microsoft.us" || c.AuthorityURL != "https://login.microsoftonline.us" {
		t.Errorf("DoD cloud %+v", c)
	}
	if c, _ := graph.LookupCloud("china"); c.Scope() != "https://microsoftgraph.chinacloudapi.cn/.default" {
		t.Errorf("china scope %s", c.Scope())
	}
}

func TestCustomGraphURLWithVersion(t *testing.T) {
	c, err := graph.CustomCloud("https://login.example", "https://graph.example/v1.0/")
	if err != nil || c.GraphURL != "https://graph.example" {
		t.Fatalf("cloud %+v err %v", c, err)
	}
}

// TestReadAheadOverlapsTheCallback checks that a listing read ahead asks
// for the next page while the callback still holds the current one, and
// still hands every page over in order.
func TestReadAheadOverlapsTheCallback(t *testing.T) {
	asked := make(chan string, 3)
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		page := r.URL.Query().Get("$skiptoken")
		asked <- page
		switch page {
		case "":
			io.WriteString(w, `{"@odata.nextLink":"`+f.srv.URL+`/v1.0/users?$skiptoken=2","value":[{"id":"1"}]}`)
		case "2":
			io.WriteString(w, `{"@odata.nextLink":"`+f.srv.URL+`/v1.0/users?$skiptoken=3","value":[{"id":"2"}]}`)
		default:
			io.WriteString(w, `{"value":[{"id":"3"}]}`)
		}
	})
	var ids []string
	err := f.c.ListUsers(context.Background(), graph.Query{ReadAhead: true}, func(us []graph.User) error {
		first := <-asked
		if us[0].ID == "1" && first != "" || us[0].ID == "3" && first != "3" {
			t.Errorf("page %s came from request %q", us[0].ID, first)
		}
		if us[0].ID != "3" {
			select {
			case next := <-asked:
				asked <- next // for the next page's check
			case <-time.After(10 * time.Second):
				t.Errorf("page %s: the next page was not asked for while the callback held it", us[0].ID)
			}
		}
		ids = append(ids, us[0].ID)
		return nil
	})
	if err != nil || !slices.Equal(ids, []string{"1", "2", "3"}) {
		t.Fatalf("ids %v, err %v", ids, err)
	}
}

// TestBatchWritesAreNeverSentTwice: a $batch of writes that may have
// reached Graph (a 500, a 503 inside it) is not sent again, where a $batch
// of reads is; a 429 (Graph applied nothing) is sent again either way.
func TestBatchWritesAreNeverSentTwice(t *testing.T) {
	for _, c := range []struct {
		name  string
		write bool
		first string // the first answer: "500", "sub503" or "sub429"
		hits  int64
		fails bool
	}{
		{"read after 500", false, "500", 2, false},
		{"write after 500", true, "500", 1, true},
		{"write after a 503 inside", true, "sub503", 1, false},
		{"write after a 429 inside", true, "sub429", 2, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
				if f.hits.Load() == 1 {
					switch c.first {
					case "500":
						w.WriteHeader(http.StatusInternalServerError)
						return
					case "sub503":
						io.WriteString(w, `{"responses":[{"id":"1","status":503,"body":{"error":{"code":"ServiceUnavailable","message":"x"}}}]}`)
						return
					case "sub429":
						io.WriteString(w, `{"responses":[{"id":"1","status":429,"headers":{"Retry-After":"1"},"body":{"error":{"code":"TooManyRequests","message":"x"}}}]}`)
						return
					}
				}
				io.WriteString(w, `{"responses":[{"id":"1","status":201,"body":{"id":"u1"}}]}`)
			})
			reqs := []graph.BatchRequest{{ID: "1", Method: "POST", URL: "/users", Body: json.RawMessage(`{}`)}}
			var err error
			if c.write {
				_, err = f.c.BatchWrites(context.Background(), reqs)
			} else {
				_, err = f.c.Batch(context.Background(), reqs)
			}
			if (err != nil) != c.fails || f.hits.Load() != c.hits {
				t.Fatalf("err %v, %d batches sent; want failure %v, %d sent", err, f.hits.Load(), c.fails, c.hits)
			}
		})
	}
}

// TestReadAheadAsksBeforeThePageEnds: Graph writes @odata.nextLink before
// a page's values, and a walk read ahead asks for the next page as soon
// as it has read the link, while the page's values still stream in: each
// link of a chain of pages then costs the round trip, not the round trip
// and the transfer and decoding of the page.
func TestReadAheadAsksBeforeThePageEnds(t *testing.T) {
	second := make(chan struct{})
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("$skiptoken") == "2" {
			close(second)
			io.WriteString(w, `{"value":[{"id":"3"}]}`)
			return
		}
		io.WriteString(w, `{"@odata.nextLink":"`+f.srv.URL+`/v1.0/users?$skiptoken=2","value":[{"id":"1"},`)
		w.(http.Flusher).Flush()
		select {
		case <-second:
		case <-time.After(3 * time.Second):
			t.Error("the next page was asked for only once this page had ended")
		}
		io.WriteString(w, `{"id":"2"}]}`)
	})
	var ids []string
	err := f.c.ListUsers(context.Background(), graph.Query{ReadAhead: true}, func(us []graph.User) error {
		for _, u := range us {
			ids = append(ids, u.ID)
		}
		return nil
	})
	if err != nil || !slices.Equal(ids, []string{"1", "2", "3"}) {
		t.Fatalf("ids %v, err %v", ids, err)
	}
}

// TestReadAheadFollowsTheLinkThePageEndedWith: a page cut short after its
// next link is read again, and when the second answer leads elsewhere,
// the walk follows that link, never the page asked for early.
func TestReadAheadFollowsTheLinkThePageEndedWith(t *testing.T) {
	var firsts atomic.Int32
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("$skiptoken") {
		case "":
			if firsts.Add(1) == 1 {
				io.WriteString(w, `{"@odata.nextLink":"`+f.srv.URL+`/v1.0/users?$skiptoken=stale","value":[{"id":"1"},`)
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler) // the connection drops mid-page
			}
			io.WriteString(w, `{"@odata.nextLink":"`+f.srv.URL+`/v1.0/users?$skiptoken=2","value":[{"id":"1"}]}`)
		case "2":
			io.WriteString(w, `{"value":[{"id":"2"}]}`)
		default:
			io.WriteString(w, `{"value":[{"id":"stale"}]}`)
		}
	})
	var ids []string
	err := f.c.ListUsers(context.Background(), graph.Query{ReadAhead: true}, func(us []graph.User) error {
		for _, u := range us {
			ids = append(ids, u.ID)
		}
		return nil
	})
	if err != nil || !slices.Equal(ids, []string{"1", "2"}) {
		t.Fatalf("ids %v, err %v", ids, err)
	}
}

// TestReadAheadHoldsTwoPagesAtMost: a walk whose callback is slower than
// the reads asks for the page after the next only once the callback is
// done with the page before: memory holds two pages, however long the
// listing (a first release of the early link read the whole listing
// ahead of a slow callback).
func TestReadAheadHoldsTwoPagesAtMost(t *testing.T) {
	f := newFixture(t, time.Minute, func(f *fixture, w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
		if n >= 9 {
			io.WriteString(w, `{"value":[{"id":"last"}]}`)
			return
		}
		io.WriteString(w, `{"@odata.nextLink":"`+f.srv.URL+`/v1.0/users?$skiptoken=`+strconv.Itoa(n+1)+`","value":[{"id":"`+strconv.Itoa(n)+`"}]}`)
	})
	pages := 0
	err := f.c.ListUsers(context.Background(), graph.Query{ReadAhead: true}, func(us []graph.User) error {
		pages++
		if pages == 1 {
			// Give the reads every chance to run ahead.
			for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if n := f.hits.Load(); n > 2 {
					t.Errorf("%d pages asked for while the callback held the first", n)
					break
				}
			}
		}
		return nil
	})
	if err != nil || pages != 10 {
		t.Fatalf("%d pages, err %v", pages, err)
	}
}
