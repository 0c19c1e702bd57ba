package entraemu

import (
	"fmt"
	"testing"
	"time"
)

type batchResp struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Raw     any               `json:"body"`
	Body    map[string]any    `json:"-"`
}

func (c *client) batch(reqs []map[string]any) (int, map[string]batchResp) {
	c.t.Helper()
	r := c.do("POST", "/v1.0/$batch", map[string]any{"requests": reqs})
	if r.status != 200 {
		return r.status, nil
	}
	out := map[string]batchResp{}
	rs, _ := r.body["responses"].([]any)
	for _, x := range rs {
		var br batchResp
		if err := jsonRoundTrip(x, &br); err != nil {
			c.t.Fatal(err)
		}
		br.Body, _ = br.Raw.(map[string]any)
		out[br.ID] = br
	}
	return r.status, out
}

func jsonRoundTrip(in any, out any) error {
	return jsonUnmarshal(mustJSON(in), out)
}

func TestBatch(t *testing.T) {
	tn, s := start(t, Options{Users: 40, Groups: 10, Seed: 40})
	cl := newClient(t, s)
	u := tn.Users()[3]
	missing := "00000000-0000-4000-8000-000000000000"
	status, rs := cl.batch([]map[string]any{
		{"id": "1", "method": "GET", "url": "/users/" + u.ID + "?$select=id,userPrincipalName"},
		{"id": "2", "method": "GET", "url": "/users/" + u.ID + "/memberOf?$select=id"},
		{"id": "3", "method": "GET", "url": "groups?$top=2"},
		{"id": "4", "method": "GET", "url": "/users/" + missing},
		{"id": "5", "method": "GET", "url": "/users/" + u.ID, "dependsOn": []string{"4"}},
		{"id": "6", "method": "GET", "url": "/users/$count", "headers": map[string]string{"ConsistencyLevel": "eventual"}},
		{"id": "7", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"},
	})
	if status != 200 || len(rs) != 7 {
		t.Fatalf("batch: %d %v", status, rs)
	}
	if rs["1"].Status != 200 || rs["1"].Body["userPrincipalName"] != u.UserPrincipalName {
		t.Errorf("1: %+v", rs["1"])
	}
	if vals, _ := rs["2"].Body["value"].([]any); rs["2"].Status != 200 || len(vals) != len(tn.MemberOf(u.ID)) {
		t.Errorf("2: %+v", rs["2"])
	}
	if vals, _ := rs["3"].Body["value"].([]any); len(vals) != 2 || rs["3"].Body["@odata.nextLink"] == nil {
		t.Errorf("3: %+v", rs["3"])
	}
	if rs["4"].Status != 404 || rs["4"].Body["error"].(map[string]any)["code"] != "Request_ResourceNotFound" {
		t.Errorf("4: %+v", rs["4"])
	}
	if rs["5"].Status != 424 {
		t.Errorf("5 depends on a failed request: %+v", rs["5"])
	}
	if rs["6"].Status != 200 || rs["6"].Raw != "40" {
		t.Errorf("6: %+v", rs["6"])
	}
	if rs["7"].Status != 400 {
		t.Errorf("7 absolute URL: %+v", rs["7"])
	}
	if rs["1"].Headers["x-ms-resource-unit"] == "" {
		t.Errorf("sub-response headers = %v", rs["1"].Headers)
	}

	var many []map[string]any
	for i := 0; i < 21; i++ {
		many = append(many, map[string]any{"id": fmt.Sprint(i), "method": "GET", "url": "/organization"})
	}
	if status, _ := cl.batch(many); status != 400 {
		t.Errorf("21 requests: %d", status)
	}
	if status, _ := cl.batch(many[:20]); status != 200 {
		t.Errorf("20 requests: %d", status)
	}
	if status, _ := cl.batch([]map[string]any{{"id": "a", "method": "GET", "url": "/users"}, {"id": "A", "method": "GET", "url": "/users"}}); status != 400 {
		t.Errorf("duplicate ids: %d", status)
	}
	if status, _ := cl.batch([]map[string]any{{"id": "a", "method": "GET", "url": "/users", "dependsOn": []string{"zz"}}}); status != 400 {
		t.Errorf("unknown dependency: %d", status)
	}
	if st := tn.Stats(); st.BatchSubrequests != 25 || st.ByKind["batch"] != 5 {
		t.Errorf("stats = %+v", st)
	}
}

func TestBatchThrottlesEachRequest(t *testing.T) {
	clock := newFakeClock()
	tn, s := start(t, Options{Users: 20, Seed: 41, Throttle: true, ThrottleBudget: 10, Clock: clock, TokenLifetime: 24 * time.Hour})
	cl := newClient(t, s)
	var reqs []map[string]any
	for i := 0; i < 8; i++ {
		reqs = append(reqs, map[string]any{"id": fmt.Sprint(i), "method": "GET", "url": "/users/" + tn.Users()[i].ID})
	}
	status, rs := cl.batch(reqs)
	if status != 200 {
		t.Fatalf("batch: %d", status)
	}
	ok, throttled := 0, 0
	for _, r := range rs {
		switch r.Status {
		case 200:
			ok++
		case 429:
			throttled++
			if r.Headers["Retry-After"] == "" {
				t.Errorf("429 without Retry-After: %+v", r)
			}
		}
	}
	if ok != 5 || throttled != 3 {
		t.Errorf("%d ok, %d throttled; want 5 and 3 with 10 RU at 2 each", ok, throttled)
	}
	// Injected faults match sub-requests by their path too.
	clock.Advance(time.Minute)
	tn.InjectFault(Fault{PathPrefix: "/v1.0/users/" + tn.Users()[0].ID, Status: 503})
	_, rs = cl.batch(reqs[:2])
	if rs["0"].Status != 503 || rs["1"].Status != 200 {
		t.Errorf("fault in batch: %d %d", rs["0"].Status, rs["1"].Status)
	}
}

// A batch refused as a whole applies none of its requests; an accepted one
// applies them in order.
func TestBatchWrites(t *testing.T) {
	tn, s := start(t, Options{Users: 10, Groups: 2, Seed: 42})
	cl := newAdminClient(t, s)
	g := tn.Groups()[0]
	u, other := tn.Users()[0], tn.Users()[1]
	if contains(tn.MemberOf(other.ID), g.ID) {
		if err := tn.RemoveMember(g.ID, other.ID); err != nil {
			t.Fatal(err)
		}
	}
	_, seqBefore := tn.LogBounds()
	json := map[string]string{"Content-Type": "application/json"}
	status, _ := cl.batch([]map[string]any{
		{"id": "1", "method": "PATCH", "url": "/users/" + u.ID, "headers": json, "body": map[string]any{"jobTitle": "Rejected"}},
		{"id": "2", "method": "GET", "url": "/users/" + u.ID + "?$select=jobTitle", "dependsOn": []string{"1"}},
		{"id": "3", "method": "POST", "url": "/groups/" + g.ID + "/members/$ref", "headers": json, "body": map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + other.ID}},
		{"id": "4", "method": "PATCH", "url": "/users/" + other.ID, "body": map[string]any{"jobTitle": "Rejected too"}},
	})
	if status != 400 {
		t.Errorf("a body without Content-Type: %d", status)
	}
	// Nothing of the rejected batch was applied: not the values, not the
	// membership, not a single entry in the change log.
	if now, _ := tn.User(u.ID); now.JobTitle != u.JobTitle {
		t.Errorf("the rejected batch set jobTitle %q (was %q)", now.JobTitle, u.JobTitle)
	}
	if now, _ := tn.User(other.ID); now.JobTitle != other.JobTitle {
		t.Errorf("the rejected batch set the other user's jobTitle %q", now.JobTitle)
	}
	if contains(tn.MemberOf(other.ID), g.ID) {
		t.Error("the rejected batch added a member")
	}
	if _, seq := tn.LogBounds(); seq != seqBefore {
		t.Errorf("the rejected batch logged %d changes", seq-seqBefore)
	}

	status, rs := cl.batch([]map[string]any{
		{"id": "1", "method": "PATCH", "url": "/users/" + u.ID, "headers": json, "body": map[string]any{"jobTitle": "Accepted"}},
		{"id": "2", "method": "GET", "url": "/users/" + u.ID + "?$select=jobTitle", "dependsOn": []string{"1"}},
		{"id": "3", "method": "POST", "url": "/groups/" + g.ID + "/members/$ref", "headers": json, "body": map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + other.ID}},
	})
	if status != 200 || rs["1"].Status != 204 || rs["2"].Body["jobTitle"] != "Accepted" || rs["3"].Status != 204 {
		t.Errorf("batched write then read: %d %+v", status, rs)
	}
	if now, _ := tn.User(u.ID); now.JobTitle != "Accepted" || !contains(tn.MemberOf(other.ID), g.ID) {
		t.Errorf("the accepted batch left jobTitle %q, member %v", now.JobTitle, contains(tn.MemberOf(other.ID), g.ID))
	}
}
