package entraemu

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// sdkRequest is one request Microsoft's Go SDK sent, recorded by
// testdata/sdkcapture against `dirsync emulate entra --users 50 --groups 20
// --seed 1`, with the status the emulator answered.
type sdkRequest struct {
	Step    string            `json:"step"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    []byte            `json:"body"`
	Status  int               `json:"status"`
}

func loadSDKRequests(t *testing.T) []sdkRequest {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "sdk-requests.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []sdkRequest
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r sdkRequest
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// The requests msgraph-sdk-go v1.89.0 sends, byte for byte (gzip-compressed
// $batch and PATCH bodies, batch steps with "body": null and a
// percent-encoded UPN, graph. casts, delta()), are served as when they
// were recorded, against a tenant of the same seed. The SDK itself is not
// built here: its cold build takes longer than the project's CI can give
// it (testdata/README.md).
func TestSDKRecordedRequests(t *testing.T) {
	tn, s := start(t, Options{Users: 50, Groups: 20, Seed: 1})
	reader, writer := newClient(t, s), newAdminClient(t, s)
	reqs := loadSDKRequests(t)
	if len(reqs) < 10 {
		t.Fatalf("%d recorded requests", len(reqs))
	}
	steps := map[string]bool{}
	for _, rec := range reqs {
		steps[rec.Step] = true
		cl := reader
		if rec.Method == http.MethodPatch || rec.Method == http.MethodDelete {
			cl = writer
		}
		r := cl.replay(rec)
		if r.status != rec.Status {
			t.Errorf("%s %s (%s): %d, recorded %d: %s", rec.Method, rec.URL, rec.Step, r.status, rec.Status, r.raw)
			continue
		}
		if rec.Step == "batch" {
			for _, x := range r.body["responses"].([]any) {
				if st := x.(map[string]any)["status"].(float64); st >= 400 {
					t.Errorf("batch step: %v", x)
				}
			}
		}
	}
	for _, want := range []string{"batch", "casts", "patch", "delete", "deleted items cast", "subscribedSkus", "servicePrincipals delta"} {
		if !steps[want] {
			t.Errorf("the recording has no %q step", want)
		}
	}
	// The compressed PATCH was applied, and the DELETE too.
	patched := false
	for _, u := range tn.Users() {
		patched = patched || u.JobTitle == "Captured"
	}
	if !patched || len(tn.DeletedUsers()) != 1 {
		t.Errorf("after replay: patched %v, %d deleted", patched, len(tn.DeletedUsers()))
	}
}

// replay sends a recorded request with this client's token.
func (c *client) replay(rec sdkRequest) *response {
	c.t.Helper()
	req, err := http.NewRequest(rec.Method, c.s.URL()+rec.URL, bytes.NewReader(rec.Body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range rec.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := &response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		json.Unmarshal(raw, &out.body)
	}
	return out
}

// The recording holds what issue 13 names: a gzip-compressed $batch whose
// GET steps have "body": null and whose URL holds a percent-encoded UPN.
func TestSDKRecordingShapes(t *testing.T) {
	var batch sdkRequest
	for _, r := range loadSDKRequests(t) {
		if r.Step == "batch" {
			batch = r
		}
	}
	if batch.Headers["Content-Encoding"] != "gzip" {
		t.Fatalf("batch headers %v", batch.Headers)
	}
	zr, err := gzip.NewReader(bytes.NewReader(batch.Body))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	var in struct {
		Requests []struct {
			URL  string          `json:"url"`
			Body json.RawMessage `json:"body"`
		} `json:"requests"`
	}
	if err := json.Unmarshal(plain, &in); err != nil {
		t.Fatal(err)
	}
	if len(in.Requests) == 0 || string(in.Requests[0].Body) != "null" || !bytes.Contains([]byte(in.Requests[0].URL), []byte("%40")) {
		t.Errorf("batch %s", plain)
	}
}
