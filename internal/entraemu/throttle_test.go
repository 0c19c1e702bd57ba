package entraemu

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestThrottling(t *testing.T) {
	clock := newFakeClock()
	tn, s := start(t, Options{Users: 30, Groups: 3, Seed: 30, Throttle: true, ThrottleBudget: 20, Clock: clock, TokenLifetime: 24 * time.Hour})
	cl := newClient(t, s)
	// GET users costs 2: ten fit in a budget of 20.
	for i := 0; i < 10; i++ {
		r := cl.get("/v1.0/users")
		if r.status != 200 || r.header.Get("x-ms-resource-unit") != "2" {
			t.Fatalf("request %d: %d, RU %q", i, r.status, r.header.Get("x-ms-resource-unit"))
		}
		if i == 9 && r.header.Get("x-ms-throttle-limit-percentage") == "" {
			t.Errorf("no x-ms-throttle-limit-percentage at a full budget")
		}
		if i == 0 && r.header.Get("x-ms-throttle-limit-percentage") != "" {
			t.Errorf("x-ms-throttle-limit-percentage below 80%%")
		}
	}
	r := cl.get("/v1.0/users")
	c := s.Credentials()
	if r.status != 429 || r.header.Get("Retry-After") != "1" || r.errorCode() != "TooManyRequests" {
		t.Fatalf("over budget: %d %v %s", r.status, r.header, r.raw)
	}
	if got := r.header.Get("x-ms-throttle-scope"); got != "Tenant_Application/ReadWrite/"+c.ClientID+"/"+c.TenantID {
		t.Errorf("x-ms-throttle-scope = %q", got)
	}
	if r.header.Get("x-ms-throttle-information") != "ResourceUnitLimitExceeded" {
		t.Errorf("x-ms-throttle-information = %q", r.header.Get("x-ms-throttle-information"))
	}
	// Another app has its own bucket.
	if r := newAdminClient(t, s).get("/v1.0/users"); r.status != 200 {
		t.Errorf("other app throttled: %d", r.status)
	}
	// The bucket refills at budget/10 s: after Retry-After, it fits again.
	clock.Advance(time.Second)
	if r := cl.get("/v1.0/users"); r.status != 200 {
		t.Errorf("after Retry-After: %d", r.status)
	}
	if st := tn.Stats(); st.Throttled != 1 {
		t.Errorf("Stats.Throttled = %d", st.Throttled)
	}
	tn.SetThrottle(false)
	for i := 0; i < 30; i++ {
		if r := cl.get("/v1.0/users"); r.status != 200 {
			t.Fatalf("throttling off: %d", r.status)
		}
	}
}

func TestRequestCosts(t *testing.T) {
	tn, s := start(t, Options{Users: 30, Groups: 5, Seed: 31, Throttle: true})
	cl := newClient(t, s)
	g := tn.Groups()[0].ID
	u := tn.Users()[0].ID
	for path, want := range map[string]string{
		"/v1.0/users":                                                 "2",
		"/v1.0/users?$select=id":                                      "1",
		"/v1.0/users?$top=5":                                          "1",
		"/v1.0/users/" + u:                                            "2",
		"/v1.0/users/" + u + "/memberOf":                              "2",
		"/v1.0/groups":                                                "1",
		"/v1.0/groups/" + g + "/members":                              "3",
		"/v1.0/groups/" + g + "/members?$select=id":                   "2",
		"/v1.0/groups/" + g + "/transitiveMembers":                    "5",
		"/v1.0/subscribedSkus":                                        "3",
		"/v1.0/organization":                                          "1",
		"/v1.0/groups/" + g + "?$expand=members":                      "2",
		"/v1.0/groups/delta?$select=displayName":                      "1",
		"/v1.0/users/delta?$select=displayName,mail":                  "1",
		"/v1.0/users/delta":                                           "2",
		"/v1.0/users?$select=id&$top=5":                               "1",
		"/v1.0/groups/" + g + "/members?$top=999":                     "3",
		"/v1.0/groups/" + g + "/transitiveMembers?$select=id&$top=10": "3",
	} {
		r := cl.mustGet(path)
		if got := r.header.Get("x-ms-resource-unit"); got != want {
			t.Errorf("%s: x-ms-resource-unit %s, want %s", path, got, want)
		}
	}
	// Microsoft's budgets by tenant size.
	for users, want := range map[int]float64{10: 3500, 100: 5000, 600: 8000} {
		tn, err := New(Options{Users: users, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got := tn.budget(); got != want { // the tenant's own count of users
			t.Errorf("%d users: budget %v, want %v", users, got, want)
		}
	}
}

func TestFaults(t *testing.T) {
	tn, s := start(t, Options{Users: 10, Seed: 32})
	cl := newClient(t, s)
	remove := tn.InjectFault(Fault{PathPrefix: "/v1.0/users", Every: 3, Status: 429, RetryAfter: 2 * time.Second})
	var statuses []int
	for i := 0; i < 6; i++ {
		r := cl.get("/v1.0/users")
		statuses = append(statuses, r.status)
		if r.status == 429 && r.header.Get("Retry-After") != "2" {
			t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
		}
	}
	if want := []int{200, 200, 429, 200, 200, 429}; !equalInts(statuses, want) {
		t.Errorf("statuses = %v, want %v", statuses, want)
	}
	if r := cl.get("/v1.0/groups"); r.status != 200 {
		t.Errorf("fault on another path: %d", r.status)
	}
	remove()
	tn.InjectFault(Fault{Status: 503, Times: 1})
	tn.InjectFault(Fault{PathPrefix: "/v1.0/groups", Method: "GET", Status: 504, Times: 2})
	if r := cl.get("/v1.0/users"); r.status != 503 || r.errorCode() != "serviceNotAvailable" {
		t.Errorf("503: %d %s", r.status, r.raw)
	}
	if r := cl.get("/v1.0/users"); r.status != 200 {
		t.Errorf("after Times: %d", r.status)
	}
	for i := 0; i < 2; i++ {
		if r := cl.get("/v1.0/groups"); r.status != 504 {
			t.Errorf("504 %d: %d", i, r.status)
		}
	}
	if st := tn.Stats(); st.Faults != 5 {
		t.Errorf("Stats.Faults = %d", st.Faults)
	}
	tn.ClearFaults()

	// A reset: HTTP/1.1 gets a TCP reset, HTTP/2 a reset stream; either
	// way no response.
	tn.InjectFault(Fault{PathPrefix: "/v1.0/users", Reset: true, Times: 2})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM())
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	for _, hc := range []*http.Client{h1, s.HTTPClient()} {
		req, _ := http.NewRequest("GET", s.URL()+"/v1.0/users", nil)
		req.Header.Set("Authorization", "Bearer "+cl.token)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Errorf("reset answered %d", resp.StatusCode)
		} else if !strings.Contains(err.Error(), "reset") && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "stream error") {
			t.Errorf("reset error = %v", err)
		}
	}
	if r := cl.get("/v1.0/users"); r.status != 200 {
		t.Errorf("after resets: %d", r.status)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLatency(t *testing.T) {
	tn, s := start(t, Options{Users: 5, Seed: 33})
	cl := newClient(t, s)
	tn.SetLatency(150 * time.Millisecond)
	began := time.Now()
	cl.mustGet("/v1.0/organization")
	if d := time.Since(began); d < 150*time.Millisecond {
		t.Errorf("request took %v with 150ms latency", d)
	}
	tn.SetLatency(0)
}
