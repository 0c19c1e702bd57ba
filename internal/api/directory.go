package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/store"
)

// Page sizes.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

func limitParam(r *request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		return 0, badField("limit", "limit must be a whole number from 1 to %d", maxLimit)
	}
	return n, nil
}

func statesParam(r *request) ([]directory.State, error) {
	var out []directory.State
	for _, v := range r.URL.Query()["state"] {
		for _, p := range strings.Split(v, ",") {
			st := directory.State(strings.TrimSpace(p))
			if !slices.Contains([]directory.State{directory.StateActive, directory.StateDisabled, directory.StateTrash}, st) {
				return nil, badField("state", "state %q is unknown: want active, disabled or pending_deletion", p)
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// sourceParam resolves ?source= (a name or id) to an id.
func (s *Server) sourceParam(r *request) (string, error) {
	v := r.URL.Query().Get("source")
	if v == "" {
		return "", nil
	}
	src, err := s.Store.Source(r.Context(), r.account.ID, v)
	if errors.Is(err, store.ErrNotFound) {
		return "", badField("source", "no source %q in this account", v)
	}
	return src.ID, err
}

func (s *Server) listRuns(w http.ResponseWriter, r *request) error {
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	sourceID, err := s.sourceParam(r)
	if err != nil {
		return err
	}
	runs, err := s.Store.Runs(r.Context(), r.account.ID, sourceID, limit)
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []directory.Run{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"runs": runs})
}

func (s *Server) getRun(w http.ResponseWriter, r *request) error {
	run, err := s.Store.Run(r.Context(), r.account.ID, r.PathValue("id"))
	if err != nil {
		return storeErr(err, "run")
	}
	return writeJSON(w, http.StatusOK, run)
}

func (s *Server) listChanges(w http.ResponseWriter, r *request) error {
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	after := 0
	if v := r.URL.Query().Get("after"); v != "" {
		if after, err = strconv.Atoi(v); err != nil || after < 0 {
			return badField("after", "after must be a change's seq")
		}
	}
	run, err := s.Store.Run(r.Context(), r.account.ID, r.PathValue("id"))
	if err != nil {
		return storeErr(err, "run")
	}
	cs, err := s.Store.Changes(r.Context(), run.ID, after, limit)
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []directory.Change{}
	}
	next := ""
	if len(cs) == limit {
		next = strconv.Itoa(cs[len(cs)-1].Seq)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"changes": cs, "next": next})
}

// cursorParam reads a page cursor. The store's cursors are base64url of a
// sort key and an id separated by a NUL; one that is not is the caller's
// mistake, and must not reach the store (which reports it as any error).
func cursorParam(r *request, name string) (string, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || !bytes.Contains(b, []byte{0}) {
		return "", badField(name, "%s is not a cursor this API returned", name)
	}
	return v, nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *request) error {
	q := store.UserQuery{Search: r.URL.Query().Get("search")}
	var err error
	if q.After, err = cursorParam(r, "after"); err != nil {
		return err
	}
	if q.Limit, err = limitParam(r); err != nil {
		return err
	}
	if q.States, err = statesParam(r); err != nil {
		return err
	}
	if q.SourceID, err = s.sourceParam(r); err != nil {
		return err
	}
	page, err := s.Store.Users(r.Context(), r.account.ID, q)
	if err != nil {
		return err
	}
	if page.Items == nil {
		page.Items = []directory.User{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"users": page.Items, "next": page.Next})
}

func (s *Server) getUser(w http.ResponseWriter, r *request) error {
	u, err := s.Store.User(r.Context(), r.account.ID, r.PathValue("id"))
	if err != nil {
		return storeErr(err, "user")
	}
	return writeJSON(w, http.StatusOK, u)
}

// localUserFields are the attributes the API may write: the account's own.
var localUserFields = []string{"tags", "notes"}

func (s *Server) updateUser(w http.ResponseWriter, r *request) error {
	var in map[string]jsonValue
	if err := decode(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	var u directory.User
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		if u, err = tx.User(ctx, r.account.ID, r.PathValue("id")); err != nil {
			return storeErr(err, "user")
		}
		for _, k := range sortedKeys(in) {
			if slices.Contains(localUserFields, k) {
				continue
			}
			if !slices.Contains(syncedUserFields, k) {
				return badField(k, "unknown field %q: only tags and notes can be changed", k)
			}
			if len(u.Sources) > 0 {
				names := make([]string, len(u.Sources))
				for i, l := range u.Sources {
					names[i] = l.Source
				}
				return &Error{Status: http.StatusConflict, Code: CodeSyncedAttribute, Field: k,
					Message: fmt.Sprintf("%s is synchronized from source %s and can only be changed there; only tags and notes are local", k, strings.Join(names, ", "))}
			}
			return &Error{Status: http.StatusConflict, Code: CodeSyncedAttribute, Field: k,
				Message: fmt.Sprintf("%s is a directory attribute that sources manage; only tags and notes can be changed through the API", k)}
		}
		if v, ok := in["tags"]; ok {
			var tags []string
			if err := v.into(&tags); err != nil || slices.Contains(tags, "") {
				return badField("tags", "tags must be a list of non-empty strings")
			}
			slices.Sort(tags)
			u.Tags = slices.Compact(tags)
		}
		if v, ok := in["notes"]; ok {
			if err := v.into(&u.Notes); err != nil {
				return badField("notes", "notes must be a string")
			}
		}
		return tx.UpdateUser(ctx, u)
	})
	if err != nil {
		return err
	}
	u, err = s.Store.User(ctx, r.account.ID, u.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

// syncedUserFields are the JSON names of what sources own on a user.
var syncedUserFields = []string{"username", "email", "display_name", "given_name", "surname", "job_title",
	"department", "mobile_phone", "business_phones", "user_type", "licenses", "proxy_addresses", "immutable_id",
	"account_name", "dn", "enabled", "state", "sources", "id", "account_id", "created_at", "updated_at", "trashed_at"}

func (s *Server) listGroups(w http.ResponseWriter, r *request) error {
	q := store.GroupQuery{Search: r.URL.Query().Get("search")}
	var err error
	if q.After, err = cursorParam(r, "after"); err != nil {
		return err
	}
	if q.Limit, err = limitParam(r); err != nil {
		return err
	}
	if q.States, err = statesParam(r); err != nil {
		return err
	}
	if q.SourceID, err = s.sourceParam(r); err != nil {
		return err
	}
	page, err := s.Store.Groups(r.Context(), r.account.ID, q)
	if err != nil {
		return err
	}
	if page.Items == nil {
		page.Items = []directory.Group{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"groups": page.Items, "next": page.Next})
}

func (s *Server) getGroup(w http.ResponseWriter, r *request) error {
	g, err := s.Store.Group(r.Context(), r.account.ID, r.PathValue("id"))
	if err != nil {
		return storeErr(err, "group")
	}
	return writeJSON(w, http.StatusOK, g)
}

func (s *Server) listMembers(w http.ResponseWriter, r *request) error {
	effective := false
	switch v := r.URL.Query().Get("effective"); v {
	case "", "false":
	case "true":
		effective = true
	default:
		return badField("effective", "effective must be true or false")
	}
	g, err := s.Store.Group(r.Context(), r.account.ID, r.PathValue("id"))
	if err != nil {
		return storeErr(err, "group")
	}
	ms, err := s.Store.Members(r.Context(), r.account.ID, g.ID, effective)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []directory.Member{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"group_id": g.ID, "effective": effective, "members": ms})
}

func (s *Server) listTrash(w http.ResponseWriter, r *request) error {
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	afterUser, err := cursorParam(r, "after_user")
	if err != nil {
		return err
	}
	afterGroup, err := cursorParam(r, "after_group")
	if err != nil {
		return err
	}
	trash := []directory.State{directory.StateTrash}
	users, err := s.Store.Users(r.Context(), r.account.ID, store.UserQuery{States: trash, Limit: limit, After: afterUser})
	if err != nil {
		return err
	}
	groups, err := s.Store.Groups(r.Context(), r.account.ID, store.GroupQuery{States: trash, Limit: limit, After: afterGroup})
	if err != nil {
		return err
	}
	if users.Items == nil {
		users.Items = []directory.User{}
	}
	if groups.Items == nil {
		groups.Items = []directory.Group{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"users": users.Items, "groups": groups.Items,
		"next_user": users.Next, "next_group": groups.Next})
}

func trashKind(r *request) error {
	if k := r.PathValue("kind"); k != "users" && k != "groups" {
		return notFound("trash kind " + k)
	}
	return nil
}

// trashObject finds the user or group of the route in the transaction.
func trashObject(ctx context.Context, tx store.Tx, r *request) (u *directory.User, g *directory.Group, err error) {
	id := r.PathValue("id")
	if r.PathValue("kind") == "users" {
		user, err := tx.User(ctx, r.account.ID, id)
		if err != nil {
			return nil, nil, storeErr(err, "user")
		}
		if user.State != directory.StateTrash {
			return nil, nil, &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "user " + user.Username + " is not in the trash"}
		}
		return &user, nil, nil
	}
	group, err := tx.Group(ctx, r.account.ID, id)
	if err != nil {
		return nil, nil, storeErr(err, "group")
	}
	if group.State != directory.StateTrash {
		return nil, nil, &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "group " + group.Name + " is not in the trash"}
	}
	return nil, &group, nil
}

// restoreTrash takes an object out of the trash. An object a source still
// manages cannot be: the source says it is gone, and it comes back by
// itself when the source has it again.
func (s *Server) restoreTrash(w http.ResponseWriter, r *request) error {
	if err := trashKind(r); err != nil {
		return err
	}
	ctx := r.Context()
	var out any
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		u, g, err := trashObject(ctx, tx, r)
		if err != nil {
			return err
		}
		out = g
		if u != nil {
			out = u
		}
		err = engine.Restore(ctx, tx, u, g, s.now(), "API")
		var managed *engine.ManagedError
		if errors.As(err, &managed) {
			return &Error{Status: http.StatusConflict, Code: CodeSyncedAttribute, Message: managed.Error()}
		}
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

// purgeTrash deletes an object in the trash for good.
func (s *Server) purgeTrash(w http.ResponseWriter, r *request) error {
	if err := trashKind(r); err != nil {
		return err
	}
	ctx := r.Context()
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		u, g, err := trashObject(ctx, tx, r)
		if err != nil {
			return err
		}
		if u != nil {
			return storeErr(tx.PurgeUser(ctx, r.account.ID, u.ID), "user")
		}
		return storeErr(tx.PurgeGroup(ctx, r.account.ID, g.ID), "group")
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *request) error {
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	var after int64
	if v := r.URL.Query().Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			return badField("after", "after must be the cursor of a previous page (a number)")
		}
	}
	es, err := s.Store.Events(r.Context(), r.account.ID, after, limit)
	if err != nil {
		return err
	}
	if es == nil {
		es = []directory.Event{}
	}
	next := after
	if len(es) > 0 {
		next = es[len(es)-1].Seq
	}
	return writeJSON(w, http.StatusOK, map[string]any{"events": es, "next": strconv.FormatInt(next, 10)})
}
