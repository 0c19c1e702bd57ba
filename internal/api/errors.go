package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/dirsync/dirsync/internal/manage"
)

// Error is what a handler returns to answer with an error of the API's
// own (a body that is not JSON, an unknown route): an HTTP status and a
// public message, in the one documented shape
//
//	{"error": {"code": "...", "message": "...", "field": "..."}}
//
// Errors of the use cases are *manage.Error, answered through kindStatus.
// Err is the internal cause: logged, never sent.
type Error struct {
	Status  int
	Code    string
	Message string
	Field   string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Error codes, stable for programs.
const (
	CodeBadRequest       = "bad_request"
	CodeInvalidField     = "invalid_field"
	CodeUnknownParameter = "unknown_parameter"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeSyncedAttribute  = manage.CodeSyncedAttribute
	CodeAlreadyExists    = manage.CodeAlreadyExists
	CodeBusy             = "busy"
	CodeStopped          = "stopped"
	CodeSourceFailed     = "source_failed"
	CodeNotImplemented   = "not_implemented"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
	CodeTooLarge         = "too_large"
)

// kindStatus is the one table from a use case's error kind to the HTTP
// status and error code the API answers with.
var kindStatus = map[manage.Kind]struct {
	status int
	code   string
}{
	manage.NotFound:        {http.StatusNotFound, CodeNotFound},
	manage.Invalid:         {http.StatusBadRequest, CodeInvalidField},
	manage.Conflict:        {http.StatusConflict, CodeConflict},
	manage.Forbidden:       {http.StatusForbidden, CodeForbidden},
	manage.Unauthenticated: {http.StatusUnauthorized, CodeUnauthorized},
	manage.Busy:            {http.StatusConflict, CodeBusy},
	manage.Stopped:         {http.StatusConflict, CodeStopped},
	manage.SourceFailed:    {http.StatusBadGateway, CodeSourceFailed},
	manage.Unsupported:     {http.StatusNotImplemented, CodeNotImplemented},
	manage.Unavailable:     {http.StatusServiceUnavailable, CodeUnavailable},
	manage.Gone:            {http.StatusGone, manage.CodeCursorExpired},
}

// StatusOf is the HTTP status the API answers a use case's error with.
func StatusOf(kind manage.Kind) int {
	if s, ok := kindStatus[kind]; ok {
		return s.status
	}
	return http.StatusInternalServerError
}

// fromManage turns a use case's error into the API's answer.
func fromManage(e *manage.Error) *Error {
	s, ok := kindStatus[e.Kind]
	if !ok {
		return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error; see the server log", Err: e}
	}
	code, status := s.code, s.status
	if e.Code == manage.CodePreconditionFailed {
		status = http.StatusPreconditionFailed
	}
	switch {
	case e.Code != "":
		code = e.Code
	case e.Kind == manage.Invalid && e.Field == "":
		code = CodeBadRequest
	}
	return &Error{Status: status, Code: code, Message: e.Message, Field: e.Field, Err: e.Err}
}

func badField(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidField, Field: field, Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}

type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, e *Error) {
	w.Header().Set("Content-Type", "application/json")
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="dirsync"`)
	}
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(errorBody{errorJSON{e.Code, e.Message, e.Field}})
}
