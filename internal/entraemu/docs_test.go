package entraemu

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// These tests hold the emulator's responses against Microsoft's documented
// examples in testdata (see testdata/README.md): same members, same
// annotations, same error codes and messages.

func loadDoc(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

func docValues(m map[string]any) []map[string]any {
	var out []map[string]any
	for _, v := range m["value"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// removedEntry returns the documented shape of an @removed entry.
func isRemoved(e map[string]any) bool { _, ok := e["@removed"]; return ok }

func keySet(entries []map[string]any, pick func(map[string]any) bool) []string {
	set := map[string]bool{}
	for _, e := range entries {
		if pick(e) {
			for k := range e {
				set[k] = true
			}
		}
	}
	return slices.Sorted(mapsKeys(set))
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func TestDocsUserDelta(t *testing.T) {
	tn, s := start(t, Options{Users: 40, Seed: 50})
	cl := newClient(t, s)
	room, _ := tn.CreateUser(User{UserPrincipalName: "confroomadams@" + tn.Domain(), DisplayName: "Conf Room Adams", AccountEnabled: true})
	gone := tn.Users()[4]
	tn.DeleteUser(gone.ID)

	doc := loadDoc(t, "user-delta-initial.json")
	rd := walk(t, cl, "/v1.0/users/delta?$select=displayName,givenName,surname", nil)
	first := cl.mustGet("/v1.0/users/delta?$select=displayName,givenName,surname")
	if got, want := keys(first.body), keys(doc); !slices.Equal(got, []string{"@odata.context", "@odata.deltaLink", "value"}) && !slices.Equal(got, want) {
		t.Errorf("envelope %v, documented %v", got, want)
	}
	if !strings.HasSuffix(first.str("@odata.context"), strings.TrimPrefix(doc["@odata.context"].(string), "https://graph.microsoft.com/v1.0/")) {
		t.Errorf("context %s, documented %s", first.str("@odata.context"), doc["@odata.context"])
	}
	docEntries := docValues(doc)
	docObj := keySet(docEntries, func(e map[string]any) bool { return !isRemoved(e) })
	docRem := keySet(docEntries, isRemoved)
	byid := byID(rd.entries)
	for _, e := range rd.entries {
		if isRemoved(e) {
			if got := keys(e); !slices.Equal(got, docRem) {
				t.Errorf("@removed entry %v, documented %v", got, docRem)
			}
			continue
		}
		if got := keys(e); !subset(got, docObj) || !slices.Contains(got, "id") {
			t.Errorf("entry members %v, documented %v", got, docObj)
		}
	}
	// The soft-deleted user comes as @removed (reason changed) in the
	// initial round; the user with only a display name has only that.
	if e := byid[gone.ID]; len(e) != 1 || e[0]["@removed"].(map[string]any)["reason"] != "changed" {
		t.Errorf("deleted user in the initial round = %v", e)
	}
	if e := byid[room.ID]; len(e) != 1 || !slices.Equal(keys(e[0]), []string{"displayName", "id"}) {
		t.Errorf("user without given name and surname = %v (documented: Conf Room Adams)", e)
	}
	// The last page: context, deltaLink, value.
	final := loadDoc(t, "user-delta-final.json")
	last := cl.mustGet(rd.deltaLink)
	if got, want := keys(last.body), keys(final); !slices.Equal(got, want) {
		t.Errorf("final envelope %v, documented %v", got, want)
	}

	// A changed user and a soft-deleted one.
	changes := loadDoc(t, "user-delta-changes.json")
	u := tn.Users()[1]
	tn.UpdateUser(u.ID, func(x *User) { x.DisplayName = "MOD Administrator" })
	v := tn.Users()[2]
	tn.DeleteUser(v.ID)
	next := walk(t, cl, rd.deltaLink, nil)
	dc := docValues(changes)
	for _, e := range next.entries {
		var want []string
		if isRemoved(e) {
			want = keys(dc[1])
			if e["@removed"].(map[string]any)["reason"] != dc[1]["@removed"].(map[string]any)["reason"] {
				t.Errorf("soft delete reason = %v", e["@removed"])
			}
		} else {
			want = keys(dc[0])
		}
		if got := keys(e); !subset(got, want) || len(got) != len(want) && !isRemoved(e) && u.GivenName != "" && u.Surname != "" {
			t.Errorf("changes entry %v, documented %v", got, want)
		}
	}

	// Default properties: some user has exactly the documented set.
	def := docValues(loadDoc(t, "user-delta-default.json"))[0]
	full := false
	for _, e := range walk(t, cl, "/v1.0/users/delta", nil).entries {
		if isRemoved(e) {
			continue
		}
		got := keys(e)
		if !subset(got, keys(def)) {
			t.Fatalf("default delta entry %v beyond the documented %v", got, keys(def))
		}
		full = full || slices.Equal(got, keys(def))
	}
	if !full {
		t.Error("no user with every documented default property")
	}

	// Prefer: return=minimal, the documented case: displayName changed,
	// jobTitle cleared, mobilePhone untouched.
	minDoc := docValues(loadDoc(t, "user-delta-minimal.json"))[0]
	rd = walk(t, cl, "/v1.0/users/delta?$select=displayName,jobTitle,mobilePhone", nil)
	var w User
	for _, x := range tn.Users() {
		if x.JobTitle != "" && x.MobilePhone != "" {
			w = x
			break
		}
	}
	tn.UpdateUser(w.ID, func(x *User) { x.DisplayName = "displayName-value"; x.JobTitle = "" })
	got := cl.mustGet(rd.deltaLink, "Prefer", "return=minimal").values()
	if len(got) != 1 {
		t.Fatalf("minimal round = %v", got)
	}
	delete(got[0], "id") // Microsoft's example leaves the id out
	if !slices.Equal(keys(got[0]), keys(minDoc)) || got[0]["jobTitle"] != nil || got[0]["displayName"] != minDoc["displayName"] {
		t.Errorf("minimal = %v, documented %v", got[0], minDoc)
	}
}

func TestDocsGroupDelta(t *testing.T) {
	tn, s := start(t, Options{Users: 60, Groups: 20, Seed: 51})
	cl := newClient(t, s)
	doc := loadDoc(t, "group-delta-initial.json")
	// Microsoft's request: $select=displayName,description&$expand=members.
	rd := walk(t, cl, "/v1.0/groups/delta?$select=displayName,description&$expand=members", nil)
	first := cl.mustGet("/v1.0/groups/delta?$select=displayName,description&$expand=members")
	if !strings.HasSuffix(first.str("@odata.context"), "#groups(displayName,description)") {
		t.Errorf("context = %s, documented %s", first.str("@odata.context"), doc["@odata.context"])
	}
	docEntries := docValues(doc)
	docKeys := keySet(docEntries, func(map[string]any) bool { return true })
	docMember := keys(docEntries[0]["members@delta"].([]any)[0].(map[string]any))
	empty := groupByName(t, tn, "Empty Group")
	for _, e := range rd.entries {
		if got := keys(e); !subset(got, docKeys) {
			t.Errorf("group entry %v, documented %v", got, docKeys)
		}
		ms, has := e["members@delta"].([]any)
		if e["id"] == empty.ID && has {
			t.Errorf("a group without members has members@delta (the documented TestGroup2 has none)")
		}
		for _, m := range ms {
			if got := keys(m.(map[string]any)); !slices.Equal(got, docMember) {
				t.Errorf("member %v, documented %v", got, docMember)
			}
		}
	}

	// A member removed and one added.
	changes := docValues(loadDoc(t, "group-delta-changes.json"))[0]
	docMembers := changes["members@delta"].([]any)
	docRemoved, docAdded := keys(docMembers[0].(map[string]any)), keys(docMembers[1].(map[string]any))
	g := groupByName(t, tn, "O'Neill Project")
	old := tn.DirectMembers(g.ID)[0].ID
	tn.RemoveMember(g.ID, old)
	var add string
	for _, u := range tn.Users() {
		if !slices.Contains(tn.MemberOf(u.ID), g.ID) && u.ID != old {
			add = u.ID
			break
		}
	}
	tn.AddMember(g.ID, add)
	tn.UpdateGroup(g.ID, func(x *Group) { x.Description = "A test group for change tracking" })
	next := walk(t, cl, rd.deltaLink, nil)
	if len(next.entries) != 1 {
		t.Fatalf("changes = %v", next.entries)
	}
	e := next.entries[0]
	if got := keys(e); !slices.Equal(got, keys(changes)) {
		t.Errorf("changed group %v, documented %v", got, keys(changes))
	}
	for _, m := range e["members@delta"].([]any) {
		mm := m.(map[string]any)
		want := docAdded
		if mm["id"] == old {
			want = docRemoved
			if mm["@removed"].(map[string]any)["reason"] != "deleted" {
				t.Errorf("removal reason = %v", mm["@removed"])
			}
		}
		if got := keys(mm); !slices.Equal(got, want) {
			t.Errorf("member change %v, documented %v", got, want)
		}
	}

	// Without $select: the documented properties and members@delta.
	def := docValues(loadDoc(t, "group-delta-default.json"))[0]
	all := groupByName(t, tn, "All Employees")
	for _, e := range walk(t, cl, "/v1.0/groups/delta", nil).entries {
		if e["id"] == all.ID {
			if !subset(keys(def), keys(e)) {
				t.Errorf("default group entry %v lacks documented members of %v", keys(e), keys(def))
			}
		}
	}
}

func TestDocsBatch(t *testing.T) {
	tn, s := start(t, Options{Users: 36, Groups: 3, Seed: 52})
	cl := newClient(t, s)
	doc := loadDoc(t, "batch-response.json")
	var docResp []map[string]any
	for _, r := range doc["responses"].([]any) {
		docResp = append(docResp, r.(map[string]any))
	}
	r := cl.do("POST", "/v1.0/$batch", map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "GET", "url": "/users/" + tn.Users()[0].ID + "/memberOf?$top=1"},
		{"id": "3", "method": "DELETE", "url": "/groups/" + tn.Groups()[0].ID},
		{"id": "5", "method": "GET", "url": "users?$select=id,displayName,userPrincipalName&$filter=city eq null&$count=true", "headers": map[string]string{"ConsistencyLevel": "eventual"}},
	}})
	if r.status != 200 || !slices.Equal(keys(r.body), keys(doc)) {
		t.Fatalf("batch: %d %s", r.status, r.raw)
	}
	got := map[string]map[string]any{}
	for _, x := range r.body["responses"].([]any) {
		got[x.(map[string]any)["id"].(string)] = x.(map[string]any)
	}
	for _, d := range docResp {
		id := d["id"].(string)
		g := got[id]
		if !slices.Equal(keys(g), keys(d)) || g["status"] != d["status"] {
			t.Errorf("response %s: %v status %v, documented %v status %v", id, keys(g), g["status"], keys(d), d["status"])
			continue
		}
		gh, dh := g["headers"].(map[string]any), d["headers"].(map[string]any)
		for _, h := range []string{"x-ms-resource-unit", "Content-Type"} {
			if (gh[h] == nil) != (dh[h] == nil) {
				t.Errorf("response %s header %s: %v, documented %v", id, h, gh[h], dh[h])
			}
		}
		gb, db := g["body"].(map[string]any), d["body"].(map[string]any)
		if db["error"] != nil {
			ge, de := gb["error"].(map[string]any), db["error"].(map[string]any)
			if ge["code"] != de["code"] || ge["message"] != de["message"] || !slices.Equal(keys(ge["innerError"].(map[string]any)), keys(de["innerError"].(map[string]any))) {
				t.Errorf("response %s error %v, documented %v", id, ge, de)
			}
			continue
		}
		// Without the skip token and count, the same envelope.
		dk := keys(db)
		if id == "1" && len(tn.MemberOf(tn.Users()[0].ID)) <= 1 {
			dk = slices.DeleteFunc(dk, func(k string) bool { return k == "@odata.nextLink" })
		}
		if gk := keys(gb); !slices.Equal(gk, dk) {
			t.Errorf("response %s body %v, documented %v", id, gk, dk)
		}
	}
	if n, ok := got["5"]["body"].(map[string]any)["@odata.count"].(float64); !ok || int(n) == 0 {
		t.Errorf("@odata.count = %v", got["5"]["body"])
	}
}

func TestDocsErrors(t *testing.T) {
	_, s := start(t, Options{Users: 20, Groups: 3, Seed: 53})
	cl := newClient(t, s)
	ev := []string{"ConsistencyLevel", "eventual"}
	for file, req := range map[string]struct {
		path    string
		headers []string
	}{
		"error-count-unsupported.json":  {"/v1.0/users/$count", nil},
		"error-search-consistency.json": {"/v1.0/groups?$search=" + url.QueryEscape(`"displayName:Browser"`), nil},
		"error-endswith-advanced.json":  {"/v1.0/users?$filter=" + url.QueryEscape("endsWith(userPrincipalName,'#EXT#@contoso.com')"), nil},
		"error-filter-property.json":    {"/v1.0/groups?$filter=" + url.QueryEscape("createdDateTime ge 2021-11-01") + "&$count=true", ev},
	} {
		doc := loadDoc(t, file)["error"].(map[string]any)
		r := cl.get(req.path, req.headers...)
		e, _ := r.body["error"].(map[string]any)
		if r.status != 400 || e["code"] != doc["code"] || e["message"] != doc["message"] {
			t.Errorf("%s: %d %v, documented %v", file, r.status, e, doc)
			continue
		}
		if !slices.Equal(keys(e), keys(doc)) || !slices.Equal(keys(e["innerError"].(map[string]any)), keys(doc["innerError"].(map[string]any))) {
			t.Errorf("%s: members %v, documented %v", file, keys(e), keys(doc))
		}
		if date := e["innerError"].(map[string]any)["date"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`).MatchString(date) {
			t.Errorf("innerError.date %q is not in the documented form", date)
		}
	}
}

var guidRE = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`

func TestDocsToken(t *testing.T) {
	_, s := start(t, Options{Users: 2, Seed: 54})
	c := s.Credentials()
	post := func(secret, scope string) (int, map[string]any) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {secret}, "scope": {scope}}
		resp, err := s.HTTPClient().PostForm(s.URL()+"/"+c.TenantID+"/oauth2/v2.0/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b map[string]any
		json.NewDecoder(resp.Body).Decode(&b)
		return resp.StatusCode, b
	}
	ok := loadDoc(t, "token-success.json")
	status, got := post(c.ClientSecret, "https://graph.microsoft.com/.default")
	if status != 200 || !subset(keys(ok), keys(got)) || got["expires_in"] != ok["expires_in"] || got["token_type"] != ok["token_type"] {
		t.Errorf("token: %d %v, documented %v", status, keys(got), ok)
	}
	doc := loadDoc(t, "token-error.json")
	status, got = post(c.ClientSecret, "https://foo.microsoft.com/.default")
	if status != 400 || got["error"] == nil || !subset(keys(doc), keys(got)) {
		t.Fatalf("error: %d %v, documented %v", status, got, keys(doc))
	}
	desc := regexp.MustCompile(`^AADSTS\d+: .+\r\nTrace ID: (` + guidRE + `)\r\nCorrelation ID: (` + guidRE + `)\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`)
	if !desc.MatchString(doc["error_description"].(string)) {
		t.Fatal("the pattern does not fit Microsoft's own example")
	}
	m := desc.FindStringSubmatch(got["error_description"].(string))
	if m == nil || m[1] != got["trace_id"] || m[2] != got["correlation_id"] {
		t.Errorf("error_description %q", got["error_description"])
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`).MatchString(got["timestamp"].(string)) {
		t.Errorf("timestamp %v not in the documented YYYY-MM-DD HH:MM:SSZ form", got["timestamp"])
	}
}
