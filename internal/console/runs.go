package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// maxChangesShown is how many of a run's changes its page reads; the
// filters apply to them. A run with more says so and points to the
// command line and the API, which page through all of them.
const maxChangesShown = 2000

// runsView is the runs table's data, with the page's view for times.
type runsView struct {
	V    *view
	Runs []directory.Run
}

func runsOf(v *view, runs []directory.Run) runsView { return runsView{v, runs} }

// syncNow queues a run of a source (the service's workers run it) and
// opens the run's page, which follows it. allow_deletes is the Allow and
// apply of a run the deletion limit stopped.
func (s *Server) syncNow(w http.ResponseWriter, r *request) error {
	run, err := s.Manager.RequestSync(r.Context(), r.actor, r.PathValue("source"),
		manage.SyncRequest{Full: r.PostFormValue("full") == "on", AllowDeletes: r.PostFormValue("allow_deletes") == "on"})
	if err != nil {
		return err
	}
	return redirect(w, r, "/runs/"+url.PathEscape(run.ID))
}

// setEnabled turns a source on or off (off: it syncs neither on schedule
// nor on request).
func (s *Server) setEnabled(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *request) error {
		v, err := s.Manager.SetEnabled(r.Context(), r.actor, r.PathValue("source"), on)
		if err != nil {
			return err
		}
		done := "off"
		if on {
			done = "on"
		}
		return redirect(w, r, "/sources/"+url.PathEscape(v.Name)+"?done="+done)
	}
}

// preview queues a dry run: the whole plan, nothing applied.
func (s *Server) preview(w http.ResponseWriter, r *request) error {
	run, err := s.Manager.RequestSync(r.Context(), r.actor, r.PathValue("source"), manage.SyncRequest{DryRun: true})
	if err != nil {
		return err
	}
	return redirect(w, r, "/runs/"+url.PathEscape(run.ID))
}

// syncUser syncs one user at once (Duo's Sync Single User).
func (s *Server) syncUser(w http.ResponseWriter, r *request) error {
	run, err := s.Manager.SyncUser(r.Context(), r.actor, r.PathValue("source"), r.PostFormValue("who"), false)
	if run.ID != "" {
		return redirect(w, r, "/runs/"+url.PathEscape(run.ID))
	}
	return err
}

func (s *Server) runsPage(w http.ResponseWriter, r *request) error {
	q := r.URL.Query()
	page, err := s.Manager.Runs(r.Context(), r.actor, manage.RunQuery{Source: q.Get("source"), After: q.Get("after"), Limit: 50})
	if err != nil {
		return err
	}
	srcs, err := s.Manager.Sources(r.Context(), r.actor)
	if err != nil {
		return err
	}
	next := ""
	if page.Next != "" {
		next = "/runs?" + url.Values{"source": {q.Get("source")}, "after": {page.Next}}.Encode()
	}
	return s.render(w, r, http.StatusOK, "runs_list", &view{Title: "Runs", Nav: "runs", Data: struct {
		Runs    []directory.Run
		Sources []manage.SourceView
		Source  string
		Next    string
	}{page.Items, srcs, q.Get("source"), next}})
}

// runData is a run's page.
type runData struct {
	Run     directory.Run
	Changes []directory.Change
	// Total is how many changes were read before the filters; Capped says
	// the run has more than were read.
	Total  int
	Capped bool
	// Action and Kind are the filters; Actions and Kinds what they offer.
	Action, Kind string
	Actions      []directory.ChangeAction
	Kinds        []directory.MemberKind
	// Live says the run has not ended: the page reloads itself.
	Live bool
	// Progress says how far a run in progress has got.
	Progress string
}

func (s *Server) runPage(w http.ResponseWriter, r *request) error {
	run, err := s.Manager.Run(r.Context(), r.actor, r.PathValue("run"))
	if err != nil {
		return err
	}
	changes, err := s.changes(r, run.ID)
	if err != nil {
		return err
	}
	d := runData{Run: run, Action: r.URL.Query().Get("action"), Kind: r.URL.Query().Get("kind"),
		Live: run.Outcome == directory.OutcomeQueued || run.Outcome == directory.OutcomeRunning}
	if d.Live {
		if d.Progress, err = s.progress(r, run); err != nil {
			return err
		}
	}
	if len(changes) > maxChangesShown {
		changes, d.Capped = changes[:maxChangesShown], true
	}
	d.Total = len(changes)
	for _, c := range changes {
		if !slices.Contains(d.Actions, c.Action) {
			d.Actions = append(d.Actions, c.Action)
		}
		if !slices.Contains(d.Kinds, c.ObjectKind) {
			d.Kinds = append(d.Kinds, c.ObjectKind)
		}
		if (d.Action == "" || string(c.Action) == d.Action) && (d.Kind == "" || string(c.ObjectKind) == d.Kind) {
			d.Changes = append(d.Changes, c)
		}
	}
	slices.Sort(d.Actions)
	slices.Sort(d.Kinds)
	v := &view{Title: fmt.Sprintf("Run of %s", run.Source), Nav: "runs", Data: d}
	if d.Live {
		v.Refresh = 2
	}
	return s.render(w, r, http.StatusOK, "run", v)
}

// changes reads a run's changes, up to one more than maxChangesShown, a
// page of the use case's at a time.
func (s *Server) changes(r *request, runID string) ([]directory.Change, error) {
	const pageSize = 1000
	var out []directory.Change
	after := ""
	for len(out) <= maxChangesShown {
		page, err := s.Manager.Changes(r.Context(), r.actor, runID, manage.ChangeQuery{After: after, Limit: pageSize})
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	return out, nil
}

// runStatus is a run's outcome as JSON, for the run page's script that
// follows a run in progress.
func (s *Server) runStatus(w http.ResponseWriter, r *request) error {
	run, err := s.Manager.Run(r.Context(), r.actor, r.PathValue("run"))
	if err != nil {
		return err
	}
	progress, err := s.progress(r, run)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(struct {
		Outcome  directory.Outcome `json:"outcome"`
		Counts   directory.Counts  `json:"counts"`
		Progress string            `json:"progress,omitempty"`
	}{run.Outcome, run.Counts, progress})
}

// progress says how far a run in progress has got: what it read so far,
// then what its apply did so far, and for how long it has run.
func (s *Server) progress(r *request, run directory.Run) (string, error) {
	if run.Outcome != directory.OutcomeRunning {
		return "", nil
	}
	running := "running for " + span(s.Manager.Clock().Now().Sub(run.StartedAt))
	p, ok, err := s.Manager.RunProgress(r.Context(), r.actor, run.ID)
	if err != nil || !ok {
		return running, err
	}
	read := fmt.Sprintf("%s, %s, %s read in %s", plural(p.Users, "user"), plural(p.Groups, "group"),
		plural(p.Members, "membership"), plural(p.Requests, "request"))
	switch {
	case p.Phase == "read":
		return "reading the source: " + read + "; " + running, nil
	case p.Step == "":
		return "applying what it read (" + read + "); " + running, nil
	}
	a := p.Applied
	return fmt.Sprintf("applying, %s done: %d created, %d updated, %d disabled, %d to trash, %d memberships added, %d removed so far (%s); %s",
		p.Step, a.Created, a.Updated, a.Disabled, a.Deleted, a.MembersAdded, a.MembersRemoved, read, running), nil
}

// value shows an attribute's value in a diff.
func value(v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case string:
		if x == "" {
			return "(empty)"
		}
		return x
	case []any:
		if len(x) == 0 {
			return "(none)"
		}
	case []string:
		if len(x) == 0 {
			return "(none)"
		}
	}
	return fmt.Sprint(v)
}
