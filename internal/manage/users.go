package manage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// Page is one page of a listing; Next is "" on the last page.
type Page[T any] = store.Page[T]

// UserQuery filters and pages a user listing, ordered by username.
type UserQuery struct {
	// States to list; empty means active and disabled (not the trash).
	States []directory.State
	// Source lists only users linked to this source (name or id).
	Source string
	// Search finds the users each of whose words begins a word of the
	// username, email or display name (directory.SearchWords).
	Search string
	// Group lists only the effective members of a group (id or name).
	Group string
	// Tag lists only users carrying the tag (case-insensitively).
	Tag string
	// EmailDomain lists only users whose email is at the domain.
	EmailDomain string
	// UpdatedSince lists only users changed at or after it.
	UpdatedSince time.Time
	After        string // the Next of the previous page
	Limit        int    // 0 means all
}

// States are the lifecycle states a listing may ask for.
var States = []directory.State{directory.StateActive, directory.StateDisabled, directory.StateTrash}

// ParseStates reads state names ("active", "disabled", "pending_deletion",
// also comma separated).
func ParseStates(values []string) ([]directory.State, error) {
	var out []directory.State
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			st := directory.State(strings.TrimSpace(p))
			if !slices.Contains(States, st) {
				return nil, invalid("state", "state %q is unknown: want active, disabled or pending_deletion", p)
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// Users lists the account's users.
func (m *Manager) Users(ctx context.Context, actor Actor, q UserQuery) (Page[directory.User], error) {
	if err := actor.require(ActRead); err != nil {
		return Page[directory.User]{}, err
	}
	if err := CheckSearch(q.Search); err != nil {
		return Page[directory.User]{}, err
	}
	// A blank search is no search (a form's empty box, "?search=%20");
	// one of symbols alone has no word to look for, and finding nobody
	// would look like an answer.
	search := strings.TrimSpace(q.Search)
	if search != "" && len(directory.QueryWords(search)) == 0 {
		return Page[directory.User]{}, invalid("search", "search %q holds no letter or digit to look for", q.Search)
	}
	sq := store.UserQuery{States: q.States, Search: search, Limit: q.Limit, Tag: strings.TrimSpace(q.Tag),
		EmailDomain: strings.TrimPrefix(strings.TrimSpace(q.EmailDomain), "@"), UpdatedSince: q.UpdatedSince}
	if err := m.checkListing(ctx, actor, q.States, q.Source, q.Limit, &sq.SourceID); err != nil {
		return Page[directory.User]{}, err
	}
	if strings.ContainsAny(sq.EmailDomain, "@ ") {
		return Page[directory.User]{}, invalid("email_domain", "email_domain %q is not a domain (contoso.com)", q.EmailDomain)
	}
	if q.Group != "" {
		g, err := findGroup(ctx, m.d.Store, actor, q.Group)
		if KindOf(err) == NotFound {
			return Page[directory.User]{}, invalid("group", "%s", AsError(err).Message).with(err)
		}
		if err != nil {
			return Page[directory.User]{}, err
		}
		sq.GroupID = g.ID
	}
	var err error
	if sq.After, err = decodeCursor(listUsers, q.After); err != nil {
		return Page[directory.User]{}, err
	}
	page, err := m.d.Store.Users(ctx, actor.AccountID, sq)
	if err != nil {
		return Page[directory.User]{}, cursorError(err)
	}
	for i := range page.Items {
		normalizeUser(&page.Items[i])
	}
	return pageOf(listUsers, page.Items, page.Next), nil
}

// MaxSearch bounds a listing's search text: longer, it is no name anyone
// types, and the database's pattern matcher refuses it past some length.
const MaxSearch = 400

// CheckSearch refuses a listing's search text that is too long or holds a
// control character (a NUL would otherwise match every row).
func CheckSearch(s string) error {
	if len(s) > MaxSearch {
		return invalid("search", "search is %d characters long: at most %d", len(s), MaxSearch)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return invalid("search", "search holds a control character (a NUL, a tab, a line break...)")
	}
	return nil
}

// checkListing checks a listing's states and limit and resolves its
// source to an id.
func (m *Manager) checkListing(ctx context.Context, actor Actor, states []directory.State, source string, limit int, sourceID *string) error {
	for _, st := range states {
		if !slices.Contains(States, st) {
			return invalid("state", "state %q is unknown: want active, disabled or pending_deletion", st)
		}
	}
	if limit < 0 {
		return invalid("limit", "limit must not be negative")
	}
	if source == "" {
		return nil
	}
	src, err := m.d.Store.Source(ctx, actor.AccountID, source)
	if errors.Is(err, store.ErrNotFound) {
		return invalid("source", "account %s has no source %q", actor.AccountName, source).with(err)
	}
	*sourceID = src.ID
	return err
}

// normalizeUser makes empty lists lists, never null.
func normalizeUser(u *directory.User) { u.Normalize() }

// User finds a user by id, username or email.
func (m *Manager) User(ctx context.Context, actor Actor, key string) (directory.User, error) {
	if err := actor.require(ActRead); err != nil {
		return directory.User{}, err
	}
	u, err := findUser(ctx, m.d.Store, actor, key)
	normalizeUser(&u)
	return u, err
}

// findUser finds a user by id, username or email.
func findUser(ctx context.Context, rd store.Reader, actor Actor, key string) (directory.User, error) {
	key = strings.TrimSpace(key)
	u, err := rd.User(ctx, actor.AccountID, key)
	if errors.Is(err, store.ErrNotFound) {
		u, err = rd.UserByUsername(ctx, actor.AccountID, key)
	}
	if errors.Is(err, store.ErrNotFound) {
		u, err = rd.UserByEmail(ctx, actor.AccountID, key)
	}
	if errors.Is(err, store.ErrNotFound) {
		return u, notFound("account %s has no user %q (by id, username or email)", actor.AccountName, key).with(err)
	}
	return u, err
}

// UserEdit changes a user's attributes; nil fields stay as they are.
// Tags and notes are local, the account's own. The attributes a source
// manages are read-only while a source manages the user; a local user (no
// source) may have its display name, email and enabled changed too.
type UserEdit struct {
	// Tags replaces the tags; AddTags and RemoveTags change them.
	Tags       *[]string
	AddTags    []string
	RemoveTags []string
	Notes      *string

	DisplayName *string
	Email       *string
	Enabled     *bool

	// Other names any other attribute the caller asked to change (by its
	// JSON name): the edit is refused, saying why.
	Other []string
	// IfVersion makes the edit conditional on the user's version
	// (version.go); "" or AnyVersion edits whatever it is.
	IfVersion string
}

func (e UserEdit) empty() bool {
	return e.Tags == nil && len(e.AddTags) == 0 && len(e.RemoveTags) == 0 && e.Notes == nil &&
		e.DisplayName == nil && e.Email == nil && e.Enabled == nil && len(e.Other) == 0
}

// syncedFields names the edit's attributes that a source manages.
func (e UserEdit) syncedFields() []string {
	var f []string
	if e.DisplayName != nil {
		f = append(f, "display_name")
	}
	if e.Email != nil {
		f = append(f, "email")
	}
	if e.Enabled != nil {
		f = append(f, "enabled")
	}
	return f
}

// Bounds of local attributes.
const (
	maxTags      = 100
	maxTagLength = 100
	maxNotes     = 10000
)

// NormalizeTags trims tags, drops repeats and sorts them: every front end
// stores the same list for the same input.
func NormalizeTags(tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(t)
		switch {
		case t == "":
			return nil, invalid("tags", "a tag is empty")
		case len(t) > maxTagLength:
			return nil, invalid("tags", "tag %q is longer than %d characters", t[:20]+"…", maxTagLength)
		case strings.ContainsAny(t, "\r\n\t,"):
			return nil, invalid("tags", "tag %q holds a comma, a tab or a line break", t)
		}
		out = append(out, t)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxTags {
		return nil, invalid("tags", "a user has at most %d tags", maxTags)
	}
	return out, nil
}

// EditUser changes a user's local attributes (and a local user's own), in
// one transaction, and returns the user as stored.
func (m *Manager) EditUser(ctx context.Context, actor Actor, key string, e UserEdit) (directory.User, error) {
	if err := actor.require(ActEditUsers); err != nil {
		return directory.User{}, err
	}
	var id string
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		u, err := findUser(ctx, tx, actor, key)
		if err != nil {
			return err
		}
		if e.empty() {
			return invalid("", "nothing to change: give tags, notes, or for a local user display name, email or enabled")
		}
		id = u.ID
		if err := checkVersion("user "+u.Username, e.IfVersion, UserVersion(u)); err != nil {
			return err
		}
		before := u
		before.Tags = slices.Clone(u.Tags)
		if err := applyEdit(&u, e); err != nil {
			return err
		}
		err = tx.UpdateUser(ctx, u)
		if errors.Is(err, store.ErrAlreadyExists) {
			return &Error{Kind: Conflict, Code: CodeAlreadyExists, Field: "email", Message: fmt.Sprintf("another user of account %s has email %s", actor.AccountName, u.Email), Err: err}
		}
		if err != nil {
			return err
		}
		after, err := tx.User(ctx, actor.AccountID, u.ID)
		if err != nil {
			return err
		}
		return tx.AppendEvents(ctx, editEvents(actor, before, after, m.now()))
	})
	if err != nil {
		return directory.User{}, err
	}
	u, err := m.d.Store.User(ctx, actor.AccountID, id)
	normalizeUser(&u)
	return u, err
}

// editEvents are the events of a change made by hand to a user: what
// changed (user.updated, with each attribute before and after) and, for a
// local user, user.enabled or user.disabled, each with the user's state
// after the change, so that a copy kept from the feed sees local edits
// too.
func editEvents(actor Actor, before, after directory.User, now time.Time) []directory.Event {
	attrs := directory.DiffUsers(before.UserAttributes, after.UserAttributes)
	if !slices.Equal(before.Tags, after.Tags) {
		attrs = append(attrs, directory.AttrChange{Attribute: "tags", Before: listOf(before.Tags), After: listOf(after.Tags)})
	}
	if before.Notes != after.Notes {
		attrs = append(attrs, directory.AttrChange{Attribute: "notes", Before: before.Notes, After: after.Notes})
	}
	object := after
	object.Normalize()
	event := func(typ string, attrs []directory.AttrChange) directory.Event {
		body := map[string]any{"object_kind": directory.MemberUser, "object_id": after.ID, "name": after.Username,
			"source": "", "detail": "through the " + viaText(actor.Via) + " by " + actor.Name, "object": object}
		if len(attrs) > 0 {
			body["attributes"] = attrs
		}
		data, _ := json.Marshal(body)
		return directory.Event{AccountID: after.AccountID, Type: typ, Time: now, Data: data}
	}
	var es []directory.Event
	if len(attrs) > 0 {
		es = append(es, event(directory.EventUserUpdated, attrs))
	}
	switch {
	case before.Enabled == after.Enabled:
	case after.Enabled:
		es = append(es, event(directory.EventUserEnabled, nil))
	default:
		es = append(es, event(directory.EventUserDisabled, nil))
	}
	return es
}

// listOf is a list as answers show it: [] for none.
func listOf(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func applyEdit(u *directory.User, e UserEdit) error {
	names := make([]string, len(u.Sources))
	for i, l := range u.Sources {
		names[i] = l.Source
	}
	for _, f := range slices.Sorted(slices.Values(e.Other)) {
		switch {
		case slices.Contains(directoryFields, f) && len(u.Sources) > 0:
			return &Error{Kind: Conflict, Code: CodeSyncedAttribute, Field: f,
				Message: fmt.Sprintf("user %s is managed by source %s: %s is synchronized from it and can only be changed there; only tags and notes are local", u.Username, strings.Join(names, ", "), f)}
		case slices.Contains(directoryFields, f) || slices.Contains(readOnlyUserFields, f):
			return &Error{Kind: Conflict, Code: CodeSyncedAttribute, Field: f,
				Message: fmt.Sprintf("%s cannot be changed in dirsync: only tags, notes, and a local user's display_name, email and enabled can", f)}
		}
		return invalid(f, "unknown field %q: only tags, notes, display_name, email and enabled can be changed", f)
	}
	if f := e.syncedFields(); len(f) > 0 && len(u.Sources) > 0 {
		return &Error{Kind: Conflict, Code: CodeSyncedAttribute, Field: f[0],
			Message: fmt.Sprintf("user %s is managed by source %s: %s is synchronized from it and can only be changed there; only tags and notes are local", u.Username, strings.Join(names, ", "), f[0])}
	}
	tags := u.Tags
	if e.Tags != nil {
		tags = *e.Tags
	}
	tags = append(slices.Clone(tags), e.AddTags...)
	tags, err := NormalizeTags(tags)
	if err != nil {
		return err
	}
	remove, err := NormalizeTags(e.RemoveTags)
	if err != nil {
		return err
	}
	u.Tags = slices.DeleteFunc(tags, func(t string) bool { return slices.Contains(remove, t) })
	if e.Notes != nil {
		if len(*e.Notes) > maxNotes {
			return invalid("notes", "notes are longer than %d characters", maxNotes)
		}
		u.Notes = *e.Notes
	}
	if e.DisplayName != nil {
		u.DisplayName = strings.TrimSpace(*e.DisplayName)
	}
	if e.Email != nil {
		email := strings.TrimSpace(*e.Email)
		if email != "" && (!strings.Contains(email, "@") || strings.ContainsAny(email, " \t\r\n")) {
			return invalid("email", "%q is not an email address", email)
		}
		u.Email = email
	}
	if e.Enabled != nil {
		u.Enabled = *e.Enabled
		if u.State != directory.StateTrash {
			u.State = directory.StateFor(u.Enabled)
		}
	}
	return nil
}

// The attributes an edit may name, by the model's JSON names:
// editable ones, directory attributes (a source's), and read-only ones.
var (
	editableUserFields = []string{"tags", "notes", "display_name", "email", "enabled"}
	directoryFields    = []string{"username", "given_name", "surname", "job_title", "department", "mobile_phone",
		"business_phones", "user_type", "licenses", "proxy_addresses", "immutable_id", "account_name", "dn"}
	readOnlyUserFields = []string{"id", "account_id", "state", "sources", "created_at", "updated_at", "trashed_at"}
)

// EditableFields lists what an edit may change on u, by JSON name: tags and
// notes, and a local user's display_name, email and enabled.
func EditableFields(u directory.User) []string {
	if len(u.Sources) > 0 {
		return []string{"tags", "notes"}
	}
	return slices.Clone(editableUserFields)
}
