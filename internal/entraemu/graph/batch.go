package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dirsync/dirsync/internal/entraemu/jsonw"
	"github.com/dirsync/dirsync/internal/entraemu/wire"
)

// JSON batching, per "Combine multiple HTTP requests using JSON batching":
// up to 20 requests with unique ids, relative URLs, optional headers and
// body, and dependsOn. Each request goes through the same route table and
// middleware as a request on the wire, throttling and faults included, so a
// batch answers 200 with a 429 inside. A request whose dependency failed
// gets 424.

const maxBatchRequests = 20

type batchStep struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

// hasBody reports whether the step has a body: "body": null is none.
func (s *batchStep) hasBody() bool {
	b := bytes.TrimSpace(s.Body)
	return len(b) > 0 && !bytes.Equal(b, []byte("null"))
}

func (a *API) serveBatch(w http.ResponseWriter, hr *http.Request) {
	a.cfg.Stats.Kind("batch")
	ids := wire.IDsOf(w.Header())
	r, resp := a.parse(hr, ids)
	if resp == nil {
		resp = a.batch(r)
	}
	resp.Write(w)
}

func (a *API) batch(r *request) *wire.Response {
	if r.sub() {
		return a.failf(r, 400, "BadRequest", "A batch cannot contain a batch.")
	}
	var in struct {
		Requests []batchStep `json:"requests"`
	}
	if err := json.NewDecoder(bytes.NewReader(r.body)).Decode(&in); err != nil || in.Requests == nil {
		return a.failf(r, 400, "BadRequest", "Invalid batch payload format.")
	}
	index, resp := a.checkBatch(r, in.Requests)
	if resp != nil {
		return resp
	}
	results := make([]*wire.Response, len(in.Requests))
	state := make([]int, len(in.Requests)) // 0 new, 1 running, 2 done
	var run func(i int) *wire.Response
	run = func(i int) *wire.Response {
		switch state[i] {
		case 2:
			return results[i]
		case 1:
			return a.failf(r, 400, "BadRequest", "Request '%s' is part of a dependsOn cycle.", in.Requests[i].ID)
		}
		state[i] = 1
		step := in.Requests[i]
		failed := false
		for _, d := range step.DependsOn {
			if run(index[strings.ToLower(d)]).Status >= 400 {
				failed = true
			}
		}
		if failed {
			results[i] = a.failf(r, 424, "FailedDependency", "The request was not run because a request it depends on failed.")
		} else {
			results[i] = a.runStep(r, &step)
		}
		state[i] = 2
		return results[i]
	}
	var b bytes.Buffer
	b.WriteString(`{"responses":[`)
	for i := range in.Requests {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(appendStepResponse(nil, in.Requests[i].ID, run(i)))
	}
	b.WriteString(`]}`)
	return wire.OK(200, b.Bytes())
}

// checkBatch refuses a batch Graph refuses as a whole, and indexes its
// steps by id.
func (a *API) checkBatch(r *request, steps []batchStep) (map[string]int, *wire.Response) {
	switch {
	case len(steps) > maxBatchRequests:
		return nil, a.failf(r, 400, "BadRequest", "Invalid batch payload format: a batch holds at most %d requests, this one %d.", maxBatchRequests, len(steps))
	case len(steps) == 0:
		return nil, a.failf(r, 400, "BadRequest", "Invalid batch payload format: the batch holds no requests.")
	}
	index := map[string]int{}
	for i, s := range steps {
		id := strings.ToLower(s.ID)
		if s.ID == "" || s.Method == "" || s.URL == "" {
			return nil, a.failf(r, 400, "BadRequest", "Invalid batch payload format: every request needs an id, a method and a url.")
		}
		if _, dup := index[id]; dup {
			return nil, a.failf(r, 400, "BadRequest", "Invalid batch payload format: the request id '%s' is not unique.", s.ID)
		}
		index[id] = i
		if s.hasBody() && !hasHeader(s.Headers, "Content-Type") {
			return nil, a.failf(r, 400, "BadRequest", "Invalid batch payload format: request '%s' has a body but no Content-Type header.", s.ID)
		}
	}
	for _, s := range steps {
		for _, d := range s.DependsOn {
			if _, ok := index[strings.ToLower(d)]; !ok {
				return nil, a.failf(r, 400, "BadRequest", "Invalid batch payload format: request '%s' depends on '%s', which is not in the batch.", s.ID, d)
			}
		}
	}
	return index, nil
}

// headers a step's response carries over from the sub-request's.
var stepHeaders = []string{"Location", "Retry-After", "Cache-Control", "x-ms-resource-unit", "x-ms-throttle-limit-percentage", "x-ms-throttle-scope", "x-ms-throttle-information", "Preference-Applied", "OData-Version", "Content-Type"}

func appendStepResponse(b []byte, id string, resp *wire.Response) []byte {
	var o jsonw.Object
	o.Begin(b)
	o.Str("id", id)
	o.Raw("status", strconv.AppendInt(nil, int64(resp.Status), 10))
	o.Key("headers")
	var h jsonw.Object
	h.Begin(o.B)
	for _, k := range stepHeaders {
		if v := resp.Header.Get(k); v != "" {
			h.Str(k, v)
		}
	}
	o.B = h.End()
	if len(resp.Body) > 0 {
		o.Key("body")
		if json.Valid(resp.Body) && (resp.Body[0] == '{' || resp.Body[0] == '[') {
			o.B = append(o.B, resp.Body...)
		} else {
			o.B = jsonw.AppendString(o.B, string(resp.Body))
		}
	}
	return o.End()
}

func hasHeader(h map[string]string, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// runStep runs one request of a batch, as the batch's caller, through the
// route table. Its URL is relative to the version and percent-decoded like
// a URL on the wire.
func (a *API) runStep(outer *request, step *batchStep) *wire.Response {
	u := step.URL
	if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
		return a.failf(outer, 400, "BadRequest", "Invalid request URL '%s': requests in a batch use URLs relative to the version, such as /users.", u)
	}
	parsed, err := url.Parse("/" + strings.TrimPrefix(strings.TrimPrefix(u, "/"), "v1.0/"))
	if err != nil {
		return a.failf(outer, 400, "BadRequest", "Invalid request URL '%s'.", u)
	}
	var body io.Reader = http.NoBody
	if step.hasBody() {
		body = bytes.NewReader(step.Body)
	}
	ctx := context.WithValue(outer.r.Context(), subKey{}, true)
	hr, err := http.NewRequestWithContext(ctx, strings.ToUpper(step.Method), "https://"+outer.r.Host+"/v1.0"+parsed.EscapedPath()+"?"+parsed.RawQuery, body)
	if err != nil {
		return a.failf(outer, 400, "BadRequest", "Invalid request URL '%s'.", u)
	}
	hr.Host = outer.r.Host
	for k, v := range step.Headers {
		hr.Header.Set(k, v)
	}
	a.cfg.Stats.BatchSubrequests.Add(1)
	rec := &recorder{header: http.Header{}}
	rec.header.Set(wire.RequestIDHeader, outer.ids.Request)
	rec.header.Set(wire.ClientRequestIDHeader, outer.ids.Client)
	a.sub.ServeHTTP(rec, hr)
	return &wire.Response{Status: rec.status, Header: rec.header, Body: rec.body.Bytes()}
}

// recorder captures a sub-request's response.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}
