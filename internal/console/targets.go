package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/provision"
)

// The targets' pages: the Entra ID tenants the account provisions into,
// each with its mode, sources, flows, sync errors and cycles, and a cycle's
// plan with each step's outcome.

func (s *Server) targetsPage(w http.ResponseWriter, r *request) error {
	ts, err := s.Manager.Targets(r.Context(), r.actor)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "targets", &view{Title: "Targets", Nav: "targets", Data: ts})
}

func (s *Server) targetPage(w http.ResponseWriter, r *request) error {
	t, err := s.Manager.Target(r.Context(), r.actor, r.PathValue("target"))
	if err != nil {
		return err
	}
	errs, err := s.Manager.TargetErrors(r.Context(), r.actor, t.ID)
	if err != nil {
		return err
	}
	runs, err := s.Manager.TargetRuns(r.Context(), r.actor, t.ID, 20)
	if err != nil {
		return err
	}
	type runRow struct {
		manage.ExportRun
		S provision.Summary
	}
	var rows []runRow
	refresh := 0
	for _, run := range runs {
		row := runRow{ExportRun: run}
		_ = json.Unmarshal(run.Summary, &row.S)
		rows = append(rows, row)
		if run.Outcome == provision.RunRunning {
			refresh = 3
		}
	}
	return s.render(w, r, http.StatusOK, "target", &view{Title: t.Name, Nav: "targets", Refresh: refresh, Data: struct {
		Target manage.TargetView
		Errors []manage.TargetError
		Runs   []runRow
	}{t, errs, rows}})
}

// targetSync starts a cycle and opens the target's page, which follows it:
// a cycle of a large directory takes minutes, longer than a request.
func (s *Server) targetSync(w http.ResponseWriter, r *request) error {
	t, err := s.Manager.Target(r.Context(), r.actor, r.PathValue("target"))
	if err != nil {
		return err
	}
	if !r.actor.Can(manage.ActSync) {
		return &manage.Error{Kind: manage.Forbidden, Message: "your role may not run a target's cycle"}
	}
	req := manage.TargetSyncRequest{Full: r.PostFormValue("full") == "on", AllowDeletes: r.PostFormValue("allow_deletes") == "on"}
	actor := r.actor
	ctx := context.WithoutCancel(r.Context())
	go func() {
		if _, err := s.Manager.SyncTarget(ctx, actor, t.ID, req); err != nil {
			s.Logger.Info("console: target cycle", "target", t.Name, "err", err)
		}
	}()
	return redirect(w, r, "/targets/"+url.PathEscape(t.Name)+"?done=cycle")
}

// targetStaging turns staging mode on or off.
func (s *Server) targetStaging(w http.ResponseWriter, r *request) error {
	on := r.PostFormValue("staging") == "on"
	t, err := s.Manager.SetTarget(r.Context(), r.actor, r.PathValue("target"), manage.TargetInput{Staging: &on})
	if err != nil {
		return err
	}
	return redirect(w, r, "/targets/"+url.PathEscape(t.Name)+"?done=saved")
}

func (s *Server) targetRunPage(w http.ResponseWriter, r *request) error {
	t, err := s.Manager.Target(r.Context(), r.actor, r.PathValue("target"))
	if err != nil {
		return err
	}
	run, steps, err := s.Manager.TargetRun(r.Context(), r.actor, r.PathValue("run"))
	if err != nil {
		return err
	}
	if run.TargetID != t.ID {
		return &manage.Error{Kind: manage.NotFound, Message: "target " + t.Name + " has no run " + r.PathValue("run")}
	}
	var sum provision.Summary
	_ = json.Unmarshal(run.Summary, &sum)
	refresh := 0
	if run.Outcome == provision.RunRunning {
		refresh = 3
	}
	return s.render(w, r, http.StatusOK, "target_run", &view{Title: "Cycle of " + t.Name, Nav: "targets", Refresh: refresh, Data: struct {
		Target  manage.TargetView
		Run     manage.ExportRun
		Summary provision.Summary
		Steps   []provision.Step
	}{t, run, sum, steps}})
}
