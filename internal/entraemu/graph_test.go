package entraemu

import (
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func groupByName(t testing.TB, tn *Tenant, name string) Group {
	t.Helper()
	for _, g := range tn.Groups() {
		if g.DisplayName == name {
			return g
		}
	}
	t.Fatalf("no group %q", name)
	return Group{}
}

func userIDs(tn *Tenant) []string {
	var out []string
	for _, u := range tn.Users() {
		out = append(out, u.ID)
	}
	return out
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestListUsersPaging(t *testing.T) {
	tn, s := start(t, Options{Users: 250, Groups: 5, Seed: 10})
	cl := newClient(t, s)
	want := userIDs(tn)

	vals, pages := cl.all("/v1.0/users")
	if pages != 3 || !slices.Equal(ids(vals), want) {
		t.Errorf("default paging: %d pages, %d users, want 3 pages of %d users", pages, len(vals), len(want))
	}
	r := cl.mustGet("/v1.0/users?$top=7&$select=id")
	next := r.str("@odata.nextLink")
	if len(r.values()) != 7 || !strings.Contains(next, "$top=7") || !strings.Contains(next, "$skiptoken=") || !strings.HasPrefix(next, s.URL()+"/v1.0/users?") {
		t.Errorf("page of 7: %d values, nextLink %q", len(r.values()), next)
	}
	vals, pages = cl.all("/v1.0/users?$top=999")
	if pages != 1 || len(vals) != 250 {
		t.Errorf("$top=999: %d pages, %d users", pages, len(vals))
	}
	// Users created and deleted between pages shift nothing.
	r = cl.mustGet("/v1.0/users?$top=100&$select=id")
	first := ids(r.values())
	tn.DeleteUser(first[3])
	tn.CreateUser(User{UserPrincipalName: "late.comer@" + tn.Domain(), DisplayName: "Late Comer", AccountEnabled: true})
	rest, _ := cl.all(r.str("@odata.nextLink"))
	got := append(first, ids(rest)...)
	if len(got) != 250 || !slices.IsSorted(got) {
		t.Errorf("paging across changes: %d users", len(got))
	}
	for _, top := range []string{"0", "1000", "x"} {
		r := cl.get("/v1.0/users?$top=" + top)
		if r.status != 400 || r.errorCode() != "Request_UnsupportedQuery" || !strings.HasPrefix(r.errorMessage(), "Invalid page size specified: '"+top+"'. Must be between 1 and 999 inclusive.") {
			t.Errorf("$top=%s: %d %s", top, r.status, r.raw)
		}
	}
	if r := cl.get("/v1.0/users?$skiptoken=garbage"); r.status != 400 {
		t.Errorf("bad skiptoken: %d", r.status)
	}
}

// The default property set is the one "List users" documents.
var documentedUserDefaults = []string{"businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName"}

func TestSelectAndDefaults(t *testing.T) {
	tn, s := start(t, Options{Users: 30, Groups: 5, Seed: 11})
	cl := newClient(t, s)
	r := cl.mustGet("/v1.0/users?$top=3")
	for _, u := range r.values() {
		if got := keys(u); !slices.Equal(got, documentedUserDefaults) {
			t.Fatalf("default user properties = %v", got)
		}
	}
	if ctx := r.str("@odata.context"); ctx != s.URL()+"/v1.0/$metadata#users" {
		t.Errorf("context = %q", ctx)
	}
	r = cl.mustGet("/v1.0/users?$select=displayName,accountEnabled,assignedLicenses,userType,proxyAddresses,onPremisesImmutableId")
	for _, u := range r.values() {
		if got := keys(u); !slices.Equal(got, []string{"accountEnabled", "assignedLicenses", "displayName", "id", "onPremisesImmutableId", "proxyAddresses", "userType"}) {
			t.Fatalf("selected properties = %v", got)
		}
	}
	if !strings.HasSuffix(r.str("@odata.context"), "#users(displayName,accountEnabled,assignedLicenses,userType,proxyAddresses,onPremisesImmutableId)") {
		t.Errorf("context = %q", r.str("@odata.context"))
	}
	r = cl.get("/v1.0/users?$select=displayName,nosuchproperty")
	if r.status != 400 || !strings.Contains(r.errorMessage(), "'nosuchproperty'") {
		t.Errorf("unknown $select: %d %s", r.status, r.raw)
	}
	// Case-insensitive names and keys, as Graph.
	if r := cl.get("/v1.0/users?%24SELECT=DisplayName&$Top=2"); r.status != 200 || len(r.values()) != 2 || r.values()[0]["displayName"] == nil {
		t.Errorf("case-insensitive query: %d %s", r.status, r.raw)
	}
	g := cl.mustGet("/v1.0/groups?$top=1").values()[0]
	for _, k := range []string{"id", "displayName", "description", "groupTypes", "mail", "mailEnabled", "mailNickname", "securityEnabled", "createdDateTime", "visibility", "proxyAddresses", "securityIdentifier"} {
		if _, ok := g[k]; !ok {
			t.Errorf("group default lacks %s: %v", k, keys(g))
		}
	}
	_ = tn
}

func TestGetUser(t *testing.T) {
	tn, s := start(t, Options{Users: 20, Seed: 12})
	cl := newClient(t, s)
	users := tn.Users()
	var guest, apostrophe User
	for _, u := range users {
		if u.UserType == "Guest" {
			guest = u
		}
		if strings.Contains(u.UserPrincipalName, "'") {
			apostrophe = u
		}
	}
	if guest.ID == "" || apostrophe.ID == "" {
		t.Fatal("the generator made no guest or no apostrophe UPN")
	}
	for _, u := range []User{users[0], guest, apostrophe} {
		for _, key := range []string{u.ID, strings.ToUpper(u.ID), u.UserPrincipalName, strings.ToUpper(u.UserPrincipalName)} {
			r := cl.get("/v1.0/users/" + url.PathEscape(key) + "?$select=id,userPrincipalName,userType")
			if r.status != 200 || r.str("id") != u.ID || r.str("userPrincipalName") != u.UserPrincipalName {
				t.Errorf("GET %q: %d %s", key, r.status, r.raw)
			}
			if !strings.HasSuffix(r.str("@odata.context"), "/$entity") {
				t.Errorf("context %q", r.str("@odata.context"))
			}
		}
	}
	missing := "00000000-0000-4000-8000-000000000000"
	r := cl.get("/v1.0/users/" + missing)
	if r.status != 404 || r.errorCode() != "Request_ResourceNotFound" || r.errorMessage() != "Resource '"+missing+"' does not exist or one of its queried reference-property objects are not present." {
		t.Errorf("missing user: %d %s", r.status, r.raw)
	}
	inner, _ := r.body["error"].(map[string]any)["innerError"].(map[string]any)
	if inner["request-id"] != r.header.Get("request-id") || inner["date"] == nil || inner["client-request-id"] == nil {
		t.Errorf("innerError = %v, headers %v", inner, r.header)
	}
	if r := cl.get("/v1.0/nosuch"); r.status != 400 || r.errorMessage() != "Resource not found for the segment 'nosuch'." {
		t.Errorf("unknown segment: %d %s", r.status, r.raw)
	}
	if r := cl.get("/v1.0/me"); r.status != 400 {
		t.Errorf("/me with an app token: %d", r.status)
	}
	if r := cl.get("/v1.0/users", "client-request-id", "abc-123"); r.header.Get("client-request-id") != "abc-123" || r.header.Get("request-id") == "" {
		t.Errorf("request ids: %v", r.header)
	}
}

func TestFilterSearchCount(t *testing.T) {
	tn, s := start(t, Options{Users: 300, Groups: 30, Seed: 13})
	cl := newClient(t, s)
	users := tn.Users()
	count := func(pred func(User) bool) int {
		n := 0
		for _, u := range users {
			if pred(u) {
				n++
			}
		}
		return n
	}
	ev := []string{"ConsistencyLevel", "eventual"}
	cases := []struct {
		query   string
		headers []string
		want    func(User) bool
	}{
		{"$filter=userType eq 'Guest'", nil, func(u User) bool { return u.UserType == "Guest" }},
		{"$filter=accountEnabled eq false", nil, func(u User) bool { return !u.AccountEnabled }},
		{"$filter=startsWith(displayName,'zo')", nil, func(u User) bool { return strings.HasPrefix(strings.ToLower(u.DisplayName), "zo") }},
		{"$filter=startswith(userPrincipalName,'jose.') or startsWith(mail,'Jose.')", nil, func(u User) bool {
			return strings.HasPrefix(u.UserPrincipalName, "jose.") || strings.HasPrefix(strings.ToLower(u.Mail), "jose.")
		}},
		{"$filter=id eq '" + users[5].ID + "'", nil, func(u User) bool { return u.ID == users[5].ID }},
		{"$filter=id in ('" + users[5].ID + "','" + users[9].ID + "')", nil, func(u User) bool { return u.ID == users[5].ID || u.ID == users[9].ID }},
		{"$filter=department eq 'Sales' and accountEnabled eq true", nil, func(u User) bool { return u.Department == "Sales" && u.AccountEnabled }},
		{"$filter=assignedLicenses/any(x:x/skuId eq 06ebc4ee-1bb5-47dd-8120-11324bc54e06)", nil, func(u User) bool {
			return slices.ContainsFunc(u.AssignedLicenses, func(l AssignedLicense) bool { return l.SkuID == "06ebc4ee-1bb5-47dd-8120-11324bc54e06" })
		}},
		{"$filter=endsWith(mail,'@" + tn.Domain() + "')&$count=true", ev, func(u User) bool { return strings.HasSuffix(strings.ToLower(u.Mail), "@"+tn.Domain()) }},
		{"$filter=mail eq null&$count=true", ev, func(u User) bool { return u.Mail == "" }},
		{"$filter=assignedLicenses/$count eq 0&$count=true", ev, func(u User) bool { return len(u.AssignedLicenses) == 0 }},
		{"$filter=userType ne 'Member'&$count=true", ev, func(u User) bool { return u.UserType != "Member" }},
		{"$search=\"displayName:zo\"", ev, func(u User) bool { return hasWordPrefix(u.DisplayName, "zo") }},
		{"$search=\"displayName:brien\"", ev, func(u User) bool { return strings.Contains(u.DisplayName, "O'Brien") }},
		{"$search=\"mail:zoe\" OR \"userPrincipalName:zoe\"", ev, func(u User) bool {
			return strings.HasPrefix(strings.ToLower(u.Mail), "zoe") || strings.HasPrefix(u.UserPrincipalName, "zoe")
		}},
	}
	for _, tc := range cases {
		vals, _ := cl.all("/v1.0/users?$top=50&$select=id&"+tc.query, tc.headers...)
		want := count(tc.want)
		if len(vals) != want || want == 0 && !strings.Contains(tc.query, "search") {
			t.Errorf("%s: %d users, want %d", tc.query, len(vals), want)
		}
	}
	r := cl.mustGet("/v1.0/users?$filter=accountEnabled eq false&$count=true&$top=1", ev...)
	if n, ok := r.body["@odata.count"].(float64); !ok || int(n) != count(func(u User) bool { return !u.AccountEnabled }) {
		t.Errorf("@odata.count = %v", r.body["@odata.count"])
	}
	// Without ConsistencyLevel, $count=true is silently ignored.
	if r := cl.mustGet("/v1.0/users?$count=true&$top=1"); r.body["@odata.count"] != nil {
		t.Errorf("@odata.count without ConsistencyLevel")
	}
	errs := []struct {
		query, code, msg string
		headers          []string
	}{
		{"$filter=endsWith(mail,'@x.example')", "Request_UnsupportedQuery", "Operator 'endsWith' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header.", nil},
		{"$filter=endsWith(mail,'@x.example')", "Request_UnsupportedQuery", "Operator 'endsWith' is not supported", ev},
		{"$filter=userType ne 'Guest'", "Request_UnsupportedQuery", "Operator 'ne' is not supported", nil},
		{"$search=\"displayName:zoe\"", "Request_UnsupportedQuery", "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'", nil},
		{"$filter=createdDateTime eq 'x'", "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property 'createdDateTime' of resource 'User'.", nil},
		{"$filter=displayName eq", "BadRequest", "Invalid filter clause", nil},
	}
	for _, e := range errs {
		r := cl.get("/v1.0/users?"+e.query, e.headers...)
		if r.status != 400 || r.errorCode() != e.code || !strings.HasPrefix(r.errorMessage(), e.msg) {
			t.Errorf("%s: %d %s", e.query, r.status, r.raw)
		}
	}
	// /$count needs ConsistencyLevel: eventual.
	if r := cl.get("/v1.0/users/$count"); r.status != 400 || r.errorMessage() != "$count is not currently supported." {
		t.Errorf("/$count without header: %d %s", r.status, r.raw)
	}
	r = cl.get("/v1.0/users/$count?$filter=userType eq 'Guest'", ev...)
	if n, _ := strconv.Atoi(string(r.raw)); r.status != 200 || n != count(func(u User) bool { return u.UserType == "Guest" }) {
		t.Errorf("/$count: %d %q", r.status, r.raw)
	}
	// Groups: the documented groupTypes lambda and $orderby.
	vals, _ := cl.all("/v1.0/groups?$filter=groupTypes/any(c:c eq 'Unified')&$select=id,groupTypes")
	unified := 0
	for _, g := range tn.Groups() {
		if g.IsUnified() {
			unified++
		}
	}
	if len(vals) != unified || unified == 0 {
		t.Errorf("Unified groups: %d, want %d", len(vals), unified)
	}
	vals, _ = cl.all("/v1.0/groups?$orderby=displayName&$select=displayName&$top=7")
	var names []string
	for _, v := range vals {
		names = append(names, strings.ToLower(v["displayName"].(string)))
	}
	if len(names) != 30 || !slices.IsSorted(names) {
		t.Errorf("$orderby=displayName: %d %v", len(names), names)
	}
}

func TestMembersAndMemberOf(t *testing.T) {
	tn, s := start(t, Options{Users: 200, Groups: 40, Seed: 14})
	cl := newClient(t, s)

	devices := groupByName(t, tn, "Conference Rooms & Devices")
	vals, _ := cl.all("/v1.0/groups/" + devices.ID + "/members?$top=5")
	want := tn.DirectMembers(devices.ID)
	if len(vals) != len(want) {
		t.Fatalf("members: %d, want %d", len(vals), len(want))
	}
	types := map[string]int{}
	for i, v := range vals {
		types[v["@odata.type"].(string)]++
		if v["id"] != want[i].ID || v["@odata.type"] != want[i].ODataType() {
			t.Errorf("member %d = %v, want %+v", i, v, want[i])
		}
	}
	if types["#microsoft.graph.device"] == 0 || types["#microsoft.graph.user"] == 0 {
		t.Errorf("member types = %v", types)
	}
	// Each type keeps its own properties: devices have deviceId, users UPN.
	for _, v := range vals {
		switch v["@odata.type"] {
		case "#microsoft.graph.device":
			if v["deviceId"] == nil || v["userPrincipalName"] != nil {
				t.Errorf("device member = %v", v)
			}
		case "#microsoft.graph.user":
			if v["userPrincipalName"] == nil {
				t.Errorf("user member = %v", v)
			}
		}
	}
	// The OData cast keeps only users.
	users, _ := cl.all("/v1.0/groups/" + devices.ID + "/members/microsoft.graph.user?$select=id")
	if len(users) != types["#microsoft.graph.user"] {
		t.Errorf("cast: %d users", len(users))
	}
	for _, name := range []string{"External Partners", "Automation Accounts"} {
		g := groupByName(t, tn, name)
		vals, _ := cl.all("/v1.0/groups/" + g.ID + "/members?$select=id")
		kinds := map[string]bool{}
		for _, v := range vals {
			kinds[v["@odata.type"].(string)] = true
		}
		if len(kinds) < 2 {
			t.Errorf("%s member kinds = %v", name, kinds)
		}
	}

	// Nesting: Product & Engineering > Dept - Engineering > Engineering Leads.
	pe := groupByName(t, tn, "Product & Engineering")
	leads := groupByName(t, tn, "Engineering Leads")
	trans, _ := cl.all("/v1.0/groups/" + pe.ID + "/transitiveMembers?$select=id")
	tids := ids(trans)
	if !slices.Contains(tids, leads.ID) {
		t.Error("transitive members miss the nested group")
	}
	for _, m := range tn.DirectMembers(leads.ID) {
		if !slices.Contains(tids, m.ID) {
			t.Errorf("transitive members miss %s", m.ID)
		}
	}
	if got := tn.TransitiveMembers(pe.ID); len(got) != len(tids) {
		t.Errorf("TransitiveMembers = %d, Graph %d", len(got), len(tids))
	}
	// The cycle ends, and each group contains the other and itself.
	a := groupByName(t, tn, "Cycle A")
	b := groupByName(t, tn, "Cycle B")
	trans, _ = cl.all("/v1.0/groups/" + a.ID + "/transitiveMembers")
	if tids := ids(trans); !slices.Contains(tids, b.ID) || len(tids) != len(tn.TransitiveMembers(a.ID)) {
		t.Errorf("cycle: %v", tids)
	}

	// memberOf and transitiveMemberOf for a user of Engineering Leads.
	lead := tn.DirectMembers(leads.ID)[0]
	vals, _ = cl.all("/v1.0/users/" + lead.ID + "/memberOf")
	if !slices.Equal(ids(vals), tn.MemberOf(lead.ID)) {
		t.Errorf("memberOf = %v, want %v", ids(vals), tn.MemberOf(lead.ID))
	}
	vals, _ = cl.all("/v1.0/users/" + lead.ID + "/transitiveMemberOf")
	tm := ids(vals)
	for _, gid := range []string{leads.ID, pe.ID, groupByName(t, tn, "Dept - Engineering").ID} {
		if !slices.Contains(tm, gid) {
			t.Errorf("transitiveMemberOf misses %s", gid)
		}
	}
	r := cl.get("/v1.0/groups/"+devices.ID+"/members/$count", "ConsistencyLevel", "eventual")
	if r.status != 200 || string(r.raw) != strconv.Itoa(len(want)) {
		t.Errorf("members/$count: %d %s", r.status, r.raw)
	}
	if r := cl.get("/v1.0/groups/00000000-0000-4000-8000-000000000000/members"); r.status != 404 {
		t.Errorf("members of a missing group: %d", r.status)
	}
	// $expand=members returns at most 20 inline.
	all := groupByName(t, tn, "All Employees")
	r = cl.mustGet("/v1.0/groups/" + all.ID + "?$expand=members&$select=id,displayName")
	if ms, _ := r.body["members"].([]any); len(ms) != 20 {
		t.Errorf("$expand=members: %d", len(ms))
	}
	if r := cl.mustGet("/v1.0/directoryObjects/" + lead.ID); r.str("@odata.type") != "#microsoft.graph.user" {
		t.Errorf("directoryObjects: %s", r.raw)
	}
}

func TestOrganizationDomainsSkus(t *testing.T) {
	tn, s := start(t, Options{Users: 100, Seed: 15, Domain: "contoso.example"})
	cl := newClient(t, s)
	org := cl.mustGet("/v1.0/organization").values()
	if len(org) != 1 || org[0]["id"] != tn.ID() {
		t.Fatalf("organization = %v", org)
	}
	vd, _ := org[0]["verifiedDomains"].([]any)
	if len(vd) != 2 || vd[0].(map[string]any)["name"] != "contoso.example" || vd[0].(map[string]any)["isDefault"] != true {
		t.Errorf("verifiedDomains = %v", vd)
	}
	doms := cl.mustGet("/v1.0/domains").values()
	if len(doms) != 2 || doms[1]["id"] != "contoso.onmicrosoft.com" || doms[1]["isInitial"] != true {
		t.Errorf("domains = %v", doms)
	}
	skus := cl.mustGet("/v1.0/subscribedSkus").values()
	consumed := map[string]int{}
	for _, u := range tn.Users() {
		for _, l := range u.AssignedLicenses {
			consumed[l.SkuID]++
		}
	}
	if len(skus) != len(tn.Skus()) {
		t.Fatalf("skus = %v", skus)
	}
	for _, sku := range skus {
		if int(sku["consumedUnits"].(float64)) != consumed[sku["skuId"].(string)] || sku["skuPartNumber"] == "" {
			t.Errorf("sku = %v, consumed %d", sku, consumed[sku["skuId"].(string)])
		}
	}
}

func TestWrites(t *testing.T) {
	tn, s := start(t, Options{Users: 10, Groups: 3, Seed: 16})
	cl := newAdminClient(t, s)
	body := map[string]any{
		"accountEnabled": true, "displayName": "Ana Núñez", "mailNickname": "ana.nunez",
		"userPrincipalName": "ana.nunez@" + tn.Domain(), "passwordProfile": map[string]any{"password": "xWwvJ]6NMw+bWH-d", "forceChangePasswordNextSignIn": true},
		"department": "Legal",
	}
	r := cl.do("POST", "/v1.0/users", body)
	if r.status != 201 || r.str("userPrincipalName") != "ana.nunez@"+tn.Domain() || r.header.Get("Location") == "" {
		t.Fatalf("create user: %d %s", r.status, r.raw)
	}
	if strings.Contains(string(r.raw), "password") {
		t.Error("the response echoes the password")
	}
	id := r.str("id")
	if u, ok := tn.User(id); !ok || u.Department != "Legal" || u.UserType != "Member" {
		t.Errorf("created user = %+v", u)
	}
	if r := cl.do("POST", "/v1.0/users", body); r.status != 400 || !strings.Contains(r.errorMessage(), "Another object with the same value for property userPrincipalName already exists.") {
		t.Errorf("duplicate UPN: %d %s", r.status, r.raw)
	}
	body["userPrincipalName"] = "x@unverified.example"
	if r := cl.do("POST", "/v1.0/users", body); r.status != 400 || !strings.Contains(r.errorMessage(), "verified domain") {
		t.Errorf("unverified domain: %d %s", r.status, r.raw)
	}
	delete(body, "passwordProfile")
	body["userPrincipalName"] = "y@" + tn.Domain()
	if r := cl.do("POST", "/v1.0/users", body); r.status != 400 || !strings.Contains(r.errorMessage(), "passwordProfile") {
		t.Errorf("no password profile: %d %s", r.status, r.raw)
	}
	if r := cl.do("PATCH", "/v1.0/users/"+id, map[string]any{"jobTitle": "Counsel", "mobilePhone": nil}); r.status != 204 {
		t.Errorf("patch: %d %s", r.status, r.raw)
	}
	if u, _ := tn.User(id); u.JobTitle != "Counsel" {
		t.Errorf("patched user = %+v", u)
	}
	if r := cl.do("PATCH", "/v1.0/users/"+id, map[string]any{"proxyAddresses": []string{"SMTP:x@y"}}); r.status != 400 {
		t.Errorf("patch read-only: %d %s", r.status, r.raw)
	}
	if r := cl.do("PATCH", "/v1.0/users/"+id, map[string]any{"favouriteColour": "blue"}); r.status != 400 {
		t.Errorf("patch unknown: %d %s", r.status, r.raw)
	}

	// Groups and members.
	uid := tn.Users()[0].ID
	r = cl.do("POST", "/v1.0/groups", map[string]any{
		"displayName": "Legal Team", "mailEnabled": false, "mailNickname": "legal", "securityEnabled": true,
		"members@odata.bind": []string{"https://graph.microsoft.com/v1.0/directoryObjects/" + id},
	})
	if r.status != 201 {
		t.Fatalf("create group: %d %s", r.status, r.raw)
	}
	gid := r.str("id")
	if r := cl.do("POST", "/v1.0/groups/"+gid+"/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + uid}); r.status != 204 {
		t.Errorf("add member: %d %s", r.status, r.raw)
	}
	if r := cl.do("POST", "/v1.0/groups/"+gid+"/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + uid}); r.status != 400 || !strings.Contains(r.errorMessage(), "already exist") {
		t.Errorf("add member twice: %d %s", r.status, r.raw)
	}
	if ms := tn.DirectMembers(gid); len(ms) != 2 {
		t.Errorf("members = %v", ms)
	}
	if r := cl.do("DELETE", "/v1.0/groups/"+gid+"/members/"+uid+"/$ref", nil); r.status != 204 {
		t.Errorf("remove member: %d %s", r.status, r.raw)
	}
	if r := cl.do("DELETE", "/v1.0/groups/"+gid+"/members/"+uid+"/$ref", nil); r.status != 404 {
		t.Errorf("remove non-member: %d", r.status)
	}

	// Soft delete, deleted items, restore with memberships.
	if r := cl.do("DELETE", "/v1.0/users/"+id, nil); r.status != 204 {
		t.Fatalf("delete: %d", r.status)
	}
	if r := cl.get("/v1.0/users/" + id); r.status != 404 {
		t.Errorf("deleted user still readable: %d", r.status)
	}
	if ms := tn.DirectMembers(gid); len(ms) != 0 {
		t.Errorf("a deleted user stays in its group: %v", ms)
	}
	del := cl.mustGet("/v1.0/directory/deletedItems/microsoft.graph.user").values()
	if len(del) != 1 || del[0]["id"] != id || del[0]["deletedDateTime"] == nil {
		t.Errorf("deleted items = %v", del)
	}
	r = cl.do("POST", "/v1.0/directory/deletedItems/"+id+"/restore", nil)
	if r.status != 200 || r.str("id") != id {
		t.Fatalf("restore: %d %s", r.status, r.raw)
	}
	if ms := tn.DirectMembers(gid); len(ms) != 1 || ms[0].ID != id {
		t.Errorf("restore did not bring the membership back: %v", ms)
	}
	// A security group is deleted for good; a Microsoft 365 group is not.
	if r := cl.do("DELETE", "/v1.0/groups/"+gid, nil); r.status != 204 {
		t.Fatalf("delete group: %d", r.status)
	}
	if r := cl.do("POST", "/v1.0/directory/deletedItems/"+gid+"/restore", nil); r.status != 404 {
		t.Errorf("restore of a security group: %d", r.status)
	}
	r = cl.do("POST", "/v1.0/groups", map[string]any{"displayName": "Équipe", "mailEnabled": true, "mailNickname": "equipe", "securityEnabled": false, "groupTypes": []string{"Unified"}})
	m365 := r.str("id")
	if r.str("mail") != "equipe@"+tn.Domain() {
		t.Errorf("Microsoft 365 group mail = %q", r.str("mail"))
	}
	cl.do("DELETE", "/v1.0/groups/"+m365, nil)
	if len(tn.DeletedGroups()) != 1 {
		t.Errorf("deleted groups = %v", tn.DeletedGroups())
	}
	if r := cl.do("DELETE", "/v1.0/directory/deletedItems/"+m365, nil); r.status != 204 || len(tn.DeletedGroups()) != 0 {
		t.Errorf("purge: %d", r.status)
	}
}

func hasWordPrefix(s, prefix string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == ' ' || r == '(' || r == ')' }) {
		if strings.HasPrefix(w, prefix) {
			return true
		}
	}
	return false
}
