package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// Page sizes.
const (
	defaultLimit = 100
	maxLimit     = manage.MaxLimit
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

func (s *Server) listRuns(w http.ResponseWriter, r *request) error {
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	runs, err := s.Manager.Runs(r.Context(), r.actor, r.URL.Query().Get("source"), limit)
	if manage.KindOf(err) == manage.NotFound {
		e := manage.AsError(err)
		return badField("source", "%s", e.Message)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"runs": runs})
}

func (s *Server) getRun(w http.ResponseWriter, r *request) error {
	run, err := s.Manager.Run(r.Context(), r.actor, r.PathValue("id"))
	if err != nil {
		return err
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
	cs, err := s.Manager.Changes(r.Context(), r.actor, r.PathValue("id"), after, limit)
	if err != nil {
		return err
	}
	next := ""
	if len(cs) == limit {
		next = strconv.Itoa(cs[len(cs)-1].Seq)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"changes": cs, "next": next})
}

// listQuery reads what user and group listings share.
func listQuery(r *request) (states []directory.State, after string, limit int, err error) {
	if after, err = cursorParam(r, "after"); err != nil {
		return
	}
	if limit, err = limitParam(r); err != nil {
		return
	}
	states, err = manage.ParseStates(r.URL.Query()["state"])
	return
}

func (s *Server) listUsers(w http.ResponseWriter, r *request) error {
	states, after, limit, err := listQuery(r)
	if err != nil {
		return err
	}
	q := manage.UserQuery{States: states, After: after, Limit: limit, Search: r.URL.Query().Get("search"), Source: r.URL.Query().Get("source")}
	page, err := s.Manager.Users(r.Context(), r.actor, q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"users": page.Items, "next": page.Next})
}

func (s *Server) getUser(w http.ResponseWriter, r *request) error {
	u, err := s.Manager.User(r.Context(), r.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

func (s *Server) updateUser(w http.ResponseWriter, r *request) error {
	var in map[string]json.RawMessage
	if err := decode(r, &in); err != nil {
		return err
	}
	if in == nil {
		return badRequest("a JSON object is required")
	}
	var e manage.UserEdit
	for _, k := range slices.Sorted(maps.Keys(in)) {
		var err error
		switch v := in[k]; k {
		case "tags":
			var tags []string
			if err = json.Unmarshal(v, &tags); err == nil && tags == nil {
				err = badField("tags", "tags must be a list (an empty one clears them)")
			}
			e.Tags = &tags
		case "notes":
			e.Notes = new(string)
			err = json.Unmarshal(v, e.Notes)
		case "display_name":
			e.DisplayName = new(string)
			err = json.Unmarshal(v, e.DisplayName)
		case "email":
			e.Email = new(string)
			err = json.Unmarshal(v, e.Email)
		case "enabled":
			e.Enabled = new(bool)
			err = json.Unmarshal(v, e.Enabled)
		default:
			e.Other = append(e.Other, k)
		}
		if _, ok := err.(*Error); ok {
			return err
		}
		if err != nil {
			return badField(k, "%s: wrong type", k)
		}
	}
	u, err := s.Manager.EditUser(r.Context(), r.actor, r.PathValue("id"), e)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

func (s *Server) listGroups(w http.ResponseWriter, r *request) error {
	states, after, limit, err := listQuery(r)
	if err != nil {
		return err
	}
	q := manage.GroupQuery{States: states, After: after, Limit: limit, Search: r.URL.Query().Get("search"), Source: r.URL.Query().Get("source")}
	page, err := s.Manager.Groups(r.Context(), r.actor, q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"groups": page.Items, "next": page.Next})
}

func (s *Server) getGroup(w http.ResponseWriter, r *request) error {
	g, err := s.Manager.Group(r.Context(), r.actor, r.PathValue("id"))
	if err != nil {
		return err
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
	g, ms, err := s.Manager.Members(r.Context(), r.actor, r.PathValue("id"), effective)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"group_id": g.ID, "effective": effective, "members": ms})
}

func (s *Server) listTrash(w http.ResponseWriter, r *request) error {
	var q manage.TrashQuery
	var err error
	if q.Limit, err = limitParam(r); err != nil {
		return err
	}
	if q.AfterUser, err = cursorParam(r, "after_user"); err != nil {
		return err
	}
	if q.AfterGroup, err = cursorParam(r, "after_group"); err != nil {
		return err
	}
	t, err := s.Manager.ListTrash(r.Context(), r.actor, q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"users": t.Users.Items, "groups": t.Groups.Items,
		"next_user": t.Users.Next, "next_group": t.Groups.Next})
}

// trashRef reads the route's kind (users or groups) and id.
func trashRef(r *request) (manage.TrashRef, error) {
	ref := manage.TrashRef{Key: r.PathValue("id")}
	switch k := r.PathValue("kind"); k {
	case "users":
		ref.Kind = directory.MemberUser
	case "groups":
		ref.Kind = directory.MemberGroup
	default:
		return ref, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "trash kind " + k + " not found: want users or groups"}
	}
	return ref, nil
}

func trashJSON(o manage.TrashObject) any {
	if o.User != nil {
		return o.User
	}
	return o.Group
}

// restoreTrash takes an object out of the trash.
func (s *Server) restoreTrash(w http.ResponseWriter, r *request) error {
	ref, err := trashRef(r)
	if err != nil {
		return err
	}
	o, err := s.Manager.Restore(r.Context(), r.actor, ref)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, trashJSON(o))
}

// purgeTrash deletes an object in the trash for good.
func (s *Server) purgeTrash(w http.ResponseWriter, r *request) error {
	ref, err := trashRef(r)
	if err != nil {
		return err
	}
	if _, err := s.Manager.Purge(r.Context(), r.actor, ref); err != nil {
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
	es, err := s.Manager.Events(r.Context(), r.actor, after, limit)
	if err != nil {
		return err
	}
	next := after
	if len(es) > 0 {
		next = es[len(es)-1].Seq
	}
	return writeJSON(w, http.StatusOK, map[string]any{"events": es, "next": strconv.FormatInt(next, 10)})
}
