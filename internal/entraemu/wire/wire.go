// Package wire holds what the emulator's endpoints share on the wire: the
// response a handler builds (written to the connection or into a $batch
// response), Graph's error body, and the request ids every response
// carries.
package wire

import (
	"net/http"
	"strconv"
	"time"

	"github.com/dirsync/dirsync/internal/entraemu/jsonw"
	"github.com/dirsync/dirsync/internal/entraemu/model"
)

// Response is a response built by a handler.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Write writes r to w.
func (r *Response) Write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range r.Header {
		h[k] = v
	}
	if len(r.Body) > 0 && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	h.Set("Content-Length", strconv.Itoa(len(r.Body)))
	w.WriteHeader(r.Status)
	w.Write(r.Body)
}

// IDs are a request's request-id and client-request-id.
type IDs struct{ Request, Client string }

// Header names of the request ids.
const (
	RequestIDHeader       = "request-id"
	ClientRequestIDHeader = "client-request-id"
)

// IDsOf reads the ids from a response's headers, where WithIDs put them.
func IDsOf(h http.Header) IDs {
	return IDs{h.Get(RequestIDHeader), h.Get(ClientRequestIDHeader)}
}

// WithIDs gives every response a request-id, and a client-request-id that
// echoes the client's or repeats the request-id, as Graph does.
func WithIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := model.RandomGUID()
		client := r.Header.Get(ClientRequestIDHeader)
		if client == "" {
			client = id
		}
		h := w.Header()
		h.Set(RequestIDHeader, id)
		h.Set(ClientRequestIDHeader, client)
		h.Set("Strict-Transport-Security", "max-age=31536000")
		next.ServeHTTP(w, r)
	})
}

// GraphError is Graph's error body:
// {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}.
func GraphError(status int, code, msg string, ids IDs, now time.Time) *Response {
	var o jsonw.Object
	o.Begin(nil)
	o.Key("error")
	var e jsonw.Object
	e.Begin(o.B)
	e.Str("code", code)
	e.Str("message", msg)
	e.Key("innerError")
	var ie jsonw.Object
	ie.Begin(e.B)
	ie.Str("date", now.UTC().Format("2006-01-02T15:04:05"))
	ie.Str("request-id", ids.Request)
	ie.Str("client-request-id", ids.Client)
	e.B = ie.End()
	o.B = e.End()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	return &Response{Status: status, Header: h, Body: o.End()}
}

// Fail is GraphError for a model.Error.
func Fail(err *model.Error, ids IDs, now time.Time) *Response {
	return GraphError(err.Status, err.Code, err.Message, ids, now)
}

// OK wraps a JSON body in Graph's success headers.
func OK(status int, body []byte) *Response {
	h := http.Header{}
	h.Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-cache")
	return &Response{Status: status, Header: h, Body: body}
}

// NoContent is a 204.
func NoContent() *Response {
	h := http.Header{}
	h.Set("Cache-Control", "no-cache")
	return &Response{Status: 204, Header: h}
}

// Text is a plain-text body, as /$count answers.
func Text(status int, body string) *Response {
	h := http.Header{}
	h.Set("Content-Type", "text/plain")
	return &Response{Status: status, Header: h, Body: []byte(body)}
}

// JSON marshals v with encoding/json, for the login endpoints, whose
// member order does not matter.
func JSON(status int, v any) *Response {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	return &Response{Status: status, Header: h, Body: jsonw.Marshal(v)}
}
