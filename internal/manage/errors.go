package manage

import (
	"errors"
	"fmt"
)

// Kind classifies what went wrong in a use case by what the caller can do
// about it. Front ends map kinds, never messages: the CLI to exit codes and
// the API to HTTP statuses, each in one table.
type Kind string

// Error kinds.
const (
	// NotFound: what the caller named does not exist (in its account).
	NotFound Kind = "not_found"
	// Invalid: the input is wrong; Field names the part at fault. Nothing
	// was changed.
	Invalid Kind = "invalid"
	// Conflict: the change breaks a rule of the directory's state (a
	// synced attribute is read-only, a name or a domain is taken, the
	// object is not in the trash). Nothing was changed.
	Conflict Kind = "conflict"
	// Forbidden: the actor's role may not do this.
	Forbidden Kind = "forbidden"
	// Unauthenticated: the caller's credential (an API token) is missing,
	// unknown or revoked.
	Unauthenticated Kind = "unauthenticated"
	// Busy: another run of the same source is in progress.
	Busy Kind = "busy"
	// Stopped: a safety rule stopped the run (the deletion limit, a source
	// that suddenly looks empty); nothing was applied.
	Stopped Kind = "stopped"
	// SourceFailed: the source could not be read (unreachable, refused the
	// credentials, a permission missing, throttled past the budget).
	SourceFailed Kind = "source_failed"
	// Unsupported: the source's kind cannot do what was asked (look up a
	// single user, be searched).
	Unsupported Kind = "unsupported"
	// Unavailable: the service cannot do it now (it is shutting down, no
	// sync workers run in this process, no master key is loaded).
	Unavailable Kind = "unavailable"
	// Gone: what the caller named is no longer kept (an events cursor older
	// than the retention); start over from a fresh snapshot.
	Gone Kind = "gone"
)

// Codes refine a kind for programs (the API's error code); a front end
// that has no use for them shows the kind.
const (
	CodeAlreadyExists   = "already_exists"
	CodeSyncedAttribute = "synced_attribute"
	CodeDomainClaimed   = "domain_claimed"
	CodeNotInTrash      = "not_in_trash"
	CodeTurnedOff       = "turned_off"
	CodeCursorExpired   = "cursor_expired"
	// CodePreconditionFailed: the object changed since the version a
	// change was made against (see version.go).
	CodePreconditionFailed = "precondition_failed"
)

// Error is what every use case returns for a failure its caller may act on:
// a kind, the public message (written for the person at the front end, in
// one sentence, never a chain of wrapped errors), and for invalid input the
// field at fault. Err is the internal cause: for the logs, never shown.
//
// Errors that are not *Error are unexpected (a database down, a bug): front
// ends show them as internal errors and log them.
type Error struct {
	Kind    Kind
	Code    string // optional refinement of Kind, see the Code constants
	Field   string // for Invalid: the input field at fault, by its API name
	Message string
	// RunID is the run that records this failure, when there is one: a
	// front end that shows the run need not repeat its reason.
	RunID string
	Err   error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the first *Error in err's chain, or "" for an
// unexpected error (and for nil).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// AsError returns the first *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

func newError(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

func invalid(field, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *Error {
	return newError(NotFound, format, args...)
}

func conflict(code, format string, args ...any) *Error {
	return &Error{Kind: Conflict, Code: code, Message: fmt.Sprintf(format, args...)}
}

// with sets the internal cause.
func (e *Error) with(cause error) *Error {
	e.Err = cause
	return e
}
