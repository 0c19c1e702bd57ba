package model

import (
	"errors"
	"fmt"
)

// ErrNotFound is matched (errors.Is) by errors for objects that do not
// exist; ErrConflict by errors for values another object already holds.
var (
	ErrNotFound = errors.New("entraemu: not found")
	ErrConflict = errors.New("entraemu: conflict")
)

// Error is a refusal as Graph answers it: an HTTP status, an error code and
// a message. The admin methods return it, and the Graph endpoints write it
// as {"error":{"code","message","innerError"}}.
type Error struct {
	Status  int
	Code    string
	Message string
	// Conflict marks a refusal because another object holds the value; its
	// code on the wire is still Code.
	Conflict bool
}

func (e *Error) Error() string { return "entraemu: " + e.Message }

// Is matches ErrNotFound and ErrConflict.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == 404
	case ErrConflict:
		return e.Conflict
	}
	return false
}

// Graph's error codes for directory objects.
const (
	CodeBadRequest  = "Request_BadRequest"
	CodeNotFound    = "Request_ResourceNotFound"
	CodeUnsupported = "Request_UnsupportedQuery"
	CodeDenied      = "Authorization_RequestDenied"
)

// Errorf returns an Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFound is Graph's 404 for an object id.
func NotFound(id string) *Error {
	return Errorf(404, CodeNotFound, "Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
}

// BadRequest is Graph's 400 Request_BadRequest.
func BadRequest(format string, args ...any) *Error {
	return Errorf(400, CodeBadRequest, format, args...)
}

// Conflict is Graph's 400 for a value another object already holds, as
// "Create user" documents it for userPrincipalName.
func Conflict(prop string) *Error {
	e := BadRequest("Another object with the same value for property %s already exists.", prop)
	e.Conflict = true
	return e
}

// AsError returns err as an *Error, or a 500 for any other error.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Errorf(500, "generalException", "An internal server error occurred.")
}
