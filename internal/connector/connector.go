// Package connector defines what dirsync asks of a directory it reads.
//
// The base interface is small: check the settings, and stream the whole
// source. A connector that can do more (read only what changed since a
// cursor, look up one user) implements an optional interface as well, and
// the engine discovers it by type assertion, as dex does with its
// connectors. Each kind of directory lives in its own package below this one.
package connector

import (
	"context"
	"errors"
	"fmt"

	"github.com/dirsync/dirsync/internal/directory"
)

// Connector reads one source directory.
type Connector interface {
	// Check verifies the settings against the live directory: that it can be
	// reached, that the credentials work, that the permissions a sync needs
	// are granted. It returns what it checked; a failure is an *Error.
	Check(ctx context.Context) ([]CheckResult, error)

	// Snapshot reads every user, group and direct membership in the source
	// and hands each to sink as it arrives, never holding the whole
	// directory in memory. It may call sink from several goroutines.
	Snapshot(ctx context.Context, sink Sink) error
}

// Sink receives what a connector reads. Its methods are safe for concurrent
// use; an error from one stops the read.
type Sink interface {
	User(directory.SourceUser) error
	Group(directory.SourceGroup) error
	Membership(directory.SourceMembership) error
	// Skip records an object the directory cannot hold (a device or a
	// contact in a group, an entry missing its anchor) and why.
	Skip(Skipped) error
}

// Skipped is a source object that was not imported.
type Skipped struct {
	Kind       string `json:"kind"` // device, orgContact, servicePrincipal, user...
	ExternalID string `json:"external_id"`
	// Code is the reason's stable code (directory.Skip*); Reason says it
	// for people, the same words for every object skipped alike.
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// CheckResult is one step of a connection test.
type CheckResult struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// Stats are the connector's counters for the run so far.
type Stats struct {
	Requests  int `json:"requests"`
	Throttled int `json:"throttled"`
	Retries   int `json:"retries"`
}

// Counter is implemented by connectors that count their requests.
type Counter interface {
	Stats() Stats
}

// ErrorKind classifies a connector failure by what an administrator must do.
type ErrorKind string

// Error kinds. The engine decides from the kind, never from the message,
// whether a failure may be retried; none of them ever leads to deletions.
const (
	KindNetwork     ErrorKind = "network"     // unreachable, DNS, TLS, connection reset
	KindTLS         ErrorKind = "tls"         // the server's certificate is not trusted
	KindAuth        ErrorKind = "auth"        // credentials refused: wrong, expired, unknown tenant or app
	KindPermission  ErrorKind = "permission"  // authenticated, but not allowed to read
	KindNotFound    ErrorKind = "not_found"   // the tenant, base DN or object does not exist
	KindThrottled   ErrorKind = "throttled"   // still throttled when the retry budget ran out
	KindInvalid     ErrorKind = "invalid"     // the settings themselves are wrong
	KindCursor      ErrorKind = "cursor"      // an incremental cursor expired or was refused
	KindUnavailable ErrorKind = "unavailable" // the service answered 5xx past the retry budget
	KindProtocol    ErrorKind = "protocol"    // the source answered something we cannot read
)

// Error is a connector failure with a message written for an administrator.
type Error struct {
	Kind ErrorKind
	// Code is the source's own code, such as AADSTS7000215 or an LDAP result code.
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Code != "" {
		msg = e.Code + ": " + msg
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind with a formatted message.
func Errorf(kind ErrorKind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of the first *Error in err's chain, or "".
func KindOf(err error) ErrorKind {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Kind
	}
	return ""
}

// Incremental is implemented by connectors that can read only what changed
// since a cursor (a Graph delta link, an AD DirSync cookie, a USN mark).
//
// A cursor is an optimization over Snapshot, never a replacement for it:
// when Changes answers an *Error of KindCursor, the engine runs a full
// Snapshot and reconciles.
type Incremental interface {
	Connector
	// Cursor returns a cursor that marks "now", taken before a Snapshot so
	// that whatever changes while the snapshot is read comes in the next
	// Changes.
	Cursor(ctx context.Context) (string, error)
	// Changes reads what changed since cursor, hands it to sink, and returns
	// the cursor to save in the same transaction as those changes. The same
	// object may arrive more than once; the last arrival wins.
	Changes(ctx context.Context, cursor string, sink ChangeSink) (next string, err error)
}

// DeletionReporter is implemented by incremental connectors whose reads
// from some cursors do not report deletions: objects removed from the
// source and memberships that ended (a generic LDAP server, read by
// modifyTimestamp). The engine reconciles those in full more often (see
// scope.Settings.CursorAge). An incremental connector without it reports
// deletions from every cursor.
type DeletionReporter interface {
	// ReportsDeletions reports whether Changes from cursor reports
	// deletions.
	ReportsDeletions(cursor string) bool
}

// ChangeSink receives an incremental read. User and Group carry whole
// objects; UserPatch and GroupPatch carry only some attributes.
type ChangeSink interface {
	Sink
	// UserPatch reports a user of which only the named attributes are
	// known; the others must keep their stored values.
	UserPatch(u directory.SourceUser, fields []directory.UserField) error
	// GroupPatch is UserPatch for groups.
	GroupPatch(g directory.SourceGroup, fields []directory.GroupField) error
	// RemoveUser reports a user gone from the source: hard is false when the
	// source can still restore it (Entra's deleted items).
	RemoveUser(externalID string, hard bool) error
	RemoveGroup(externalID string, hard bool) error
	// RemoveMembership reports a direct membership that ended.
	RemoveMembership(m directory.SourceMembership) error
}

// Identity says which directory a source reads, however its settings name
// it: an Entra tenant named by its id or by any of its domains is one
// tenant; an Active Directory domain read through any server and under
// any base DN is one domain. It is what "one domain, one source" claims.
type Identity struct {
	// Key is stable and unique across directories: "entra:" and the
	// tenant's id, "ad:" and the domain's objectSid, "ldap:" and the
	// naming context (a generic LDAP server has no better name).
	Key string
	// Names are what settings may call the directory, lowercase: the
	// tenant's id and verified domains; the domain's DNS name and SID.
	Names []string
}

// Identifier is implemented by connectors that can tell which directory
// they read (one request or two to the live directory).
type Identifier interface {
	Identity(ctx context.Context) (Identity, error)
}

// UserLookup is implemented by connectors that can read one user and the
// groups it is a direct member of, for single-user sync.
type UserLookup interface {
	LookupUser(ctx context.Context, idOrName string) (directory.SourceUser, []directory.SourceMembership, error)
}

// GroupParents is implemented by connectors that can list the groups a
// group is a direct member of, so that a single-user run can follow nested
// groups up from the user to a group filter's selection, as a full run
// follows them down.
type GroupParents interface {
	// ParentGroups returns, for each of the groups (external ids), the
	// direct memberships that make it a member of a group in the source's
	// scope. A group the source no longer has has none.
	ParentGroups(ctx context.Context, groupIDs []string) ([]directory.SourceMembership, error)
}

// Searcher is implemented by connectors that can find groups and users by
// name in the source, for pickers that select groups or single users.
// more reports that the source has more matches than limit.
type Searcher interface {
	SearchGroups(ctx context.Context, query string, limit int) (found []directory.SourceGroup, more bool, err error)
	SearchUsers(ctx context.Context, query string, limit int) (found []directory.SourceUser, more bool, err error)
}

// Container is a node of a directory's tree that holds objects: an LDAP
// organizational unit, container or domain.
type Container struct {
	DN   string `json:"dn"`
	Name string `json:"name"`
	// Class is the container's kind: organizationalUnit, container,
	// domain...
	Class string `json:"class"`
}

// ContainerBrowser is implemented by connectors whose directory is a tree
// of containers (LDAP's OUs), for a picker of the subtrees to include or
// exclude (Azure AD Connect's domain and OU filtering).
type ContainerBrowser interface {
	// Containers lists the containers directly under dn, the source's base
	// DN when dn is empty, by name, at most limit of them; more reports
	// that there are more.
	Containers(ctx context.Context, dn string, limit int) (found []Container, more bool, err error)
}
