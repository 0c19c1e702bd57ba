package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/scope"
)

// The forms of a source's page that change it: its schedule, and its
// scope and import options. Each reads the whole form into the use case's
// type and lets manage check it; a refusal is shown beside the form.

// scheduleKinds are the schedule editor's choices, in Sophos's words.
var scheduleKinds = []struct{ Value, Label string }{
	{string(schedule.None), "None (only when asked)"},
	{string(schedule.Minutes), "Every N minutes"},
	{string(schedule.Hours), "Every N hours from a start time (hourly)"},
	{string(schedule.Daily), "Daily"},
	{string(schedule.Weekly), "Weekly, on chosen days"},
	{string(schedule.Monthly), "Monthly, on one or two dates"},
}

var weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

// scheduleFrom reads the schedule editor.
func scheduleFrom(r *request) (schedule.Schedule, error) {
	sc := schedule.Schedule{Kind: schedule.Kind(r.PostFormValue("kind")), TimeZone: strings.TrimSpace(r.PostFormValue("time_zone"))}
	num := func(field string) (int, error) {
		v := strings.TrimSpace(r.PostFormValue(field))
		if v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, badForm("%q is not a whole number", v)
		}
		return n, nil
	}
	var err error
	switch sc.Kind {
	case schedule.Minutes:
		sc.Every, err = num("every_minutes")
	case schedule.Hours:
		sc.Every, err = num("every_hours")
		sc.At = r.PostFormValue("at")
	case schedule.Daily, schedule.Weekly, schedule.Monthly:
		sc.At = r.PostFormValue("at")
	}
	if err != nil {
		return sc, err
	}
	if sc.Kind == schedule.Weekly {
		for _, d := range r.PostForm["weekday"] {
			n, err := strconv.Atoi(d)
			if err != nil || n < 0 || n > 6 {
				return sc, badForm("%q is not a day of the week", d)
			}
			sc.Weekdays = append(sc.Weekdays, time.Weekday(n))
		}
	}
	if sc.Kind == schedule.Monthly {
		for _, f := range []string{"day1", "day2"} {
			n, err := num(f)
			if err != nil {
				return sc, err
			}
			if n != 0 {
				sc.Days = append(sc.Days, n)
			}
		}
	}
	return sc, nil
}

func (s *Server) setSchedule(w http.ResponseWriter, r *request) error {
	sc, err := scheduleFrom(r)
	if err == nil {
		_, err = s.Manager.SetSchedule(r.Context(), r.actor, r.PathValue("source"), sc)
	}
	if msg, status, ok := formError(err); ok {
		return s.renderSource(w, r, status, func(d *sourceData) error {
			d.ScheduleError, d.Schedule = msg, sc
			return nil
		})
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/sources/"+url.PathEscape(r.PathValue("source"))+"?done=schedule#schedule-h")
}

// formError is the message and status of a refusal to show beside a form:
// a bad form, or a use case's error that is not about who may do it.
func formError(err error) (string, int, bool) {
	if ce, ok := err.(*Error); ok {
		return ce.Message, ce.Status, true
	}
	if me := manage.AsError(err); me != nil && me.Kind != manage.Forbidden && me.Kind != manage.NotFound {
		return me.Message, kindStatus[me.Kind], true
	}
	return "", 0, false
}

// scopeFrom reads the scope form over the source's current settings, so
// that what the form does not show stays as it is.
func scopeFrom(r *request, cur scope.Settings) (scope.Settings, error) {
	f := r.PostForm
	on := func(name string) bool { return f.Get(name) == "on" }
	st := cur
	st.Groups.Mode = scope.GroupMode(f.Get("groups_mode"))
	st.Groups.Selected = nil
	for _, id := range f["group"] {
		if !slices.Contains(st.Groups.Selected, id) {
			st.Groups.Selected = append(st.Groups.Selected, id)
		}
	}
	if st.Groups.Mode == scope.ModeAll {
		st.Groups.Selected = nil
	}
	st.PickedUsers = nil
	for _, id := range f["picked"] {
		if !slices.Contains(st.PickedUsers, id) {
			st.PickedUsers = append(st.PickedUsers, id)
		}
	}
	st.UserRules = nil
	for _, i := range f["rule"] {
		n, err := strconv.Atoi(i)
		if err != nil || n < 0 || n >= len(cur.UserRules) {
			return st, badForm("rule %q is not one of the source's rules: reload the page", i)
		}
		st.UserRules = append(st.UserRules, cur.UserRules[n])
	}
	if attr := f.Get("new_attribute"); attr != "" && strings.TrimSpace(f.Get("new_values")) != "" {
		rule := scope.Rule{Action: scope.Action(f.Get("new_action")), Attribute: attr, Op: scope.Op(f.Get("new_op"))}
		for _, v := range strings.Split(f.Get("new_values"), ",") {
			if v = strings.TrimSpace(v); v != "" {
				rule.Values = append(rule.Values, v)
			}
		}
		st.UserRules = append(st.UserRules, rule)
	}
	st.RequireLicense, st.RequireEmail = on("require_license"), on("require_email")
	st.NormalizeUsernames, st.ImportPhones = on("normalize_usernames"), on("import_phones")
	st.PhoneRegion = strings.ToUpper(strings.TrimSpace(f.Get("phone_region")))
	st.Tags = nil
	for _, t := range strings.Split(f.Get("tags"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			st.Tags = append(st.Tags, t)
		}
	}
	st.TagMode = scope.TagMode(f.Get("tag_mode"))
	update, deletions := on("update_existing"), on("process_deletions")
	st.UpdateExisting, st.ProcessDeletions = &update, &deletions
	var err error
	if st.DeletionLimit.MaxObjects, err = atoiOrZero(f.Get("max_objects")); err != nil {
		return st, err
	}
	if st.DeletionLimit.MaxPercent, err = atoiOrZero(f.Get("max_percent")); err != nil {
		return st, err
	}
	return st, nil
}

func atoiOrZero(v string) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, badForm("%q is not a whole number", v)
	}
	return n, nil
}

func (s *Server) setScope(w http.ResponseWriter, r *request) error {
	v, err := s.Manager.Source(r.Context(), r.actor, r.PathValue("source"))
	if err != nil {
		return err
	}
	st, err := scopeFrom(r, v.Scope)
	if err == nil {
		_, err = s.Manager.UpdateSource(r.Context(), r.actor, v.ID, manage.SourceInput{Scope: &st})
	}
	if msg, status, ok := formError(err); ok {
		return s.renderSource(w, r, status, func(d *sourceData) error {
			d.ScopeError = msg
			return nil
		})
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/sources/"+url.PathEscape(v.Name)+"?done=scope#scope-h")
}

// pickerSearch is a picker's search of the source (the group picker's,
// capped at 100 results that say when there are more; the picked users',
// Password Depot's search and pick), read from the query parameter param:
// the text searched, what it found, and the message of a refused search.
func (s *Server) pickerSearch(r *request, sourceID, param, what string) (string, *manage.SearchResult, string, error) {
	q := strings.TrimSpace(r.URL.Query().Get(param))
	if q == "" || !r.actor.Can(manage.ActManageSources) {
		return "", nil, "", nil
	}
	res, err := s.Manager.SearchSource(r.Context(), r.actor, sourceID, what, q)
	if msg, _, ok := formError(err); ok {
		return q, nil, msg, nil
	}
	if err != nil {
		return q, nil, "", err
	}
	return q, &res, "", nil
}

// ruleAttributes and ruleOps are the rule builder's choices.
var (
	ruleAttributes = scope.Attributes()
	ruleOps        = []scope.Op{scope.Equals, scope.NotEquals, scope.Contains, scope.StartsWith, scope.EndsWith, scope.In}
)
