package entraemu

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"
)

// docError is a documented error body: its code and message.
func docError(t *testing.T, file string) (code, message string) {
	t.Helper()
	e := loadDoc(t, file)["error"].(map[string]any)
	return e["code"].(string), e["message"].(string)
}

// refused checks that r is the documented error of file, with status, and
// that it changed nothing in the tenant: not one change log entry.
func refused(t *testing.T, tn *Tenant, what string, seqBefore uint64, r *response, status int, file string) {
	t.Helper()
	code, msg := docError(t, file)
	if r.status != status || r.errorCode() != code || r.errorMessage() != msg {
		t.Errorf("%s: %d %s %q, documented %d %s %q", what, r.status, r.errorCode(), r.errorMessage(), status, code, msg)
	}
	if _, seq := tn.LogBounds(); seq != seqBefore {
		t.Errorf("%s: the refused request logged %d changes", what, seq-seqBefore)
	}
}

func newUserBody(upn string) map[string]any {
	local, _, _ := strings.Cut(upn, "@")
	return map[string]any{
		"accountEnabled": true, "displayName": "New User", "mailNickname": strings.ReplaceAll(local, "'", ""),
		"userPrincipalName": upn, "passwordProfile": map[string]any{"password": "xWwvJ]6NMw+bWH-d", "forceChangePasswordNextSignIn": true},
	}
}

// Creating users is as strict as Entra: required properties, UPN form and
// domain, unique UPN, mail nickname and immutable id, read-only
// properties, password policy; each refusal is Graph's documented body and
// changes nothing.
func TestStrictUserWrites(t *testing.T) {
	tn, s := start(t, Options{Users: 20, Groups: 5, Seed: 80})
	cl := newAdminClient(t, s)
	seq := func() uint64 { _, n := tn.LogBounds(); return n }
	for _, prop := range []string{"accountEnabled", "displayName", "mailNickname", "passwordProfile", "userPrincipalName"} {
		body := newUserBody("req." + prop + "@" + tn.Domain())
		delete(body, prop)
		before := seq()
		r := cl.do("POST", "/v1.0/users", body)
		want := fmt.Sprintf("A value is required for property '%s' of resource 'User'.", prop)
		if r.status != 400 || r.errorCode() != "Request_BadRequest" || r.errorMessage() != want || seq() != before {
			t.Errorf("without %s: %d %s", prop, r.status, r.raw)
		}
	}
	for _, upn := range []string{"jo hn@" + tn.Domain(), "a..b@" + tn.Domain(), ".ab@" + tn.Domain(), "ab.@" + tn.Domain(), "zoë@" + tn.Domain(), "a*b@" + tn.Domain(), "a@b@" + tn.Domain(), strings.Repeat("x", 65) + "@" + tn.Domain()} {
		before := seq()
		r := cl.do("POST", "/v1.0/users", newUserBody(upn))
		if r.status != 400 || r.errorMessage() != "Invalid value specified for property 'userPrincipalName' of resource 'User'." || seq() != before {
			t.Errorf("UPN %q: %d %s", upn, r.status, r.raw)
		}
	}
	// Every character the documentation allows in the local part.
	if r := cl.do("POST", "/v1.0/users", newUserBody("o'neil.x-y_z!#^~9@"+tn.Domain())); r.status != 201 {
		t.Errorf("allowed characters: %d %s", r.status, r.raw)
	}
	existing := tn.Users()[3]
	before := seq()
	refused(t, tn, "unverified domain", before, cl.do("POST", "/v1.0/users", newUserBody("new@unverified.example")), 400, "error-unverified-domain.json")
	refused(t, tn, "duplicate UPN", before, cl.do("POST", "/v1.0/users", newUserBody(strings.ToUpper(existing.UserPrincipalName))), 400, "error-duplicate-upn.json")
	dupNick := newUserBody("fresh@" + tn.Domain())
	dupNick["mailNickname"] = existing.MailNickname
	refused(t, tn, "duplicate mailNickname", before, cl.do("POST", "/v1.0/users", dupNick), 400, "error-duplicate-mailnickname.json")
	readOnly := newUserBody("fresh@" + tn.Domain())
	readOnly["proxyAddresses"] = []string{"SMTP:fresh@" + tn.Domain()}
	refused(t, tn, "read-only proxyAddresses", before, cl.do("POST", "/v1.0/users", readOnly), 400, "error-read-only-property.json")
	refused(t, tn, "PATCH proxyAddresses", before, cl.do("PATCH", "/v1.0/users/"+existing.ID, map[string]any{"proxyAddresses": []string{"SMTP:x@" + tn.Domain()}}), 400, "error-read-only-property.json")
	refused(t, tn, "rename to a taken UPN", before, cl.do("PATCH", "/v1.0/users/"+existing.ID, map[string]any{"userPrincipalName": tn.Users()[4].UserPrincipalName}), 400, "error-duplicate-upn.json")
	for _, pw := range []string{"Sh0rt!", "alllowercaseletters", "ALLUPPER1234", "NoDigitsOrSymbols", "Fresh-Pa55word", "Ünïcode-Pa55"} {
		weak := newUserBody("fresh@" + tn.Domain())
		weak["passwordProfile"] = map[string]any{"password": pw}
		refused(t, tn, "password "+pw, before, cl.do("POST", "/v1.0/users", weak), 400, "error-password-complexity.json")
	}
	refused(t, tn, "PATCH a weak password", before, cl.do("PATCH", "/v1.0/users/"+existing.ID, map[string]any{"passwordProfile": map[string]any{"password": "password"}}), 400, "error-password-complexity.json")
	if u, _ := tn.User(existing.ID); u.UserPrincipalName != existing.UserPrincipalName || len(u.ProxyAddresses) != len(existing.ProxyAddresses) {
		t.Errorf("refused writes changed %s", existing.ID)
	}
	// DisableStrongPassword lifts the classes, not the length.
	lenient := newUserBody("lenient@" + tn.Domain())
	lenient["passwordPolicies"] = "DisablePasswordExpiration, DisableStrongPassword"
	lenient["passwordProfile"] = map[string]any{"password": "onlylowercase"}
	if r := cl.do("POST", "/v1.0/users", lenient); r.status != 201 {
		t.Errorf("DisableStrongPassword: %d %s", r.status, r.raw)
	}
	// onPremisesImmutableId is set on create and on update, and is unique.
	anchored := newUserBody("anchored@" + tn.Domain())
	anchored["onPremisesImmutableId"] = "qg7Ui6oP80yJ4j1Swjxf7A=="
	r := cl.do("POST", "/v1.0/users", anchored)
	if u, _ := tn.User(r.str("id")); r.status != 201 || u.OnPremisesImmutableID != "qg7Ui6oP80yJ4j1Swjxf7A==" {
		t.Fatalf("create with onPremisesImmutableId: %d %s", r.status, r.raw)
	}
	if r := cl.do("PATCH", "/v1.0/users/"+existing.ID, map[string]any{"onPremisesImmutableId": "qg7Ui6oP80yJ4j1Swjxf7A=="}); r.status != 400 || r.errorMessage() != "Another object with the same value for property onPremisesImmutableId already exists." {
		t.Errorf("duplicate immutable id: %d %s", r.status, r.raw)
	}
	if r := cl.do("PATCH", "/v1.0/users/"+existing.ID, map[string]any{"onPremisesImmutableId": "AAAAAAAAAAAAAAAAAAAAAA=="}); r.status != 204 {
		t.Errorf("set immutable id: %d %s", r.status, r.raw)
	}
	if u, _ := tn.User(existing.ID); u.OnPremisesImmutableID != "AAAAAAAAAAAAAAAAAAAAAA==" {
		t.Errorf("immutable id after PATCH: %q", u.OnPremisesImmutableID)
	}
}

// The sync app may read but not write: Graph's 403 with its documented
// body, and nothing changed.
func TestWriteNeedsPermission(t *testing.T) {
	tn, s := start(t, Options{Users: 10, Groups: 3, Seed: 81})
	reader := newClient(t, s)
	_, before := tn.LogBounds()
	u := tn.Users()[0]
	refused(t, tn, "create user", before, reader.do("POST", "/v1.0/users", newUserBody("x@"+tn.Domain())), 403, "error-insufficient-privileges.json")
	refused(t, tn, "patch user", before, reader.do("PATCH", "/v1.0/users/"+u.ID, map[string]any{"jobTitle": "x"}), 403, "error-insufficient-privileges.json")
	refused(t, tn, "delete user", before, reader.do("DELETE", "/v1.0/users/"+u.ID, nil), 403, "error-insufficient-privileges.json")
	refused(t, tn, "add member", before, reader.do("POST", "/v1.0/groups/"+tn.Groups()[0].ID+"/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + u.ID}), 403, "error-insufficient-privileges.json")
	// The write app reads and writes users and groups, and nothing else.
	writer := newAdminClient(t, s)
	if r := writer.get("/v1.0/users/" + u.ID); r.status != 200 {
		t.Errorf("write app reading a user: %d", r.status)
	}
	if r := writer.get("/v1.0/subscribedSkus"); r.status != 403 {
		t.Errorf("write app reading subscribedSkus: %d", r.status)
	}
}

// Groups: required properties, Graph's refusal of mail-enabled security
// groups and distribution lists, unique mail nicknames among recipients
// (security groups may share one).
func TestStrictGroupWrites(t *testing.T) {
	tn, s := start(t, Options{Users: 10, Groups: 5, Seed: 82})
	cl := newAdminClient(t, s)
	base := map[string]any{"displayName": "Audit", "mailEnabled": false, "mailNickname": "audit", "securityEnabled": true}
	for _, prop := range []string{"displayName", "mailEnabled", "mailNickname", "securityEnabled"} {
		body := maps.Clone(base)
		delete(body, prop)
		if r := cl.do("POST", "/v1.0/groups", body); r.status != 400 || r.errorMessage() != fmt.Sprintf("A value is required for property '%s' of resource 'Group'.", prop) {
			t.Errorf("without %s: %d %s", prop, r.status, r.raw)
		}
	}
	dl := maps.Clone(base)
	dl["mailEnabled"] = true
	if r := cl.do("POST", "/v1.0/groups", dl); r.status != 400 || !strings.Contains(r.errorMessage(), "mail-enabled groups") {
		t.Errorf("a mail-enabled security group: %d %s", r.status, r.raw)
	}
	for i := 0; i < 2; i++ {
		if r := cl.do("POST", "/v1.0/groups", base); r.status != 201 {
			t.Errorf("security group %d sharing a nickname: %d %s", i, r.status, r.raw)
		}
	}
	m365 := map[string]any{"displayName": "Audit Team", "mailEnabled": true, "mailNickname": "auditteam", "securityEnabled": false, "groupTypes": []string{"Unified"}}
	if r := cl.do("POST", "/v1.0/groups", m365); r.status != 201 {
		t.Fatalf("Microsoft 365 group: %d %s", r.status, r.raw)
	}
	_, before := tn.LogBounds()
	refused(t, tn, "a second Microsoft 365 group with the nickname", before, cl.do("POST", "/v1.0/groups", m365), 400, "error-duplicate-mailnickname.json")
	if r := cl.do("POST", "/v1.0/groups", map[string]any{"displayName": "Bad", "mailEnabled": false, "mailNickname": "bad nick", "securityEnabled": true}); r.status != 400 || r.errorMessage() != "Invalid value specified for property 'mailNickname' of resource 'Group'." {
		t.Errorf("nickname with a space: %d %s", r.status, r.raw)
	}
}

// A deleted user goes to deleted items, from where Graph restores it.
func TestDeleteAndRestoreThroughGraph(t *testing.T) {
	tn, s := start(t, Options{Users: 10, Groups: 5, Seed: 83})
	cl := newAdminClient(t, s)
	u := tn.Users()[2]
	groups := tn.MemberOf(u.ID)
	if r := cl.do("DELETE", "/v1.0/users/"+u.ID, nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	r := cl.mustGet("/v1.0/directory/deletedItems/" + u.ID)
	if r.str("@odata.type") != "#microsoft.graph.user" || r.str("deletedDateTime") == "" {
		t.Errorf("deleted item: %s", r.raw)
	}
	if _, ok := tn.User(u.ID); ok {
		t.Error("a deleted user is still active")
	}
	if r := cl.do("POST", "/v1.0/directory/deletedItems/"+u.ID+"/restore", nil); r.status != 200 || r.str("id") != u.ID {
		t.Fatalf("restore: %d %s", r.status, r.raw)
	}
	if _, ok := tn.User(u.ID); !ok || len(tn.MemberOf(u.ID)) != len(groups) {
		t.Errorf("after restore: active %v, %d groups of %d", ok, len(tn.MemberOf(u.ID)), len(groups))
	}
}

// Writes count against the write quota, 3,000 per 150 seconds per app per
// tenant, each $batch request on its own: the 3,001st answers 429 with
// Retry-After inside its batch and applies nothing.
func TestWriteBudget(t *testing.T) {
	clock := newFakeClock()
	tn, s := start(t, Options{Users: 10, Groups: 2, Seed: 84, Throttle: true, ThrottleBudget: 1 << 30, Clock: clock, TokenLifetime: 24 * time.Hour})
	cl := newAdminClient(t, s)
	u := tn.Users()[0]
	json := map[string]string{"Content-Type": "application/json"}
	step := func(i int) map[string]any {
		return map[string]any{"id": fmt.Sprint(i), "method": "PATCH", "url": "/users/" + u.ID, "headers": json, "body": map[string]any{"jobTitle": fmt.Sprintf("Title %d", i)}}
	}
	for b := 0; b < 150; b++ {
		var reqs []map[string]any
		for i := 0; i < 20; i++ {
			reqs = append(reqs, step(b*20+i))
		}
		status, rs := cl.batch(reqs)
		for id, r := range rs {
			if r.Status != 204 {
				t.Fatalf("batch %d step %s: %d %v", b, id, r.Status, r.Body)
			}
		}
		if status != 200 {
			t.Fatalf("batch %d: %d", b, status)
		}
	}
	_, before := tn.LogBounds()
	_, rs := cl.batch([]map[string]any{step(3000), {"id": "read", "method": "GET", "url": "/users/" + u.ID}})
	over, read := rs["3000"], rs["read"]
	if over.Status != 429 || over.Headers["Retry-After"] == "" || over.Headers["x-ms-throttle-information"] != "WriteLimitExceeded" {
		t.Errorf("write 3,001: %+v", over)
	}
	if read.Status != 200 {
		t.Errorf("a read is not held by the write quota: %+v", read)
	}
	if _, seq := tn.LogBounds(); seq != before {
		t.Errorf("the throttled write was applied")
	}
	if now, _ := tn.User(u.ID); now.JobTitle != "Title 2999" {
		t.Errorf("jobTitle %q", now.JobTitle)
	}
	clock.Advance(time.Second)
	if _, rs := cl.batch([]map[string]any{step(3001)}); rs["3001"].Status != 204 {
		t.Errorf("after Retry-After: %+v", rs["3001"])
	}
}

// dependsOn orders a batch's writes; a failed one stops those after it.
func TestBatchWritesDependsOn(t *testing.T) {
	tn, s := start(t, Options{Users: 10, Groups: 2, Seed: 85})
	cl := newAdminClient(t, s)
	u, g := tn.Users()[1], tn.Groups()[1]
	if contains(tn.MemberOf(u.ID), g.ID) {
		tn.RemoveMember(g.ID, u.ID)
	}
	json := map[string]string{"Content-Type": "application/json"}
	_, rs := cl.batch([]map[string]any{
		{"id": "1", "method": "PATCH", "url": "/users/" + u.ID, "headers": json, "body": map[string]any{"proxyAddresses": []string{"SMTP:x@y.example"}}},
		{"id": "2", "method": "POST", "url": "/groups/" + g.ID + "/members/$ref", "headers": json, "dependsOn": []string{"1"}, "body": map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + u.ID}},
	})
	if rs["1"].Status != 400 || rs["2"].Status != 424 || contains(tn.MemberOf(u.ID), g.ID) {
		t.Errorf("failed dependency: %d %d, member %v", rs["1"].Status, rs["2"].Status, contains(tn.MemberOf(u.ID), g.ID))
	}
}
