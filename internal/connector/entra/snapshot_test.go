package entra_test

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/graph"
)

func TestSnapshotDocumentedResponses(t *testing.T) {
	e := newEnv(t)
	e.handle(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.URL.Path == "/v1.0/users":
			if q.Get("$top") != "999" || q.Get("$select") != strings.Join(graph.UserSelect, ",") {
				t.Errorf("users query %s", r.URL.RawQuery)
			}
			e.serve(t, w, 200, "list-users.json")
		case r.URL.Path == "/v1.0/groups/delta" && q.Get("$skiptoken") == "":
			if !strings.HasSuffix(q.Get("$select"), ",members") {
				t.Errorf("groups delta without members: %s", r.URL.RawQuery)
			}
			e.serve(t, w, 200, "groups-delta-1.json")
		case strings.HasPrefix(q.Get("$skiptoken"), "pqwSUjGYvb3jQpbwVAwEL7yuI3dU1LecfkkfLPtnIjvB7XnF"):
			e.serve(t, w, 200, "groups-delta-2.json")
		case strings.HasPrefix(q.Get("$skiptoken"), "pqwSUjGYvb3jQpbwVAwEL7yuI3dU1LecfkkfLPtnIjtQ5LOhVoS7qQG"):
			e.serve(t, w, 200, "groups-delta-3.json")
		default:
			t.Errorf("unexpected %s", r.URL)
			w.WriteHeader(404)
		}
	})
	c := e.open(t, e.config())
	s := newSink()
	if err := c.Snapshot(ctx(t), s); err != nil {
		t.Fatal(err)
	}
	if len(s.users) != 2 || len(s.groups) != 6 || len(s.skips) != 0 {
		t.Fatalf("users %d, groups %d, skips %v", len(s.users), len(s.groups), s.skips)
	}
	admin := s.users["4562bcc8-c436-4f95-b7c0-4f8ce89dca5e"]
	if admin.Username != "admin@contoso.com" || admin.Email != "" || admin.GivenName != "MOD" || !slices.Equal(admin.BusinessPhones, []string{"425-555-0100"}) || admin.MobilePhone != "425-555-0101" || !admin.Enabled {
		t.Errorf("admin = %+v", admin)
	}
	if g := s.groups["421e797f-9406-4934-b778-4908421e3505"]; g.Name != "TestGroup4" || g.Description != "Employees in test group 4" {
		t.Errorf("TestGroup4 = %+v", g)
	}
	want := map[string][]string{
		"c2f798fd-f95d-4623-8824-63aec21fffff": {"user:693acd06-2877-4339-8ade-b704261fe7a0", "user:49320844-be99-4164-8167-87ff5d047ace"},
		"2e5807ce-58f3-4a94-9b37-ffff2e085957": {"user:632f6bb2-3ec8-4c1f-9073-0027a8c68593"},
		"421e797f-9406-4934-b778-4908421e3505": {"user:3c8ac7c4-d365-4df9-abfa-356a9dd7763c", "user:49320844-be99-4164-8167-87ff5d047ace"},
	}
	if len(s.members) != len(want) {
		t.Errorf("members %v", s.members)
	}
	for g, ms := range want {
		if !slices.Equal(s.members[g], ms) {
			t.Errorf("members of %s = %v, want %v", g, s.members[g], ms)
		}
	}
	if st := c.(connector.Counter).Stats(); st.Requests != 4 {
		t.Errorf("stats %+v, want 4 requests (1 users page, 3 delta pages)", st)
	}
}

// A synthetic tenant with what real ones hold: guests, users without
// mail, disabled and licensed users, nested groups, devices, contacts and
// service principals as members, a group split over two pages, a deleted group.
func TestSnapshotTenant(t *testing.T) {
	e := newEnv(t)
	groupsStarted := make(chan struct{})
	var once = make(chan struct{}, 1)
	e.handle(func(w http.ResponseWriter, r *http.Request) {
		base := e.graph.URL + "/v1.0"
		q := r.URL.Query()
		switch {
		case r.URL.Path == "/v1.0/users" && q.Get("$skiptoken") == "":
			// Users and groups are read at the same time: the groups
			// request must arrive while this one is still open.
			select {
			case <-groupsStarted:
			case <-time.After(5 * time.Second):
				t.Error("users and groups were not read concurrently")
			}
			io.WriteString(w, `{"@odata.nextLink":"`+base+`/users?$select=id&$top=999&$skiptoken=p2","value":[
				{"id":"u1","userPrincipalName":"anna.o'brien@contoso.com","mail":"anna.obrien@contoso.com","displayName":"Anna O'Brien","givenName":"Anna","surname":"O'Brien","accountEnabled":true,"jobTitle":"Engineer","department":"R&D","mobilePhone":"+1 425 555 0101","businessPhones":["+1 425 555 0100"],"userType":"Member","assignedLicenses":[{"disabledPlans":[],"skuId":"c7df2760-2c81-4ef7-b578-5b5392b571df"}],"proxyAddresses":["SMTP:anna.obrien@contoso.com","smtp:anna@contoso.com"],"onPremisesImmutableId":"aGVsbG8="},
				{"id":"u2","userPrincipalName":"jürgen.groß@contoso.com","mail":null,"displayName":"Jürgen Groß","accountEnabled":false,"businessPhones":[],"userType":"Member","assignedLicenses":[],"proxyAddresses":[]}
			]}`)
		case r.URL.Path == "/v1.0/users":
			io.WriteString(w, `{"value":[
				{"id":"u3","userPrincipalName":"guest_fabrikam.com#EXT#@contoso.onmicrosoft.com","mail":"guest@fabrikam.com","accountEnabled":true,"userType":"Guest"},
				{"id":"u4","userPrincipalName":"","accountEnabled":true}
			]}`)
		case r.URL.Path == "/v1.0/groups/delta" && q.Get("$skiptoken") == "":
			select {
			case once <- struct{}{}:
				close(groupsStarted)
			default:
			}
			io.WriteString(w, `{"@odata.nextLink":"`+base+`/groups/delta?$skiptoken=g2","value":[
				{"id":"gA","displayName":"Engineering","description":"All engineers","mail":"eng@contoso.com","groupTypes":["Unified"],"securityEnabled":false,"mailEnabled":true,
				 "members@delta":[{"@odata.type":"#microsoft.graph.user","id":"u1"},{"@odata.type":"#microsoft.graph.device","id":"d1"},{"@odata.type":"#microsoft.graph.group","id":"gB"}]},
				{"id":"gB","displayName":"Platform","groupTypes":[],"securityEnabled":true,"mailEnabled":false,
				 "members@delta":[{"@odata.type":"#microsoft.graph.user","id":"u2"},{"@odata.type":"#microsoft.graph.servicePrincipal","id":"sp1"},{"@odata.type":"#microsoft.graph.orgContact","id":"c1"}]}
			]}`)
		case q.Get("$skiptoken") == "g2":
			io.WriteString(w, `{"@odata.deltaLink":"`+base+`/groups/delta?$deltatoken=d1","value":[
				{"id":"gA","displayName":"Engineering","description":"All engineers","mail":"eng@contoso.com","groupTypes":["Unified"],"securityEnabled":false,"mailEnabled":true,
				 "members@delta":[{"@odata.type":"#microsoft.graph.user","id":"u3"},{"@odata.type":"#microsoft.graph.user","id":"u9","@removed":{"reason":"deleted"}}]},
				{"id":"gC","@removed":{"reason":"changed"}}
			]}`)
		default:
			t.Errorf("unexpected %s", r.URL)
			w.WriteHeader(404)
		}
	})
	c := e.open(t, e.config())
	s := newSink()
	if err := c.Snapshot(ctx(t), s); err != nil {
		t.Fatal(err)
	}
	anna := s.users["u1"]
	if anna.Username != "anna.o'brien@contoso.com" || anna.Email != "anna.obrien@contoso.com" || anna.DisplayName != "Anna O'Brien" ||
		anna.JobTitle != "Engineer" || anna.Department != "R&D" || anna.UserType != "Member" || !anna.Enabled ||
		!slices.Equal(anna.Licenses, []string{"c7df2760-2c81-4ef7-b578-5b5392b571df"}) ||
		!slices.Equal(anna.ProxyAddresses, []string{"SMTP:anna.obrien@contoso.com", "smtp:anna@contoso.com"}) ||
		anna.ImmutableID != "aGVsbG8=" || anna.MobilePhone != "+1 425 555 0101" {
		t.Errorf("anna = %+v", anna)
	}
	if j := s.users["u2"]; j.Enabled || j.Email != "" || j.Username != "jürgen.groß@contoso.com" || j.Licenses != nil || j.BusinessPhones != nil {
		t.Errorf("disabled user without mail = %+v", j)
	}
	if g := s.users["u3"]; g.UserType != "Guest" || g.Username != "guest_fabrikam.com#EXT#@contoso.onmicrosoft.com" {
		t.Errorf("guest = %+v", g)
	}
	if len(s.users) != 3 {
		t.Errorf("users %v", s.users)
	}
	if len(s.groups) != 2 || s.groupCalls != 2 {
		t.Errorf("groups %v handed over %d times; the split group must come once, the deleted one never", s.groups, s.groupCalls)
	}
	if g := s.groups["gA"]; g.Name != "Engineering" || g.Mail != "eng@contoso.com" || !slices.Equal(g.GroupTypes, []string{"Unified"}) || !g.MailEnabled || g.SecurityEnabled {
		t.Errorf("gA = %+v", g)
	}
	if g := s.groups["gB"]; !g.SecurityEnabled || g.GroupTypes != nil {
		t.Errorf("gB = %+v", g)
	}
	if got := s.members["gA"]; !slices.Equal(got, []string{"user:u1", "group:gB", "user:u3"}) {
		t.Errorf("gA members %v (both slices merged, the removed one left out)", got)
	}
	if got := s.members["gB"]; !slices.Equal(got, []string{"user:u2"}) {
		t.Errorf("gB members %v", got)
	}
	var skips []string
	for _, k := range s.skips {
		skips = append(skips, k.Kind+":"+k.ExternalID)
	}
	slices.Sort(skips)
	if !slices.Equal(skips, []string{"device:d1", "orgContact:c1", "servicePrincipal:sp1", "user:u4"}) {
		t.Errorf("skips %v", s.skips)
	}
	for _, k := range s.skips {
		if k.Kind == "device" && k.Reason != "group member that is not a user or group (device)" {
			t.Errorf("reason %q", k.Reason)
		}
	}
}

func TestSnapshotPermissionErrors(t *testing.T) {
	for _, tc := range []struct {
		failPath, perm string
	}{
		{"/v1.0/users", "User.Read.All"},
		{"/v1.0/groups/delta", "GroupMember.Read.All"},
	} {
		t.Run(tc.perm, func(t *testing.T) {
			e := newEnv(t)
			e.handle(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == tc.failPath {
					e.serve(t, w, 403, "error-authorization-denied.json")
					return
				}
				if r.URL.Path == "/v1.0/users" {
					io.WriteString(w, `{"value":[]}`)
					return
				}
				io.WriteString(w, `{"@odata.deltaLink":"`+e.graph.URL+`/v1.0/groups/delta?$deltatoken=x","value":[]}`)
			})
			err := e.open(t, e.config()).Snapshot(ctx(t), newSink())
			var ce *connector.Error
			if !errors.As(err, &ce) || ce.Kind != connector.KindPermission || ce.Code != "Authorization_RequestDenied" || !strings.Contains(ce.Message, tc.perm) || !strings.Contains(ce.Message, "admin consent") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestSnapshotRidesOutThrottling(t *testing.T) {
	e := newEnv(t)
	throttled := false
	e.handle(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1.0/users" {
			if !throttled {
				throttled = true
				w.Header().Set("Retry-After", "3")
				e.serve(t, w, 429, "error-throttled.json")
				return
			}
			io.WriteString(w, `{"value":[{"id":"u1","userPrincipalName":"a@contoso.com","accountEnabled":true}]}`)
			return
		}
		io.WriteString(w, `{"@odata.deltaLink":"`+e.graph.URL+`/v1.0/groups/delta?$deltatoken=x","value":[]}`)
	})
	c := e.open(t, e.config())
	s := newSink()
	if err := c.Snapshot(ctx(t), s); err != nil {
		t.Fatal(err)
	}
	st := c.(connector.Counter).Stats()
	if len(s.users) != 1 || st.Throttled != 1 || st.Retries != 1 || st.Requests != 3 {
		t.Errorf("users %d, stats %+v", len(s.users), st)
	}
	if sl := e.clock.Sleeps(); len(sl) != 1 || sl[0] < 3*time.Second {
		t.Errorf("sleeps %v", sl)
	}
}

func TestSnapshotThrottledPastBudget(t *testing.T) {
	e := newEnv(t)
	e.handle(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1.0/users" {
			w.Header().Set("Retry-After", "100")
			e.serve(t, w, 429, "error-throttled.json")
			return
		}
		io.WriteString(w, `{"@odata.deltaLink":"`+e.graph.URL+`/v1.0/groups/delta?$deltatoken=x","value":[]}`)
	})
	err := e.open(t, e.config()).Snapshot(ctx(t), newSink())
	if connector.KindOf(err) != connector.KindThrottled || !errors.Is(err, graph.ErrRetryBudget) {
		t.Fatalf("err = %v", err)
	}
}
