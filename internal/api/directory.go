package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

func (s *Server) listRuns(w http.ResponseWriter, r *request) error {
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := s.Manager.Runs(r.Context(), r.actor, manage.RunQuery{Source: q.Get("source"), After: q.Get("after"), Limit: limit})
	if err != nil {
		return err
	}
	return writePage(w, r, "runs", page.Items, page.Next, nil)
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
	page, err := s.Manager.Changes(r.Context(), r.actor, r.PathValue("id"), manage.ChangeQuery{After: r.URL.Query().Get("after"), Limit: limit})
	if err != nil {
		return err
	}
	return writePage(w, r, "changes", page.Items, page.Next, nil)
}

// The filters of the user and group listings.
var (
	userFilters  = []string{"state", "source", "search", "group", "tag", "email_domain", "updated_since"}
	groupFilters = []string{"state", "source", "search", "name"}
)

// listQuery reads what user and group listings share.
func listQuery(r *request) (states []directory.State, limit int, err error) {
	if limit, err = limitParam(r); err != nil {
		return
	}
	states, err = manage.ParseStates(r.URL.Query()["state"])
	return
}

func (s *Server) listUsers(w http.ResponseWriter, r *request) error {
	states, limit, err := listQuery(r)
	if err != nil {
		return err
	}
	v := r.URL.Query()
	q := manage.UserQuery{States: states, After: v.Get("after"), Limit: limit, Search: v.Get("search"), Source: v.Get("source"),
		Group: v.Get("group"), Tag: v.Get("tag"), EmailDomain: v.Get("email_domain")}
	if since := v.Get("updated_since"); since != "" {
		if q.UpdatedSince, err = time.Parse(time.RFC3339, since); err != nil {
			return badField("updated_since", "updated_since must be a time as RFC 3339 (2026-11-29T18:00:00Z)")
		}
	}
	page, err := s.Manager.Users(r.Context(), r.actor, q)
	if err != nil {
		return err
	}
	return writePage(w, r, "users", page.Items, page.Next, nil)
}

func (s *Server) getUser(w http.ResponseWriter, r *request) error {
	u, err := s.Manager.User(r.Context(), r.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	if fresh(w, r, manage.UserVersion(u)) {
		return nil
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
	var err error
	if e.IfVersion, err = ifMatch(r); err != nil {
		return err
	}
	u, err := s.Manager.EditUser(r.Context(), r.actor, r.PathValue("id"), e)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(manage.UserVersion(u)))
	return writeJSON(w, http.StatusOK, u)
}

func (s *Server) listGroups(w http.ResponseWriter, r *request) error {
	states, limit, err := listQuery(r)
	if err != nil {
		return err
	}
	v := r.URL.Query()
	q := manage.GroupQuery{States: states, After: v.Get("after"), Limit: limit, Search: v.Get("search"), Source: v.Get("source"), Name: v.Get("name")}
	page, err := s.Manager.Groups(r.Context(), r.actor, q)
	if err != nil {
		return err
	}
	return writePage(w, r, "groups", page.Items, page.Next, nil)
}

func (s *Server) getGroup(w http.ResponseWriter, r *request) error {
	g, err := s.Manager.Group(r.Context(), r.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	if fresh(w, r, manage.GroupVersion(g)) {
		return nil
	}
	return writeJSON(w, http.StatusOK, g)
}

// boolParam reads a true/false query parameter; absent is false.
func boolParam(r *request, name string) (bool, error) {
	switch r.URL.Query().Get(name) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, badField(name, "%s must be true or false", name)
}

func (s *Server) listMembers(w http.ResponseWriter, r *request) error {
	q := manage.MemberQuery{After: r.URL.Query().Get("after")}
	var err error
	if q.Effective, err = boolParam(r, "effective"); err != nil {
		return err
	}
	if q.Limit, err = limitParam(r); err != nil {
		return err
	}
	g, page, err := s.Manager.Members(r.Context(), r.actor, r.PathValue("id"), q)
	if err != nil {
		return err
	}
	return writePage(w, r, "members", page.Items, page.Next, map[string]any{"group_id": g.ID, "effective": q.Effective})
}

// listGroupsOf lists the groups a user is in: direct (Graph's memberOf)
// or, with transitive=true, through nesting too (transitiveMemberOf).
func (s *Server) listGroupsOf(w http.ResponseWriter, r *request) error {
	q := manage.GroupsOfQuery{After: r.URL.Query().Get("after")}
	var err error
	if q.Transitive, err = boolParam(r, "transitive"); err != nil {
		return err
	}
	if q.Limit, err = limitParam(r); err != nil {
		return err
	}
	u, page, err := s.Manager.GroupsOf(r.Context(), r.actor, r.PathValue("id"), q)
	if err != nil {
		return err
	}
	return writePage(w, r, "groups", page.Items, page.Next, map[string]any{"user_id": u.ID, "transitive": q.Transitive})
}

// listUserChanges lists what applied syncs changed about a user, newest
// first.
func (s *Server) listUserChanges(w http.ResponseWriter, r *request) error {
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	u, page, err := s.Manager.UserHistory(r.Context(), r.actor, r.PathValue("id"), manage.UserHistoryQuery{After: r.URL.Query().Get("after"), Limit: limit})
	if err != nil {
		return err
	}
	return writePage(w, r, "changes", page.Items, page.Next, map[string]any{"user_id": u.ID})
}

func (s *Server) listTrash(w http.ResponseWriter, r *request) error {
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	t, err := s.Manager.ListTrash(r.Context(), r.actor, manage.TrashQuery{After: r.URL.Query().Get("after"), Limit: limit})
	if err != nil {
		return err
	}
	return writePage(w, r, "users", t.Users, t.Next, map[string]any{"groups": t.Groups})
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

// listEvents reads the change feed. It has no last page: next is given
// while events wait, poll (where to continue) once the reader is caught up.
func (s *Server) listEvents(w http.ResponseWriter, r *request) error {
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	p, err := s.Manager.EventFeed(r.Context(), r.actor, manage.EventQuery{After: r.URL.Query().Get("after"), Limit: limit})
	if err != nil {
		return err
	}
	u := pageURL(r, "after", p.Cursor)
	body := map[string]any{"events": p.Items, "cursor": p.Cursor}
	if p.More {
		body["next"] = u
		w.Header().Set("Link", "<"+u+`>; rel="next"`)
	} else {
		body["poll"] = u
	}
	return writeJSON(w, http.StatusOK, body)
}
