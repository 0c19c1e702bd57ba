// Package store defines how dirsync keeps its directory: the Store
// interface, the errors every backend returns, and nothing else. Backends
// live in subpackages (sqlite, postgres) and all pass the conformance suite
// in storetest.
//
// A sync run reaches the directory in two steps. While it reads its source,
// the engine stages what it reads (StageUsers and friends) outside any
// transaction, so a slow source never holds the database's write lock and
// memory never holds the whole source. When the read is complete, Update
// runs the whole apply in one transaction: the directory either takes every
// change of the run or none.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
)

// Errors every backend returns, wrapped with context; test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists is returned when a create or update would break a
	// uniqueness rule: an account or source name, a username or email
	// within an account, a source link.
	ErrAlreadyExists = errors.New("already exists")
	// ErrLeaseHeld is returned when another process is running a source.
	ErrLeaseHeld = errors.New("another run of this source is in progress")
	// ErrInvalidCursor is returned when a listing's After is not a Next
	// the same listing returned.
	ErrInvalidCursor = errors.New("invalid page cursor")
	// ErrUnavailable wraps a write that failed because the database
	// connection was lost or the server refused it for now (shutting
	// down, too many connections): nothing of it was applied, and the
	// same write may succeed later.
	ErrUnavailable = errors.New("the database is unavailable")
)

// Store is a directory database.
type Store interface {
	Reader
	Stager

	// Update runs fn in one transaction and commits it if fn returns nil.
	// An error from fn, a panic or a cancelled context rolls everything back.
	Update(ctx context.Context, fn func(Tx) error) error
	// UpdateApply is Update for a sync's apply: it waits until no other
	// UpdateApply runs, in any process on the database. Applies of many
	// sources at once otherwise abort each other on PostgreSQL
	// (serialization failures, over and over); SQLite has one writer at a
	// time anyway.
	UpdateApply(ctx context.Context, fn func(Tx) error) error

	// Snapshot runs fn over one consistent, read-only view of the
	// database, as it was when fn first read: writes committed meanwhile
	// are not seen, and the view takes no write lock (a sync applies
	// while an export reads).
	Snapshot(ctx context.Context, fn func(Reader) error) error

	// CheckpointSoon moves into the database, in the background, what
	// writes made WithoutCheckpoint left in its write-ahead log, as the
	// database's own automatic checkpoint would (SQLite, PASSIVE: it
	// neither waits for nor blocks readers and writers; nothing to do on
	// PostgreSQL). Close waits for it; after Close it does nothing.
	CheckpointSoon()

	Close() error
}

// Reader reads the directory and what the service keeps beside it (see
// service.go). Every account-scoped method reads one account's data: an id
// from another account is ErrNotFound.
type Reader interface {
	Account(ctx context.Context, nameOrID string) (directory.Account, error)
	Accounts(ctx context.Context) ([]directory.Account, error)

	// Source finds a source of the account by name or id.
	Source(ctx context.Context, accountID, nameOrID string) (directory.Source, error)
	Sources(ctx context.Context, accountID string) ([]directory.Source, error)
	// SealedSource is a source of any account that holds a sealed secret
	// (the first by id), in one read: what a readiness probe opens to tell
	// that the master key is the database's. ErrNotFound when none has one.
	SealedSource(ctx context.Context) (directory.Source, error)
	// SourceState returns the source's saved cursor and anything else an
	// incremental read needs; empty when there is none.
	SourceState(ctx context.Context, sourceID string) (string, error)
	// CountLinked counts the users and the groups linked to the source that
	// are not in the trash: what the directory holds from it.
	CountLinked(ctx context.Context, sourceID string) (users, groups int, err error)

	User(ctx context.Context, accountID, id string) (directory.User, error)
	// UserByLink finds the user linked to an object of a source.
	UserByLink(ctx context.Context, sourceID, externalID string) (directory.User, error)
	// UsersByLink finds the users linked to objects of a source, by
	// their external id; one absent from the map links to nobody.
	UsersByLink(ctx context.Context, sourceID string, externalIDs []string) (map[string]directory.User, error)
	// UserByUsername and UserByEmail match case-insensitively.
	UserByUsername(ctx context.Context, accountID, username string) (directory.User, error)
	UserByEmail(ctx context.Context, accountID, email string) (directory.User, error)
	Users(ctx context.Context, accountID string, q UserQuery) (Page[directory.User], error)

	Group(ctx context.Context, accountID, id string) (directory.Group, error)
	GroupByLink(ctx context.Context, sourceID, externalID string) (directory.Group, error)
	// GroupsByLink finds the groups linked to objects of a source, by
	// their external id; one absent from the map links to nothing.
	GroupsByLink(ctx context.Context, sourceID string, externalIDs []string) (map[string]directory.Group, error)
	// GroupByName matches case-insensitively and returns the first by id
	// when several groups share the name.
	GroupByName(ctx context.Context, accountID, name string) (directory.Group, error)
	Groups(ctx context.Context, accountID string, q GroupQuery) (Page[directory.Group], error)
	// Members lists a group's direct members, or with transitive its
	// effective members: every user and group reached through nesting,
	// each once, cycles included. Ordered by kind then name.
	Members(ctx context.Context, accountID, groupID string, transitive bool) ([]directory.Member, error)
	// GroupsOf lists the groups a user is a direct member of, or with
	// transitive every group it is in through nesting too, each once;
	// groups in the trash are left out. Ordered by name then id.
	GroupsOf(ctx context.Context, accountID, userID string, transitive bool) ([]directory.Group, error)
	// MemberPage lists a group's members as Members does, a page at a
	// time (keyset on kind, name key and id).
	MemberPage(ctx context.Context, accountID, groupID string, q MemberQuery) (Page[directory.Member], error)
	// GroupsOfPage lists a user's groups as GroupsOf does, a page at a
	// time (keyset on name key and id).
	GroupsOfPage(ctx context.Context, accountID, userID string, q MemberQuery) (Page[directory.Group], error)

	Run(ctx context.Context, accountID, id string) (directory.Run, error)
	// RunProgress is the progress last recorded for the run
	// (SetRunProgress); ErrNotFound when none was.
	RunProgress(ctx context.Context, accountID, runID string) (directory.RunProgress, error)
	// Runs lists runs newest first; sourceID "" lists all of the account's.
	Runs(ctx context.Context, accountID, sourceID string, limit int) ([]directory.Run, error)
	// RunPage lists runs as Runs does, a page at a time.
	RunPage(ctx context.Context, accountID string, q RunQuery) (Page[directory.Run], error)
	// RunsByOutcome lists every account's runs that have the outcome,
	// oldest first: the queued runs a starting service executes.
	RunsByOutcome(ctx context.Context, outcome directory.Outcome) ([]directory.Run, error)
	// LastSuccesses says, for every account's sources, when each one's
	// newest successful run (not a dry run) finished; a source that never
	// succeeded is left out. Ordered by account, then source id.
	LastSuccesses(ctx context.Context) ([]SourceSuccess, error)
	// UnfinishedRuns lists the source's runs still recorded as running,
	// oldest first: the run in progress, or runs whose process died.
	UnfinishedRuns(ctx context.Context, accountID, sourceID string) ([]directory.Run, error)
	// OrphanedRuns lists the runs recorded as running whose source no
	// process holds (its lease ran out or was never taken): their process
	// died.
	OrphanedRuns(ctx context.Context, now time.Time) ([]directory.Run, error)
	// Changes lists a run's changes in order.
	Changes(ctx context.Context, runID string, after, limit int) ([]directory.Change, error)
	// UserChanges lists the changes succeeded runs (not dry runs) applied
	// about a user: to the user itself, and its memberships added or
	// removed. Newest first: by the run's end, then the run, then the
	// change's Seq, both descending.
	UserChanges(ctx context.Context, accountID, userID string, q UserChangeQuery) (Page[UserChange], error)

	// Events lists the account's change feed in order, after a Seq.
	Events(ctx context.Context, accountID string, after int64, limit int) ([]directory.Event, error)
	// LastEventSeq is the Seq of the account's newest event, 0 when none.
	LastEventSeq(ctx context.Context, accountID string) (int64, error)

	// TokenByHash finds a token, revoked or not, by its hash.
	TokenByHash(ctx context.Context, hash string) (APIToken, error)
	Tokens(ctx context.Context, accountID string) ([]APIToken, error)

	Webhook(ctx context.Context, accountID, id string) (Webhook, error)
	Webhooks(ctx context.Context, accountID string) ([]Webhook, error)
	// AllWebhooks lists every account's enabled webhooks, for the dispatcher.
	AllWebhooks(ctx context.Context) ([]Webhook, error)
	// Deliveries lists a webhook's delivery log, newest first.
	Deliveries(ctx context.Context, accountID, webhookID string, limit int) ([]Delivery, error)
	// DeliveryPage lists the delivery log as Deliveries does, a page at a
	// time: after is the Next of the previous page.
	DeliveryPage(ctx context.Context, accountID, webhookID, after string, limit int) (Page[Delivery], error)

	// SourceSchedule returns ErrNotFound when the source has none stored.
	SourceSchedule(ctx context.Context, sourceID string) (SourceSchedule, error)
	// SourceSchedules lists every stored schedule, for the scheduler.
	SourceSchedules(ctx context.Context) ([]SourceSchedule, error)
	// SourceHealth returns ErrNotFound when nothing is known.
	SourceHealth(ctx context.Context, sourceID string) (SourceHealth, error)

	MailReader // enrollments, the outbox, mail settings (mail.go)
	ConsoleReader
	ClaimReader  // "one domain, one source" (claims.go)
	TargetReader // provisioning targets (target.go)
}

// Page is one page of a listing; Next is "" on the last page.
type Page[T any] struct {
	Items []T
	Next  string
}

// MemberQuery pages a group's members or a user's groups.
type MemberQuery struct {
	// Transitive follows nesting: effective members, or every group the
	// user is in through nested groups too.
	Transitive bool
	After      string // the Next of the previous page
	Limit      int    // 0 means all
}

// UserQuery filters and pages a user listing, ordered by username.
type UserQuery struct {
	// States to list; empty means active and disabled (not the trash).
	States []directory.State
	// SourceID lists only users linked to that source.
	SourceID string
	// Search finds the users each of whose words begins a word of the
	// username, email or display name (directory.SearchWords, QueryWords).
	Search string
	// GroupID lists only the group's effective members (direct or
	// through nested groups).
	GroupID string
	// Tag lists only users carrying this tag (case-insensitively).
	Tag string
	// EmailDomain lists only users whose email is at this domain
	// (case-insensitively, without its subdomains).
	EmailDomain string
	// UpdatedSince lists only users changed at or after it.
	UpdatedSince time.Time
	After        string // the Next of the previous page
	Limit        int    // 0 means all
}

// GroupQuery filters and pages a group listing, ordered by name then id.
type GroupQuery struct {
	States   []directory.State
	SourceID string
	Search   string
	// Name lists only groups of this name (case-insensitively).
	Name  string
	After string
	Limit int
}

// RunQuery pages a run listing, newest first.
type RunQuery struct {
	SourceID string // "" lists all of the account's runs
	After    string // the Next of the previous page
	Limit    int    // 0 means all
}

// UserChangeQuery pages a user's change history.
type UserChangeQuery struct {
	After string // the Next of the previous page
	Limit int    // 0 means all
}

// UserChange is one change a run applied about a user, with the run's
// source and when the run applied it (its end).
type UserChange struct {
	directory.Change
	SourceID  string
	Source    string
	AppliedAt time.Time
}

// Stager holds what a run reads from its source until the run applies it.
// Staged rows belong to a staging key: a run's id, or the run's id followed
// by a slash and a name for a second set of the same run ("RUN/flat"). The
// same external id staged twice under one key keeps the last version
// (sources may report an object more than once).
type Stager interface {
	StageUsers(ctx context.Context, runID string, users []directory.SourceUser) error
	StageGroups(ctx context.Context, runID string, groups []directory.SourceGroup) error
	StageMemberships(ctx context.Context, runID string, ms []directory.SourceMembership) error
	// DropStage deletes everything staged for the run: under its id and
	// under every key that extends it ("RUN/flat").
	DropStage(ctx context.Context, runID string) error
	// StagedCount counts the rows (users, groups and memberships) staged
	// for the run, under its id and the keys that extend it; runID ""
	// counts every staged row of every run.
	StagedCount(ctx context.Context, runID string) (int, error)
	// StagedMembersOf lists the direct members a run staged for one group.
	StagedMembersOf(ctx context.Context, runID, groupExternalID string) ([]directory.SourceMembership, error)
	// SetRunProgress records how far a run in progress has got, in a
	// small write of its own, outside any transaction. It is best effort:
	// where the database has one writer (SQLite) and another holds it (a
	// run's apply), it writes nothing and returns nil at once rather than
	// wait; the next call writes.
	SetRunProgress(ctx context.Context, accountID, runID string, p directory.RunProgress) error
}

// Tx is one transaction: everything Reader does, seeing its own writes,
// plus the writes, of the directory and of what the service keeps.
type Tx interface {
	Reader

	CreateAccount(ctx context.Context, a *directory.Account) error // sets ID and CreatedAt

	CreateSource(ctx context.Context, s *directory.Source) error // sets ID and times
	UpdateSource(ctx context.Context, s directory.Source) error
	// DeleteSource removes the source and its links and state; the users
	// and groups it brought stay, as local objects.
	DeleteSource(ctx context.Context, accountID, id string) error
	SetSourceState(ctx context.Context, sourceID, state string) error

	CreateUser(ctx context.Context, u *directory.User) error // sets ID and times
	// UpdateUser writes every field of u but ID, AccountID, Sources and CreatedAt.
	UpdateUser(ctx context.Context, u directory.User) error
	CreateGroup(ctx context.Context, g *directory.Group) error
	UpdateGroup(ctx context.Context, g directory.Group) error
	// PurgeUser and PurgeGroup delete an object for good, with its links and
	// memberships: the end of the trash.
	PurgeUser(ctx context.Context, accountID, id string) error
	PurgeGroup(ctx context.Context, accountID, id string) error
	// FreeUsers reports, for each user, whether it can be created as it
	// is: its external id links to nothing of the source, and no user of
	// the account, nor an earlier one in users, holds its username or email.
	FreeUsers(ctx context.Context, accountID, sourceID string, users []directory.SourceUser) ([]bool, error)
	// CreateLinkedUsers creates free users (setting ID and times) and links
	// each to the source object of the same index, many a statement.
	CreateLinkedUsers(ctx context.Context, sourceID string, users []*directory.User, externalIDs []string) error
	// Link ties a user or group to a source object; a source object links to one at most.
	Link(ctx context.Context, kind directory.MemberKind, id string, link directory.SourceLink) error

	// StagedUsers pages through a run's staged users ordered by external id,
	// starting after the given external id.
	StagedUsers(ctx context.Context, runID, after string, limit int) ([]directory.SourceUser, error)
	StagedGroups(ctx context.Context, runID, after string, limit int) ([]directory.SourceGroup, error)
	// UnstagedUsers pages through users linked to the source whose external
	// id the run did not stage, in any state, ordered by user id.
	UnstagedUsers(ctx context.Context, sourceID, runID, after string, limit int) ([]directory.User, error)
	UnstagedGroups(ctx context.Context, sourceID, runID, after string, limit int) ([]directory.Group, error)
	// SyncMemberships makes the direct memberships the source owns within
	// reach equal to those the run staged under runID between a group and
	// a member that are both linked to the source and not in the trash
	// (staged rows whose group or member has no link are ignored). It
	// hands what it removes and adds to fn a page at a time, so memory
	// stays flat however many memberships change. fn may write in the
	// transaction, but not memberships.
	SyncMemberships(ctx context.Context, sourceID, runID string, reach Reach, fn func(added bool, page []Membership) error) error
	// SyncMembershipsLogged does what SyncMemberships does, and records
	// each membership it removes, then each it adds, set-wise in the
	// database: a change of the run (numbered on from its last, ordered by
	// group id, member kind and member id, as SyncMemberships hands them
	// over) and its event (group.user_added and the like), without passing
	// them through memory. A first sync's memberships are counted in
	// hundreds of thousands.
	SyncMembershipsLogged(ctx context.Context, sourceID, runID string, reach Reach, log MemberLog) (removed, added int, err error)
	// ApplyPreparedUsers creates the users prepared for the run
	// (UserPreparer) that are still free: a user prepared whose external id
	// was linked meanwhile, or whose username or email a user of the
	// account now holds or another prepared user shares, is not created and
	// is left to StagedUsers. It links them, records their changes (after
	// the run's others) and their events, and says how many it created.
	// From then on StagedUsers leaves out the users it created. A store that
	// does not prepare creates none.
	ApplyPreparedUsers(ctx context.Context, sourceID string, log MemberLog) (int, error)
	// AddMembership records one direct membership owned by the source, by
	// directory ids; it reports false when the membership was already there.
	AddMembership(ctx context.Context, sourceID string, m Membership) (bool, error)
	// RemoveMembership removes one direct membership the source owns; it
	// reports false when there was none.
	RemoveMembership(ctx context.Context, sourceID string, m Membership) (bool, error)
	// MembershipsOf lists the direct memberships the source owns of one member.
	MembershipsOf(ctx context.Context, sourceID string, kind directory.MemberKind, memberID string) ([]Membership, error)
	// MembersOwned lists the direct memberships the source owns in one group.
	MembersOwned(ctx context.Context, sourceID, groupID string) ([]Membership, error)

	CreateRun(ctx context.Context, r *directory.Run) error // sets ID
	// UpdateRun writes every field of r but its ids and its Slot, which a
	// run keeps from its creation.
	UpdateRun(ctx context.Context, r directory.Run) error
	// DropStage deletes what the run staged (as Stager's DropStage), in
	// the transaction that records how the run ended: a crash then leaves
	// either a running run with its staging, or a finished run without.
	DropStage(ctx context.Context, runID string) error
	// AddChanges appends to the run's change list; Seq is assigned in order.
	AddChanges(ctx context.Context, runID string, cs []directory.Change) error

	// AppendEvents adds to the account's feed, assigning Seq (and ID when
	// empty). Events become visible in Seq order: a reader that resumes
	// after a Seq never misses one committed later with a smaller Seq.
	AppendEvents(ctx context.Context, es []directory.Event) error
	// PruneEvents deletes events older than before.
	PruneEvents(ctx context.Context, before time.Time) (int, error)
	// PruneAccountEvents deletes the account's events older than before.
	PruneAccountEvents(ctx context.Context, accountID string, before time.Time) (int, error)
	// PruneRuns deletes the account's finished runs started before before,
	// with their changes, but for each source's newest run and newest
	// successful run, which say where the source stands.
	PruneRuns(ctx context.Context, accountID string, before time.Time) (int, error)

	// AcquireLease makes holder the only runner of the source until now+ttl,
	// or renews holder's lease. It fails with ErrLeaseHeld while another
	// holder's lease runs: a crashed process's lease simply runs out.
	AcquireLease(ctx context.Context, sourceID, holder string, now time.Time, ttl time.Duration) error
	// ReleaseLease ends holder's lease, if it still has it.
	ReleaseLease(ctx context.Context, sourceID, holder string) error

	// ClaimQueuedRuns gives holder, until until, up to limit queued runs
	// that are due (StartedAt, a queued run's time to start, not after
	// now), unclaimed or whose claim ran out, and whose source no process
	// is running (its lease out), oldest first. Processes claiming at once
	// get different runs: one executor per queued run across a fleet.
	ClaimQueuedRuns(ctx context.Context, holder string, now, until time.Time, limit int) ([]directory.Run, error)
	// ClaimRun gives holder the queued run until until, unless another
	// holder's claim on it runs; it reports whether holder has it.
	ClaimRun(ctx context.Context, accountID, id, holder string, now, until time.Time) (bool, error)
	// RenewRunClaims extends holder's claims on its runs still queued.
	RenewRunClaims(ctx context.Context, holder string, until time.Time) error
	// ReleaseRunClaims ends holder's claims on its runs still queued, for
	// other processes to take (a process shutting down hands them on).
	ReleaseRunClaims(ctx context.Context, holder string) (int, error)

	CreateToken(ctx context.Context, t *APIToken) error // sets ID and CreatedAt
	// RevokeToken marks the token revoked at now; revoking twice is fine.
	RevokeToken(ctx context.Context, accountID, id string, now time.Time) error

	CreateWebhook(ctx context.Context, w *Webhook) error // sets ID and CreatedAt
	// UpdateWebhook writes what an administrator sets: URL, EventTypes,
	// Secret and Enabled. The delivery state is the dispatcher's, written
	// with SaveWebhookState, so that neither overwrites the other.
	UpdateWebhook(ctx context.Context, w Webhook) error
	// SaveWebhookState writes w's delivery state (Cursor, Attempts,
	// FirstFailedAt, NextAttemptAt). With a holder, only while holder's
	// claim on the webhook stands: it reports false, writing nothing, when
	// the claim was lost (or the webhook deleted), so a process that lost
	// its claim cannot move the cursor under the one that took it. An
	// empty holder writes regardless (an administrator's reset).
	SaveWebhookState(ctx context.Context, w Webhook, holder string) (bool, error)
	// ClaimWebhook makes holder the one process delivering to an enabled
	// webhook until until, or renews holder's claim. It reports false when
	// the webhook is disabled or gone, or another holder's claim runs past
	// now: claims are how replicas sharing a database deliver each
	// endpoint's events once and in order.
	ClaimWebhook(ctx context.Context, id, holder string, now, until time.Time) (bool, error)
	// ReleaseWebhook ends holder's claim, if it still has it.
	ReleaseWebhook(ctx context.Context, id, holder string) error
	DeleteWebhook(ctx context.Context, accountID, id string) error
	AddDelivery(ctx context.Context, d *Delivery) error // sets ID
	// PruneDeliveries deletes log entries older than before.
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)

	// SetSourceSchedule creates or replaces the source's schedule.
	SetSourceSchedule(ctx context.Context, s SourceSchedule) error
	// SetSourceHealth creates or replaces the source's health record.
	SetSourceHealth(ctx context.Context, h SourceHealth) error

	MailTx // enrollments, the outbox, mail settings (mail.go)
	ConsoleWriter
	ClaimTx
	SecretTx
	TargetTx // provisioning targets (target.go)
}

// Reach is the part of a source's memberships that a SyncMemberships call
// reconciles; the source's other memberships stay as they are. The zero
// Reach is every membership the source owns (a full run).
type Reach struct {
	// UserID limits the reach to one user's memberships (a single-user run).
	UserID string
	// Ended, when set, limits the reach to the pairs the run staged: under
	// its own key the memberships the source reports, under Ended those it
	// reports ended (an incremental run).
	Ended string
}

// UserPreparer is a store that takes a full run's new users while the
// source is still read, so that its apply creates them in a few set-based
// statements instead of page by page after the last read (SQLite's: see
// CanPrepare). Nothing prepared is in the directory until the apply's
// transaction takes it (Tx.ApplyPreparedUsers), checked again there.
type UserPreparer interface {
	// CanPrepare says whether this store prepares users.
	CanPrepare() bool
	// PrepareUsers records, for the run, which of the users are to be
	// created as they are: those whose external id links to nothing of the
	// source and whose username and email no user of the account holds,
	// when they are read. staged are the external ids of the whole batch
	// staged: what was prepared for them before (an earlier version of
	// the same object) is forgotten first.
	PrepareUsers(ctx context.Context, p PrepareBatch) error
}

// PrepareBatch is one batch of users for UserPreparer.PrepareUsers.
type PrepareBatch struct {
	RunID, AccountID, SourceID string
	Staged                     []string
	Users                      []PreparedUser
}

// PreparedUser is a user a run will create (with its link to the source
// object in Sources), its source object's id, and the change that records
// its creation. The store sets the user's id and times, and the change's
// ObjectID and Object (the user's state) with them: the times are those
// of the preparation, a little before the run commits.
type PreparedUser struct {
	User       directory.User
	ExternalID string
	Change     directory.Change
}

// MemberLog says how SyncMembershipsLogged records the changes: the run
// they belong to, and what their events carry.
type MemberLog struct {
	// RunID is the run the changes belong to (the staging key the
	// memberships are read from may extend it).
	RunID      string
	AccountID  string
	SourceName string
	// Time is the events' time.
	Time time.Time
}

// Membership is one direct membership in the directory.
type Membership struct {
	GroupID    string
	GroupName  string
	MemberKind directory.MemberKind
	MemberID   string
	MemberName string
}

// SourceSuccess is when a source's newest successful run finished.
type SourceSuccess struct {
	AccountID, SourceID, Source string
	FinishedAt                  time.Time
}
