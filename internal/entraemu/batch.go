package entraemu

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// JSON batching, per "Combine multiple HTTP requests using JSON batching":
// up to 20 requests with unique ids, relative URLs, optional headers and
// body, and dependsOn. Each request goes through the same handling as a
// request on the wire, throttling and faults included, so a batch answers
// 200 with a 429 inside. A request whose dependency failed gets 424.

type batchRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

func (s *Server) serveBatch(r *greq) *gresp {
	t := s.t
	if r.method != http.MethodPost {
		return r.errorf(t, 405, codeBadRequest, "Specified HTTP method is not allowed for the request target.")
	}
	var in struct {
		Requests []batchRequest `json:"requests"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	if err := dec.Decode(&in); err != nil || in.Requests == nil {
		return r.errorf(t, 400, "BadRequest", "Invalid batch payload format.")
	}
	if len(in.Requests) > maxBatchRequests {
		return r.errorf(t, 400, "BadRequest", "Invalid batch payload format: a batch holds at most %d requests, this one %d.", maxBatchRequests, len(in.Requests))
	}
	if len(in.Requests) == 0 {
		return r.errorf(t, 400, "BadRequest", "Invalid batch payload format: the batch holds no requests.")
	}
	index := map[string]int{}
	for i, br := range in.Requests {
		id := strings.ToLower(br.ID)
		if br.ID == "" || br.Method == "" || br.URL == "" {
			return r.errorf(t, 400, "BadRequest", "Invalid batch payload format: every request needs an id, a method and a url.")
		}
		if _, dup := index[id]; dup {
			return r.errorf(t, 400, "BadRequest", "Invalid batch payload format: the request id '%s' is not unique.", br.ID)
		}
		index[id] = i
		if len(br.Body) > 0 && !hasHeader(br.Headers, "Content-Type") {
			return r.errorf(t, 400, "BadRequest", "Invalid batch payload format: request '%s' has a body but no Content-Type header.", br.ID)
		}
	}
	for _, br := range in.Requests {
		for _, d := range br.DependsOn {
			if _, ok := index[strings.ToLower(d)]; !ok {
				return r.errorf(t, 400, "BadRequest", "Invalid batch payload format: request '%s' depends on '%s', which is not in the batch.", br.ID, d)
			}
		}
	}
	results := make([]*gresp, len(in.Requests))
	state := make([]int, len(in.Requests)) // 0 new, 1 running, 2 done
	var run func(i int) *gresp
	run = func(i int) *gresp {
		if state[i] == 2 {
			return results[i]
		}
		if state[i] == 1 {
			results[i] = r.errorf(t, 400, "BadRequest", "Request '%s' is part of a dependsOn cycle.", in.Requests[i].ID)
			state[i] = 2
			return results[i]
		}
		state[i] = 1
		br := in.Requests[i]
		failed := false
		for _, d := range br.DependsOn {
			if dr := run(index[strings.ToLower(d)]); dr.status >= 400 {
				failed = true
			}
		}
		if failed {
			results[i] = r.errorf(t, 424, "FailedDependency", "The request was not run because a request it depends on failed.")
		} else {
			results[i] = s.runSub(r, br)
		}
		state[i] = 2
		return results[i]
	}
	var b bytes.Buffer
	b.WriteString(`{"responses":[`)
	for i := range in.Requests {
		resp := run(i)
		if i > 0 {
			b.WriteByte(',')
		}
		var o obj
		o.begin(nil)
		o.str("id", in.Requests[i].ID)
		o.raw("status", strconv.AppendInt(nil, int64(resp.status), 10))
		o.key("headers")
		var h obj
		h.begin(o.b)
		for _, k := range []string{"Location", "Retry-After", "Cache-Control", "x-ms-resource-unit", "x-ms-throttle-limit-percentage", "x-ms-throttle-scope", "x-ms-throttle-information", "Preference-Applied", "OData-Version", "Content-Type"} {
			if v := resp.header.Get(k); v != "" {
				h.str(k, v)
			}
		}
		o.b = h.end()
		if len(resp.body) > 0 {
			o.key("body")
			if json.Valid(resp.body) && (resp.body[0] == '{' || resp.body[0] == '[') {
				o.b = append(o.b, resp.body...)
			} else {
				o.b = appendString(o.b, string(resp.body))
			}
		}
		b.Write(o.end())
	}
	b.WriteString(`]}`)
	return okJSON(200, b.Bytes())
}

func hasHeader(h map[string]string, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// runSub runs one request of a batch with the batch's token.
func (s *Server) runSub(outer *greq, br batchRequest) *gresp {
	t := s.t
	u := br.URL
	if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
		return outer.errorf(t, 400, "BadRequest", "Invalid request URL '%s': requests in a batch use URLs relative to the version, such as /users.", u)
	}
	if !strings.HasPrefix(u, "/") {
		u = "/" + u
	}
	path, raw, _ := strings.Cut(u, "?")
	path = strings.TrimPrefix(path, "/v1.0")
	q, err := normalizeQuery(raw)
	if err != nil {
		return outer.errorf(t, 400, "BadRequest", "The query specified in the URI is not valid.")
	}
	h := http.Header{}
	for k, v := range br.Headers {
		h.Set(k, v)
	}
	var body []byte
	if len(br.Body) > 0 && string(br.Body) != "null" {
		body = br.Body
	}
	req := &greq{
		ctx: outer.ctx, method: strings.ToUpper(br.Method), path: path, segs: splitPath(path), raw: raw, query: q,
		header: h, body: body, base: outer.base, tok: outer.tok, ids: outer.ids, sub: true,
	}
	if len(req.segs) == 1 && req.segs[0] == "$batch" {
		return outer.errorf(t, 400, "BadRequest", "A batch cannot contain a batch.")
	}
	return t.handle(req)
}
