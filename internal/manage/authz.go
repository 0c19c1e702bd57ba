package manage

import (
	"fmt"
	"slices"
	"strings"
)

// Role is what an actor may do in its account: Duo's administrator roles,
// each able to do everything the ones below it can.
type Role string

// Roles, from the least to the most powerful.
const (
	RoleReadOnly      Role = "read_only"     // read everything but tokens
	RoleHelpDesk      Role = "help_desk"     // and sync one user
	RoleUserManager   Role = "user_manager"  // and edit users' local attributes, restore from the trash
	RoleAdministrator Role = "administrator" // and manage sources, schedules, syncs, webhooks; purge the trash
	RoleOwner         Role = "owner"         // and manage API tokens
)

// Roles lists every role, least powerful first.
var Roles = []Role{RoleReadOnly, RoleHelpDesk, RoleUserManager, RoleAdministrator, RoleOwner}

func (r Role) rank() int { return slices.Index(Roles, r) }

// Allows reports whether role r may do what needs min.
func (r Role) Allows(min Role) bool { return r.rank() >= 0 && r.rank() >= min.rank() }

// ParseRole reads a role, accepting Duo's spelling ("User Manager",
// "user-manager", "Read-only").
func ParseRole(s string) (Role, error) {
	n := strings.NewReplacer(" ", "_", "-", "_").Replace(strings.ToLower(strings.TrimSpace(s)))
	if r := Role(n); r.rank() >= 0 {
		return r, nil
	}
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return "", invalid("role", "unknown role %q: want one of %s", s, strings.Join(names, ", "))
}

// Via says through which front end an actor acts, for the audit trail.
type Via string

// Front ends.
const (
	ViaCLI      Via = "cli"
	ViaAPI      Via = "api"
	ViaConsole  Via = "console"
	ViaSchedule Via = "schedule"
)

// Actor is who calls a use case: an API token, a console user, the person
// at the command line, the scheduler. Every use case checks the actor's
// role itself, so no front end can allow what another refuses.
type Actor struct {
	AccountID   string
	AccountName string
	Role        Role
	Via         Via
	// Name identifies the actor in the audit trail: a token's id, a console
	// user's email, "command line".
	Name string
	// Operator is the person running dirsync on the deployment's own
	// database (the command line): the owner of every account, who may
	// also create and list accounts.
	Operator bool
	// UserID and SessionID are the console user's and its session's ids,
	// for a console session; empty for every other actor.
	UserID    string
	SessionID string
}

// Action is something a role may or may not do.
type Action string

// Actions, each with the least role that may do it (see minRole).
const (
	ActRead          Action = "read the directory, sources, runs, events and webhooks"
	ActSyncUser      Action = "sync one user"
	ActEditUsers     Action = "change users' local attributes"
	ActEnroll        Action = "confirm enrollments and resend enrollment links"
	ActRestore       Action = "restore from the trash"
	ActManageSources Action = "manage sources"
	ActSync          Action = "sync sources"
	ActManageHooks   Action = "manage webhooks"
	ActManageMail    Action = "manage the enrollment template and who is notified"
	ActPurge         Action = "purge the trash"
	ActManageTokens  Action = "manage API tokens"
	ActManageConsole Action = "manage console users"
	ActManageAccount Action = "change the account's settings"
)

// minRole is the one table of who may do what.
var minRole = map[Action]Role{
	ActRead:          RoleReadOnly,
	ActSyncUser:      RoleHelpDesk,
	ActEditUsers:     RoleUserManager,
	ActEnroll:        RoleUserManager,
	ActRestore:       RoleUserManager,
	ActManageSources: RoleAdministrator,
	ActSync:          RoleAdministrator,
	ActManageHooks:   RoleAdministrator,
	ActManageMail:    RoleAdministrator,
	ActPurge:         RoleAdministrator,
	ActManageTokens:  RoleOwner,
	ActManageConsole: RoleOwner,
	ActManageAccount: RoleOwner,
}

// MinRole is the least role that may do act.
func MinRole(act Action) Role { return minRole[act] }

// Can reports whether the actor may do act; front ends use it to show only
// what may be done, and every use case checks it again.
func (a Actor) Can(act Action) bool {
	min, ok := minRole[act]
	return ok && (a.Operator || a.Role.Allows(min))
}

// require fails with Forbidden unless the actor may do act.
func (a Actor) require(act Action) error {
	if a.AccountID == "" {
		return newError(Forbidden, "no account: every action happens in an account")
	}
	if a.Can(act) {
		return nil
	}
	return &Error{Kind: Forbidden, Message: fmt.Sprintf("role %s may not %s; it needs %s or higher", a.Role, act, minRole[act])}
}

// RoleHelp describes each role, for --help texts and the console.
func RoleHelp() string {
	var b strings.Builder
	for _, r := range Roles {
		var can []string
		for _, act := range []Action{ActRead, ActSyncUser, ActEditUsers, ActEnroll, ActRestore, ActManageSources, ActSync, ActManageHooks, ActManageMail, ActPurge, ActManageTokens, ActManageConsole, ActManageAccount} {
			if minRole[act] == r {
				can = append(can, string(act))
			}
		}
		lead := "and "
		if r == RoleReadOnly {
			lead = ""
		}
		fmt.Fprintf(&b, "  %-14s %s%s\n", r, lead, strings.Join(can, ", "))
	}
	return b.String()
}
