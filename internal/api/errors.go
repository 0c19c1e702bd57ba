package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/dirsync/dirsync/internal/store"
)

// Error is what a handler returns to answer with an error: an HTTP status
// and a public message, in the one documented shape
//
//	{"error": {"code": "...", "message": "...", "field": "..."}}
//
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
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeSyncedAttribute  = "synced_attribute"
	CodeAlreadyExists    = "already_exists"
	CodeNotImplemented   = "not_implemented"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
	CodeTooLarge         = "too_large"
)

func badField(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidField, Field: field, Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}

func notFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: what + " not found"}
}

func notImplemented(msg string) *Error {
	return &Error{Status: http.StatusNotImplemented, Code: CodeNotImplemented, Message: msg}
}

// storeErr maps a store error: not found and already exists are the
// caller's; anything else is ours and stays in the logs.
func storeErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: what + " not found", Err: err}
	case errors.Is(err, store.ErrAlreadyExists):
		return &Error{Status: http.StatusConflict, Code: CodeAlreadyExists, Message: what + " already exists", Err: err}
	}
	return err
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
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(errorBody{errorJSON{e.Code, e.Message, e.Field}})
}
