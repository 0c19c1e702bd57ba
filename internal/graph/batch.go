package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
)

// MaxBatch is how many requests one $batch may hold.
const MaxBatch = 20

// BatchRequest is one request of a $batch.
type BatchRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"` // relative to the version root: "/users/{id}"
	Headers   map[string]string `json:"headers,omitempty"`
	Body      json.RawMessage   `json:"body,omitempty"`
	DependsOn []string          `json:"dependsOn,omitempty"`
}

// BatchResponse is one answer of a $batch, with its own status.
type BatchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`

	received time.Time // on the client's clock, for a Retry-After date
}

// Header returns a header of the answer, matched case-insensitively.
func (r BatchResponse) Header(name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Err is nil for a 2xx answer and an *Error otherwise.
func (r BatchResponse) Err() error {
	if r.Status >= 200 && r.Status < 300 {
		return nil
	}
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	return parseError(r.Status, h, r.Body, r.received)
}

// Decode decodes a 2xx answer's body into v, or returns Err.
func (r BatchResponse) Decode(v any) error {
	if err := r.Err(); err != nil {
		return err
	}
	return json.Unmarshal(r.Body, v)
}

// Batch sends reqs in $batch requests of at most 20 and returns one
// answer per request, in the order of reqs. Each sub-request is throttled
// on its own, so a batch that answers 200 can hold 429s: those (and
// 503/504, and the 424s of requests that depended on them) are sent again
// after the longest Retry-After, within the call's budget. An answer still
// failing after that is returned as it is; see BatchResponse.Err.
//
// Batch is meant for reads: a whole $batch that fails with 5xx or a reset
// connection is sent again, which is only safe when its requests are.
func (c *Client) Batch(ctx context.Context, reqs []BatchRequest) ([]BatchResponse, error) {
	return c.batch(ctx, reqs, false)
}

// BatchWrites is Batch for requests that change the directory: a $batch
// that may have reached Graph (a 5xx answer, a reset or a timeout once
// sent) is never sent again, as that could apply a create twice; the
// error says so, and the caller reconciles from what the tenant then holds.
// Throttled requests inside it (429) are sent again, as Graph applied none
// of them.
func (c *Client) BatchWrites(ctx context.Context, reqs []BatchRequest) ([]BatchResponse, error) {
	return c.batch(ctx, reqs, true)
}

func (c *Client) batch(ctx context.Context, reqs []BatchRequest, write bool) ([]BatchResponse, error) {
	seen := map[string]bool{}
	deps := false
	for _, r := range reqs {
		if r.ID == "" {
			return nil, errors.New("graph: batch: request without id")
		}
		if seen[strings.ToLower(r.ID)] {
			return nil, fmt.Errorf("graph: batch: duplicate id %q", r.ID)
		}
		seen[strings.ToLower(r.ID)] = true
		deps = deps || len(r.DependsOn) > 0
	}
	if deps && len(reqs) > MaxBatch {
		return nil, fmt.Errorf("graph: batch: requests with dependsOn must fit one batch of %d", MaxBatch)
	}
	out := make([]BatchResponse, 0, len(reqs))
	for chunk := range slices.Chunk(reqs, MaxBatch) {
		rs, err := c.batchChunk(ctx, chunk, write)
		if err != nil {
			return nil, fmt.Errorf("graph: batch: %w", err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// batchChunk sends one $batch of at most 20 requests, and sends again,
// within the budget, the requests throttled or refused for the moment
// (with those that failed only because they depended on them).
func (c *Client) batchChunk(ctx context.Context, chunk []BatchRequest, write bool) ([]BatchResponse, error) {
	deadline := c.clk.Now().Add(c.budget)
	results := make(map[string]BatchResponse, len(chunk))
	pending := chunk
	for attempt := 0; ; attempt++ {
		got, err := c.postBatch(ctx, pending, write)
		if err != nil {
			return nil, err
		}
		retry, wait, err := c.toRetry(pending, got, results, attempt, write)
		if err != nil {
			return nil, err
		}
		if len(retry) == 0 || attempt+1 >= c.maxAttempts || c.clk.Now().Add(wait).After(deadline) {
			break
		}
		next := retried(pending, retry)
		c.stats.retries.Add(int64(len(next)))
		c.log.Info("graph: retrying throttled batch requests", "count", len(next), "wait", wait)
		if err := clock.Sleep(ctx, c.clk, wait); err != nil {
			return nil, err
		}
		pending = next
	}
	out := make([]BatchResponse, len(chunk))
	for i, r := range chunk {
		out[i] = results[strings.ToLower(r.ID)]
	}
	return out, nil
}

// postBatch sends the requests as one $batch and returns the answers by
// lower-case id.
func (c *Client) postBatch(ctx context.Context, reqs []BatchRequest, write bool) (map[string]BatchResponse, error) {
	body, err := json.Marshal(struct {
		Requests []BatchRequest `json:"requests"`
	}{reqs})
	if err != nil {
		return nil, err
	}
	var br struct {
		Responses []BatchResponse `json:"responses"`
	}
	if err := c.do(ctx, call{method: http.MethodPost, url: c.base + "/$batch", body: body, write: write}, &br); err != nil {
		return nil, err
	}
	got := make(map[string]BatchResponse, len(br.Responses))
	received := c.clk.Now()
	for _, r := range br.Responses {
		r.received = received
		got[strings.ToLower(r.ID)] = r
	}
	return got, nil
}

// toRetry records each pending request's answer in results and returns
// the (lower-case) ids to send again, with the longest wait one of them
// asks for.
func (c *Client) toRetry(pending []BatchRequest, got, results map[string]BatchResponse, attempt int, write bool) (map[string]bool, time.Duration, error) {
	retry := map[string]bool{}
	var wait time.Duration
	for _, r := range pending {
		a, ok := got[strings.ToLower(r.ID)]
		if !ok {
			return nil, 0, fmt.Errorf("no answer for request %q", r.ID)
		}
		results[strings.ToLower(r.ID)] = a
		var w time.Duration
		switch a.Status {
		case http.StatusTooManyRequests:
			c.stats.throttled.Add(1)
			w = c.throttleWait(parseRetryAfter(a.Header("Retry-After"), a.received), attempt)
		case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			if write {
				continue // it may have been applied: the caller reconciles
			}
			w = c.throttleWait(parseRetryAfter(a.Header("Retry-After"), a.received), attempt)
		default:
			continue
		}
		retry[strings.ToLower(r.ID)] = true
		wait = max(wait, w)
	}
	// A request that failed only because what it depended on was
	// throttled (424 Failed Dependency) goes again with it.
	for changed := true; changed; {
		changed = false
		for _, r := range pending {
			id := strings.ToLower(r.ID)
			if retry[id] || results[id].Status != http.StatusFailedDependency {
				continue
			}
			for _, d := range r.DependsOn {
				if retry[strings.ToLower(d)] {
					retry[id], changed = true, true
					break
				}
			}
		}
	}
	return retry, wait, nil
}

// retried is the requests to send again; dependencies that already
// succeeded are not sent again.
func retried(pending []BatchRequest, retry map[string]bool) []BatchRequest {
	var next []BatchRequest
	for _, r := range pending {
		if !retry[strings.ToLower(r.ID)] {
			continue
		}
		var ds []string
		for _, d := range r.DependsOn {
			if retry[strings.ToLower(d)] {
				ds = append(ds, d)
			}
		}
		r.DependsOn = ds
		next = append(next, r)
	}
	return next
}
