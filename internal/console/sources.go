package console

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/scope"
)

// maxUpload bounds a form with a file (a CA certificate).
const maxUpload = 1 << 20

// entraForm is the Entra ID wizard's fields (never the secret, which is
// not shown again).
type entraForm struct {
	Name, Description, Tenant, ClientID, Cloud, SecretExpires string
	AuthorityURL, GraphURL                                    string
	Error, Field                                              string
}

// clouds are the national clouds the wizard offers.
var clouds = []struct{ Value, Label string }{
	{"global", "Global (login.microsoftonline.com)"},
	{"usgov", "US Government (GCC High)"},
	{"usgovdod", "US Government (DoD)"},
	{"china", "China (21Vianet)"},
	{"custom", "Custom endpoints (a proxy, the emulated tenant)"},
}

func (s *Server) newSourcePage(w http.ResponseWriter, r *request) error {
	return s.render(w, r, http.StatusOK, "source_new", &view{Title: "Add a source", Nav: "overview", Data: sourceNewData{Entra: entraForm{Cloud: "global"}, Clouds: clouds}})
}

type sourceNewData struct {
	Entra  entraForm
	LDAP   ldapForm
	Clouds any
}

// addEntraSource adds an Entra ID source from the wizard and opens its
// page with a connection test.
func (s *Server) addEntraSource(w http.ResponseWriter, r *request) error {
	if err := r.ParseMultipartForm(maxUpload); err != nil && err != http.ErrNotMultipart {
		return badForm("the form could not be read: %v", err)
	}
	f := entraForm{Name: strings.TrimSpace(r.FormValue("name")), Description: r.FormValue("description"),
		Tenant: strings.TrimSpace(r.FormValue("tenant")), ClientID: strings.TrimSpace(r.FormValue("client_id")),
		Cloud: r.FormValue("cloud"), SecretExpires: r.FormValue("secret_expires"),
		AuthorityURL: strings.TrimSpace(r.FormValue("authority_url")), GraphURL: strings.TrimSpace(r.FormValue("graph_url"))}
	caPEM, err := uploaded(r, "ca_file")
	if err != nil {
		return err
	}
	cfg := entra.Config{Tenant: f.Tenant, ClientID: f.ClientID, Cloud: f.Cloud, AuthorityURL: f.AuthorityURL, GraphURL: f.GraphURL,
		CAPEM: caPEM, AuthMethod: entra.AuthSecret, SecretExpires: f.SecretExpires}
	raw, _ := json.Marshal(cfg)
	var secret []byte
	if v := r.FormValue("client_secret"); v != "" {
		secret = []byte(v)
	}
	_, err = s.Manager.AddSource(r.Context(), r.actor, manage.SourceInput{Name: &f.Name, Description: &f.Description,
		Kind: directory.KindEntra, Config: raw, Secret: secret})
	if me := manage.AsError(err); me != nil && me.Kind != manage.Forbidden {
		f.Error, f.Field = me.Message, me.Field
		return s.render(w, r, kindStatus[me.Kind], "source_new", &view{Title: "Add a source", Nav: "overview", Data: sourceNewData{Entra: f, Clouds: clouds}})
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/sources/"+url.PathEscape(f.Name)+"?test=1&done=added")
}

// uploaded reads a small uploaded file, "" when none was chosen.
func uploaded(r *request, field string) (string, error) {
	if r.MultipartForm == nil {
		return "", nil
	}
	file, _, err := r.FormFile(field)
	if err == http.ErrMissingFile {
		return "", nil
	}
	if err != nil {
		return "", badForm("the file %s could not be read: %v", field, err)
	}
	defer file.Close()
	b, err := io.ReadAll(io.LimitReader(file, maxUpload))
	if err != nil {
		return "", badForm("the file %s could not be read: %v", field, err)
	}
	return string(b), nil
}

// sourceData is a source's page.
type sourceData struct {
	Source manage.SourceView
	Config map[string]any
	Runs   []directory.Run
	// Test is a connection test's outcome, when one was asked for.
	Test *manage.SourceTest
	// CredError is what the credentials form said went wrong.
	CredError string
	// Schedule is the schedule shown in the editor: the one refused, with
	// ScheduleError, else the source's.
	Schedule      schedule.Schedule
	ScheduleError string
	ScopeError    string
	// The group picker's search and what it found.
	GroupQuery       string
	GroupResults     *manage.SearchResult
	GroupSearchError string
	// The picked users' search and what it found.
	UserQuery       string
	UserResults     *manage.SearchResult
	UserSearchError string
	// SyncQuery, SyncResults and SyncSearchError are Sync one user's
	// search: by display name, UPN or email, in the source and the
	// directory.
	SyncQuery       string
	SyncResults     *manage.SearchResult
	SyncSearchError string
}

// Picked reports whether the user is picked.
func (d *sourceData) Picked(id string) bool { return slices.Contains(d.Source.Scope.PickedUsers, id) }

// Choices of the source page's forms.
func (d *sourceData) ScheduleKinds() any                   { return scheduleKinds }
func (d *sourceData) Weekdays() []time.Weekday             { return weekdays }
func (d *sourceData) RuleAttributes() []scope.AttributeDoc { return ruleAttributes }
func (d *sourceData) RuleOps() []scope.Op                  { return ruleOps }
func (d *sourceData) MaxSelected() int                     { return scope.MaxSelectedGroups }
func (d *sourceData) MaxResults() int                      { return scope.MaxSearchResults }

// HasWeekday reports whether the schedule shown runs on day.
func (d *sourceData) HasWeekday(day time.Weekday) bool {
	return slices.Contains(d.Schedule.Weekdays, day)
}

// Day is the schedule's i-th date, "" when it has none.
func (d *sourceData) Day(i int) string {
	if i < len(d.Schedule.Days) {
		return strconv.Itoa(d.Schedule.Days[i])
	}
	return ""
}

// Every is the schedule's interval when it is of the kind, else "".
func (d *sourceData) Every(kind string) string {
	if string(d.Schedule.Kind) == kind && d.Schedule.Every > 0 {
		return strconv.Itoa(d.Schedule.Every)
	}
	return ""
}

// Selected reports whether the group filter selects the group.
func (d *sourceData) Selected(id string) bool {
	return slices.Contains(d.Source.Scope.Groups.Selected, id)
}

// UpdatesExisting and ProcessesDeletions read the options' defaults.
func (d *sourceData) UpdatesExisting() bool { return d.Source.Scope.UpdatesExisting() }
func (d *sourceData) ProcessesDeletions() bool {
	return d.Source.Scope.ProcessDeletions == nil || *d.Source.Scope.ProcessDeletions
}

func (s *Server) sourcePage(w http.ResponseWriter, r *request) error {
	return s.renderSource(w, r, http.StatusOK, func(d *sourceData) error {
		var err error
		if d.GroupQuery, d.GroupResults, d.GroupSearchError, err = s.pickerSearch(r, d.Source.ID, "group_search", "groups"); err != nil {
			return err
		}
		if d.UserQuery, d.UserResults, d.UserSearchError, err = s.pickerSearch(r, d.Source.ID, "user_search", "users"); err != nil {
			return err
		}
		if err := s.syncSearch(r, d); err != nil {
			return err
		}
		if r.URL.Query().Get("test") == "" || !r.actor.Can(manage.ActManageSources) {
			return nil
		}
		t, err := s.Manager.TestSource(r.Context(), r.actor, d.Source.ID)
		if t.Source == "" && err != nil {
			return err
		}
		d.Test = &t
		return nil
	})
}

// renderSource renders a source's page; more fills in what a form added.
func (s *Server) renderSource(w http.ResponseWriter, r *request, status int, more func(*sourceData) error) error {
	key := r.PathValue("source")
	v, err := s.Manager.Source(r.Context(), r.actor, key)
	if err != nil {
		return err
	}
	runs, err := s.Manager.Runs(r.Context(), r.actor, manage.RunQuery{Source: v.ID, Limit: 10})
	if err != nil {
		return err
	}
	d := &sourceData{Source: v, Runs: runs.Items, Schedule: v.Schedule}
	json.Unmarshal(v.Config, &d.Config)
	delete(d.Config, "ca_pem")
	if more != nil {
		if err := more(d); err != nil {
			return err
		}
	}
	return s.render(w, r, status, "source", &view{Title: v.Name, Nav: "overview", Data: d})
}

// setSecret replaces a source's client secret (and its expiry), then tests
// the connection.
func (s *Server) setSecret(w http.ResponseWriter, r *request) error {
	v, err := s.Manager.Source(r.Context(), r.actor, r.PathValue("source"))
	if err != nil {
		return err
	}
	in := manage.SourceInput{Secret: []byte(r.PostFormValue("client_secret"))}
	if exp := r.PostFormValue("secret_expires"); v.Kind == directory.KindEntra {
		var cfg map[string]any
		if err := json.Unmarshal(v.Config, &cfg); err != nil {
			return err
		}
		cfg["secret_expires"] = exp
		if exp == "" {
			delete(cfg, "secret_expires")
		}
		in.Config, _ = json.Marshal(cfg)
	}
	if _, err := s.Manager.UpdateSource(r.Context(), r.actor, v.ID, in); err != nil {
		if me := manage.AsError(err); me != nil && me.Kind != manage.Forbidden {
			return s.renderSource(w, r, kindStatus[me.Kind], func(d *sourceData) error { d.CredError = me.Message; return nil })
		}
		return err
	}
	return redirect(w, r, "/sources/"+url.PathEscape(v.Name)+"?test=1&done=secret")
}

// syncSearch is Sync one user's search, read from sync_search.
func (s *Server) syncSearch(r *request, d *sourceData) error {
	d.SyncQuery = strings.TrimSpace(r.URL.Query().Get("sync_search"))
	if d.SyncQuery == "" || !r.actor.Can(manage.ActSyncUser) {
		return nil
	}
	res, err := s.Manager.FindUserToSync(r.Context(), r.actor, d.Source.ID, d.SyncQuery)
	if msg, _, ok := formError(err); ok {
		d.SyncSearchError = msg
		return nil
	}
	if err != nil {
		return err
	}
	d.SyncResults = &res
	return nil
}
