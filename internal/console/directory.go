package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// pageSize is how many rows a directory listing shows; pages are keyset
// pages (the use case's cursor), so the hundredth page costs the first's.
const pageSize = 50

// usersData is the users page: search, filters and one page.
type usersData struct {
	Search, State, Source, Group, Tag string
	Users                             []directory.User
	Sources                           []manage.SourceView
	Next                              string
	States                            []directory.State
}

func (s *Server) usersPage(w http.ResponseWriter, r *request) error {
	q := r.URL.Query()
	d := usersData{Search: q.Get("q"), State: q.Get("state"), Source: q.Get("source"), Group: q.Get("group"), Tag: q.Get("tag"), States: manage.States}
	uq := manage.UserQuery{Search: d.Search, Source: d.Source, Group: d.Group, Tag: d.Tag, After: q.Get("after"), Limit: pageSize}
	if d.State != "" {
		states, err := manage.ParseStates([]string{d.State})
		if err != nil {
			return err
		}
		uq.States = states
	}
	page, err := s.Manager.Users(r.Context(), r.actor, uq)
	if err != nil {
		return err
	}
	if d.Sources, err = s.Manager.Sources(r.Context(), r.actor); err != nil {
		return err
	}
	d.Users = page.Items
	if page.Next != "" {
		d.Next = "/users?" + url.Values{"q": {d.Search}, "state": {d.State}, "source": {d.Source}, "group": {d.Group}, "tag": {d.Tag}, "after": {page.Next}}.Encode()
	}
	return s.render(w, r, http.StatusOK, "users", &view{Title: "Users", Nav: "users", Data: d})
}

// userData is a user's page.
type userData struct {
	User directory.User
	// Direct and Effective are the groups the user is in, directly and
	// through nesting (the first page of each).
	Direct, Effective []directory.Group
	// History is a page of what syncs changed about the user, newest
	// first; HistoryNext links to the older changes.
	History     []manage.UserChange
	HistoryNext string
	Error       string
}

// historyPage is how many changes the user's page shows at a time.
const historyPage = 25

// attr is one attribute of a user as its page shows it.
type attr struct {
	Name, Label, Value string
}

// Synced reports whether a source manages the user's attributes.
func (d userData) Synced() bool { return len(d.User.Sources) > 0 }

// SyncedFrom names the sources that manage the user.
func (d userData) SyncedFrom() string {
	var names []string
	for _, l := range d.User.Sources {
		names = append(names, l.Source)
	}
	return strings.Join(names, ", ")
}

// Attributes are the user's attributes a source manages.
func (d userData) Attributes() []attr {
	u := d.User
	list := func(v []string) string { return strings.Join(v, ", ") }
	return []attr{
		{"username", "Username (UPN)", u.Username}, {"email", "Email", u.Email}, {"display_name", "Display name", u.DisplayName},
		{"given_name", "First name", u.GivenName}, {"surname", "Last name", u.Surname}, {"job_title", "Job title", u.JobTitle},
		{"department", "Department", u.Department}, {"mobile_phone", "Mobile phone", u.MobilePhone},
		{"business_phones", "Business phones", list(u.BusinessPhones)}, {"user_type", "User type", u.UserType},
		{"licenses", "Licenses", list(u.Licenses)}, {"proxy_addresses", "Proxy addresses", list(u.ProxyAddresses)},
		{"immutable_id", "Immutable id", u.ImmutableID}, {"account_name", "Account name", u.AccountName}, {"dn", "DN", u.DN},
		{"enabled", "Enabled", fmt.Sprint(u.Enabled)}, {"state", "State", string(u.State)},
	}
}

func (s *Server) userPage(w http.ResponseWriter, r *request) error {
	u, err := s.Manager.User(r.Context(), r.actor, r.PathValue("user"))
	if err != nil {
		return err
	}
	d, err := s.userGroups(r, userData{User: u})
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "user", &view{Title: u.Username, Nav: "users", Data: d})
}

// userGroups adds the user's direct and effective groups.
func (s *Server) userGroups(r *request, d userData) (userData, error) {
	_, direct, err := s.Manager.GroupsOf(r.Context(), r.actor, d.User.ID, manage.GroupsOfQuery{Limit: 200})
	if err != nil {
		return d, err
	}
	_, eff, err := s.Manager.GroupsOf(r.Context(), r.actor, d.User.ID, manage.GroupsOfQuery{Transitive: true, Limit: 200})
	if err != nil {
		return d, err
	}
	d.Direct, d.Effective = direct.Items, eff.Items
	return s.userHistory(r, d)
}

// userHistory adds a page of the user's change history: the one the
// history parameter (a cursor) names, the newest without it.
func (s *Server) userHistory(r *request, d userData) (userData, error) {
	_, page, err := s.Manager.UserHistory(r.Context(), r.actor, d.User.ID,
		manage.UserHistoryQuery{After: r.URL.Query().Get("history"), Limit: historyPage})
	if me := manage.AsError(err); me != nil && me.Field == "after" {
		return d, badForm("this is not a page of the user's change history: follow the user's Older changes link")
	}
	if err != nil {
		return d, err
	}
	d.History = page.Items
	if page.Next != "" {
		d.HistoryNext = "/users/" + url.PathEscape(d.User.ID) + "?" + url.Values{"history": {page.Next}}.Encode() + "#history-h"
	}
	return d, nil
}

// editUser changes a user's local attributes: tags and notes, and for a
// user no source manages, display name and email. A synced attribute sent
// anyway is manage's to refuse.
func (s *Server) editUser(w http.ResponseWriter, r *request) error {
	u, err := s.Manager.User(r.Context(), r.actor, r.PathValue("user"))
	if err != nil {
		return err
	}
	f := r.PostForm
	var e manage.UserEdit
	tags := []string{}
	for _, t := range strings.Split(f.Get("tags"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	e.Tags = &tags
	notes := f.Get("notes")
	e.Notes = &notes
	// Only what changed: a synced attribute sent unchanged is no edit.
	if v, ok := f["display_name"]; ok && v[0] != u.DisplayName {
		e.DisplayName = &v[0]
	}
	if v, ok := f["email"]; ok && v[0] != u.Email {
		e.Email = &v[0]
	}
	_, err = s.Manager.EditUser(r.Context(), r.actor, u.ID, e)
	if msg, status, ok := formError(err); ok {
		d, gerr := s.userGroups(r, userData{User: u, Error: msg})
		if gerr != nil {
			return gerr
		}
		return s.render(w, r, status, "user", &view{Title: u.Username, Nav: "users", Data: d})
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/users/"+url.PathEscape(u.ID)+"?done=saved")
}

// groupsData is the groups page.
type groupsData struct {
	Search string
	Groups []directory.Group
	Next   string
}

func (s *Server) groupsPage(w http.ResponseWriter, r *request) error {
	q := r.URL.Query()
	page, err := s.Manager.Groups(r.Context(), r.actor, manage.GroupQuery{Search: q.Get("q"), After: q.Get("after"), Limit: pageSize})
	if err != nil {
		return err
	}
	d := groupsData{Search: q.Get("q"), Groups: page.Items}
	if page.Next != "" {
		d.Next = "/groups?" + url.Values{"q": {d.Search}, "after": {page.Next}}.Encode()
	}
	return s.render(w, r, http.StatusOK, "groups", &view{Title: "Groups", Nav: "groups", Data: d})
}

// groupData is a group's page: its direct or effective members, a page.
type groupData struct {
	Group     directory.Group
	Members   []directory.Member
	Effective bool
	Next      string
}

func (s *Server) groupPage(w http.ResponseWriter, r *request) error {
	q := r.URL.Query()
	eff := q.Get("members") == "effective"
	g, page, err := s.Manager.Members(r.Context(), r.actor, r.PathValue("group"), manage.MemberQuery{Effective: eff, After: q.Get("after"), Limit: pageSize})
	if err != nil {
		return err
	}
	d := groupData{Group: g, Members: page.Items, Effective: eff}
	if page.Next != "" {
		d.Next = "/groups/" + url.PathEscape(g.ID) + "?" + url.Values{"members": {q.Get("members")}, "after": {page.Next}}.Encode()
	}
	return s.render(w, r, http.StatusOK, "group", &view{Title: g.Name, Nav: "groups", Data: d})
}

// trashData is the trash page.
type trashData struct {
	Trash manage.Trash
	Now   time.Time
}

// DaysLeft is how many days are left before an object trashed at t is
// purged.
func (d trashData) DaysLeft(t time.Time) int {
	left := d.Trash.PurgeAfter(t).Sub(d.Now)
	if left < 0 {
		return 0
	}
	return int((left + 24*time.Hour - 1) / (24 * time.Hour))
}

func (s *Server) trashPage(w http.ResponseWriter, r *request) error {
	t, err := s.Manager.ListTrash(r.Context(), r.actor, manage.TrashQuery{After: r.URL.Query().Get("after"), Limit: 200})
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "trash", &view{Title: "Trash", Nav: "trash", Data: trashData{Trash: t, Now: s.Manager.Clock().Now()}})
}

// trashRef reads which object a trash form names.
func trashRef(r *request) (manage.TrashRef, error) {
	kind := directory.MemberKind(r.PathValue("kind"))
	if kind != directory.MemberUser && kind != directory.MemberGroup {
		return manage.TrashRef{}, &Error{Status: http.StatusNotFound, Message: "The trash holds users and groups only."}
	}
	return manage.TrashRef{Kind: kind, Key: r.PathValue("id")}, nil
}

func (s *Server) restore(w http.ResponseWriter, r *request) error {
	ref, err := trashRef(r)
	if err != nil {
		return err
	}
	if _, err := s.Manager.Restore(r.Context(), r.actor, ref); err != nil {
		return err
	}
	return redirect(w, r, "/trash?done=restored")
}

// purgeConfirm asks before a purge: it cannot be undone.
func (s *Server) purgeConfirm(w http.ResponseWriter, r *request) error {
	ref, err := trashRef(r)
	if err != nil {
		return err
	}
	name := ref.Key
	if ref.Kind == directory.MemberUser {
		u, err := s.Manager.User(r.Context(), r.actor, ref.Key)
		if err != nil {
			return err
		}
		name = "user " + u.Username
	} else {
		g, err := s.Manager.Group(r.Context(), r.actor, ref.Key)
		if err != nil {
			return err
		}
		name = "group " + g.Name
	}
	return s.render(w, r, http.StatusOK, "purge", &view{Title: "Purge " + name, Nav: "trash", Data: struct {
		Ref  manage.TrashRef
		Name string
	}{ref, name}})
}

func (s *Server) purge(w http.ResponseWriter, r *request) error {
	ref, err := trashRef(r)
	if err != nil {
		return err
	}
	if r.PostFormValue("confirm") != "yes" {
		return badForm("Tick the confirmation to purge: a purge cannot be undone.")
	}
	if _, err := s.Manager.Purge(r.Context(), r.actor, ref); err != nil {
		return err
	}
	return redirect(w, r, "/trash?done=purged")
}
