package entraemu

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

func TestChurnChangesTheShareAsked(t *testing.T) {
	tn, err := New(Options{Users: 400, Groups: 20, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tn.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	post := func(secret string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL()+churnPath, bytes.NewBufferString(`{"seed":3,"user_percent":5,"member_percent":2}`))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := srv.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := post("wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("churn without the secret: %d", resp.StatusCode)
	}
	resp := post(srv.Credentials().ClientSecret)
	var c Churn
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != 200 {
		t.Fatalf("churn: %d %v", resp.StatusCode, err)
	}
	if c.UsersChanged != 20 || c.MembersAdded+c.MembersRemoved == 0 {
		t.Fatalf("churn %+v", c)
	}
	reorganized := 0
	for _, u := range tn.Users() {
		if u.JobTitle == "Reorganized" {
			reorganized++
		}
	}
	if reorganized != 20 {
		t.Fatalf("%d users changed, want 20", reorganized)
	}
}

func TestStatsEndpointCountsPagesByKind(t *testing.T) {
	tn, err := New(Options{Users: 30, Groups: 2, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tn.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	stats := func(secret string) (Stats, int) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL()+statsPath, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := srv.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s Stats
		json.NewDecoder(resp.Body).Decode(&s)
		return s, resp.StatusCode
	}
	if _, code := stats("wrong"); code != http.StatusUnauthorized {
		t.Fatalf("stats without the secret: %d", code)
	}
	_, pages := newClient(t, srv).all("/v1.0/users?$top=10")
	if pages != 3 {
		t.Fatalf("30 users in pages of 10: %d pages", pages)
	}
	s, code := stats(srv.Credentials().ClientSecret)
	if code != 200 || s.ByKind["users"] != 3 || s.Graph != 3 {
		t.Fatalf("stats %d: %+v", code, s)
	}
}
