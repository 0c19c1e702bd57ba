package entraemu

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// jsonType is a JSON value's type: null, bool, number, string, array or
// object.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	}
	return "object"
}

// matchesDoc reports how got differs from a documented example object:
// every documented property must be there, with a value of the same JSON
// type when both are set.
func matchesDoc(doc, got map[string]any) []string {
	var diffs []string
	for k, dv := range doc {
		gv, ok := got[k]
		switch {
		case !ok:
			diffs = append(diffs, "missing "+k)
		case dv != nil && gv != nil && jsonType(dv) != jsonType(gv):
			diffs = append(diffs, k+" is a "+jsonType(gv)+", documented as a "+jsonType(dv))
		}
	}
	slices.Sort(diffs)
	return diffs
}

// The directory endpoints sync clients call besides users and groups
// answer with the properties Microsoft's examples show.
func TestDocsOtherDirectoryObjects(t *testing.T) {
	tn, s := start(t, Options{Users: 60, Groups: 25, Seed: 70})
	cl := newClient(t, s)
	for file, path := range map[string]string{
		"serviceprincipal-list.json":  "/v1.0/servicePrincipals",
		"serviceprincipal-delta.json": "/v1.0/servicePrincipals/delta",
		"application-list.json":       "/v1.0/applications",
		"device-list.json":            "/v1.0/devices",
		"orgcontact-list.json":        "/v1.0/contacts",
		"directoryrole-list.json":     "/v1.0/directoryRoles",
	} {
		doc := loadDoc(t, file)
		r := cl.mustGet(path)
		if len(r.values()) == 0 {
			t.Errorf("%s: no objects", path)
			continue
		}
		got := r.values()[0]
		if strings.HasSuffix(path, "/delta") {
			// Delta leaves out what was never set ("user: delta"): compare
			// with the object as GET shows it, where such a property is
			// null or empty.
			full := cl.mustGet(strings.TrimSuffix(path, "/delta") + "/" + got["id"].(string)).body
			for k, v := range full {
				if _, ok := got[k]; !ok && (v == nil || jsonType(v) == "array" && len(v.([]any)) == 0) {
					got[k] = v
				}
			}
		}
		if d := matchesDoc(docValues(doc)[0], got); len(d) > 0 {
			t.Errorf("%s against %s: %v", path, file, d)
		}
		for _, k := range []string{"@odata.context", "@odata.nextLink"} {
			if doc[k] != nil && r.body[k] == nil && r.body["@odata.deltaLink"] == nil {
				t.Errorf("%s: no %s", path, k)
			}
		}
	}
	// Each is served by id too, and the objects agree with the tenant's.
	objs := tn.Objects()
	for _, o := range objs {
		set := map[string]string{KindDevice: "devices", KindOrgContact: "contacts", KindServicePrincipal: "servicePrincipals"}[o.Kind]
		r := cl.mustGet("/v1.0/" + set + "/" + o.ID)
		if r.str("id") != o.ID || r.str("displayName") != o.DisplayName {
			t.Errorf("%s/%s: %s", set, o.ID, r.raw)
		}
	}
	apps := cl.mustGet("/v1.0/applications").values()
	if len(apps) == 0 || cl.mustGet("/v1.0/applications/"+apps[0]["id"].(string)).str("appId") != apps[0]["appId"] {
		t.Errorf("applications: %v", apps)
	}
	roles := cl.mustGet("/v1.0/directoryRoles").values()
	var admins []map[string]any
	for _, role := range roles {
		if role["roleTemplateId"] == "62e90394-69f5-4237-9190-012177145e10" {
			admins = cl.mustGet("/v1.0/directoryRoles/" + role["id"].(string) + "/members").values()
		}
	}
	if len(admins) != 1 || admins[0]["@odata.type"] != "#microsoft.graph.user" {
		t.Errorf("Global Administrator members: %v", admins)
	}
	if r := cl.get("/v1.0/servicePrincipals/00000000-0000-4000-8000-000000000000"); r.status != 404 || r.errorCode() != "Request_ResourceNotFound" {
		t.Errorf("unknown service principal: %d %s", r.status, r.raw)
	}
}

// A third-party sync client starts every run with servicePrincipals/delta
// (issue 13): it is served, rounds follow, and a new service principal
// shows in the next round.
func TestServicePrincipalsDelta(t *testing.T) {
	tn, s := start(t, Options{Users: 20, Groups: 10, Seed: 71})
	cl := newClient(t, s)
	rd := walk(t, cl, "/v1.0/servicePrincipals/delta?$select=displayName", nil)
	var want []string
	for _, o := range tn.Objects() {
		if o.Kind == KindServicePrincipal {
			want = append(want, o.ID)
		}
	}
	if got := ids(rd.entries); !slices.Equal(got, want) {
		t.Fatalf("initial round %v, want %v", got, want)
	}
	for _, e := range rd.entries {
		if keys(e)[0] != "displayName" || len(e) != 2 {
			t.Errorf("entry %v: $select=displayName gives displayName and id", e)
		}
	}
	sp, err := tn.CreateServicePrincipal("Late App")
	if err != nil {
		t.Fatal(err)
	}
	next := walk(t, cl, rd.deltaLink, nil)
	if len(next.entries) != 1 || next.entries[0]["id"] != sp.ID || next.entries[0]["displayName"] != "Late App" {
		t.Errorf("next round %v", next.entries)
	}
	// A group containing it lists it through the SDK's cast alias.
	g := tn.Groups()[0]
	if err := tn.AddMember(g.ID, sp.ID); err != nil {
		t.Fatal(err)
	}
	members := cl.mustGet("/v1.0/groups/" + g.ID + "/members/graph.servicePrincipal").values()
	if len(members) == 0 || members[len(members)-1]["@odata.type"] != "#microsoft.graph.servicePrincipal" {
		t.Errorf("members/graph.servicePrincipal: %v", members)
	}
	if of := cl.mustGet("/v1.0/servicePrincipals/" + sp.ID + "/memberOf").values(); len(of) != 1 || of[0]["id"] != g.ID {
		t.Errorf("memberOf: %v", of)
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// doRaw sends a body as given, with headers as name, value pairs.
func (c *client) doRaw(method, path string, body []byte, headers ...string) *response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.s.URL()+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := &response{status: resp.StatusCode, header: resp.Header}
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	out.raw = buf.Bytes()
	if len(out.raw) > 0 && out.raw[0] == '{' {
		jsonUnmarshal(out.raw, &out.body)
	}
	return out
}

// What Microsoft's Go SDK sends (issue 13): gzip-compressed bodies, batch
// steps with "body": null, percent-encoded ids inside a batch, and the
// graph. cast alias.
func TestSDKRequestShapes(t *testing.T) {
	tn, s := start(t, Options{Users: 30, Groups: 12, Seed: 72})
	admin := newAdminClient(t, s)
	u := tn.Users()[0] // zoe.o'brien@...: an apostrophe in the UPN
	batch := []byte(`{"requests":[` +
		`{"id":"1","method":"GET","url":"/users/` + url.PathEscape(u.UserPrincipalName) + `","body":null,"headers":{}},` +
		`{"id":"2","method":"GET","url":"/users/` + strings.ReplaceAll(u.UserPrincipalName, "@", "%40") + `/memberOf/graph.group","body":null},` +
		`{"id":"3","method":"PATCH","url":"/users/` + u.ID + `","body":{"jobTitle":"Compressed"},"headers":{"Content-Type":"application/json"}}]}`)
	r := admin.doRaw("POST", "/v1.0/$batch", gzipped(t, batch), "Content-Encoding", "gzip")
	if r.status != 200 {
		t.Fatalf("gzip batch: %d %s", r.status, r.raw)
	}
	status := map[string]float64{}
	for _, x := range r.body["responses"].([]any) {
		step := x.(map[string]any)
		status[step["id"].(string)] = step["status"].(float64)
	}
	if status["1"] != 200 || status["2"] != 200 || status["3"] != 204 {
		t.Errorf("steps: %v (%s)", status, r.raw)
	}
	if now, _ := tn.User(u.ID); now.JobTitle != "Compressed" {
		t.Errorf("the gzip batch's write: jobTitle %q", now.JobTitle)
	}
	// A compressed PATCH on the wire, and an encoding the server does not
	// take: 415, on which kiota retries plain.
	if r := admin.doRaw("PATCH", "/v1.0/users/"+u.ID, gzipped(t, []byte(`{"jobTitle":"Zipped"}`)), "Content-Encoding", "gzip"); r.status != 204 {
		t.Errorf("gzip PATCH: %d %s", r.status, r.raw)
	}
	if r := admin.doRaw("PATCH", "/v1.0/users/"+u.ID, []byte(`{"jobTitle":"Brotli"}`), "Content-Encoding", "br"); r.status != 415 {
		t.Errorf("Content-Encoding br: %d %s", r.status, r.raw)
	}
	if now, _ := tn.User(u.ID); now.JobTitle != "Zipped" {
		t.Errorf("jobTitle %q after the refused request", now.JobTitle)
	}
	if r := admin.doRaw("PATCH", "/v1.0/users/"+u.ID, []byte("not gzip"), "Content-Encoding", "gzip"); r.status != 400 {
		t.Errorf("broken gzip: %d", r.status)
	}
	cl := newClient(t, s)
	g := groupByName(t, tn, "External Partners")
	tn.DeleteUser(tn.Users()[1].ID)
	for path, kind := range map[string]string{
		"/v1.0/groups/" + g.ID + "/members/graph.user":            "#microsoft.graph.user",
		"/v1.0/groups/" + g.ID + "/members/graph.orgContact":      "#microsoft.graph.orgContact",
		"/v1.0/users/" + u.ID + "/memberOf/graph.group":           "#microsoft.graph.group",
		"/v1.0/groups/" + g.ID + "/transitiveMembers/graph.user":  "#microsoft.graph.user",
		"/v1.0/directory/deletedItems/graph.user":                 "",
		"/v1.0/users/" + u.ID + "/transitiveMemberOf/graph.group": "#microsoft.graph.group",
	} {
		vals := cl.mustGet(path).values()
		if len(vals) == 0 {
			t.Errorf("%s: empty", path)
		}
		for _, v := range vals {
			if kind != "" && v["@odata.type"] != kind {
				t.Errorf("%s: %v", path, v["@odata.type"])
			}
		}
	}
	if r := cl.get("/v1.0/groups/"+g.ID+"/members/graph.user/$count", "ConsistencyLevel", "eventual"); r.status != 200 || len(r.raw) == 0 {
		t.Errorf("members/graph.user/$count: %d %s", r.status, r.raw)
	}
}

// Every service plan a user has disabled is one its SKU lists (issue 13).
func TestSubscribedSkusListTheirServicePlans(t *testing.T) {
	tn, s := start(t, Options{Users: 300, Seed: 73})
	cl := newClient(t, s)
	plans := map[string][]string{}
	for _, sku := range cl.mustGet("/v1.0/subscribedSkus").values() {
		ps, _ := sku["servicePlans"].([]any)
		if len(ps) == 0 {
			t.Errorf("SKU %v lists no service plans", sku["skuPartNumber"])
		}
		for _, p := range ps {
			plan := p.(map[string]any)
			if plan["servicePlanName"] == "" || plan["provisioningStatus"] == nil {
				t.Errorf("service plan %v", plan)
			}
			plans[sku["skuId"].(string)] = append(plans[sku["skuId"].(string)], plan["servicePlanId"].(string))
		}
	}
	disabled := 0
	for _, u := range tn.Users() {
		for _, l := range u.AssignedLicenses {
			for _, p := range l.DisabledPlans {
				disabled++
				if !slices.Contains(plans[l.SkuID], p) {
					t.Errorf("user %s has plan %s of SKU %s disabled, which that SKU does not list", u.UserPrincipalName, p, l.SkuID)
				}
			}
		}
	}
	if disabled == 0 {
		t.Error("no user has a disabled plan: nothing was checked")
	}
}
