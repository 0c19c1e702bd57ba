package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/provision"
)

// TargetView is a target (an Entra ID tenant dirsync provisions into) as
// the API shows it, never its secret.
type TargetView struct {
	ID                string              `json:"id"`
	Name              string              `json:"name"`
	Kind              string              `json:"kind"`
	Enabled           bool                `json:"enabled"`
	Settings          json.RawMessage     `json:"settings"`
	SecretSet         bool                `json:"secret_set"`
	Sources           []string            `json:"sources"`
	SourceNames       []string            `json:"source_names"`
	Staging           bool                `json:"staging"`
	DeletionThreshold int                 `json:"deletion_threshold"`
	UsageLocation     string              `json:"usage_location"`
	Schedule          string              `json:"schedule"`
	Flows             []provision.FlowRow `json:"flows"`
	SyncErrors        int                 `json:"sync_errors"`
	NextRun           *time.Time          `json:"next_run"`
	LastRun           *manage.ExportRun   `json:"last_run"`
	CreatedAt         time.Time           `json:"created_at"`
	UpdatedAt         time.Time           `json:"updated_at"`
}

func targetView(v manage.TargetView) TargetView {
	out := TargetView{ID: v.ID, Name: v.Name, Kind: string(v.Kind), Enabled: v.Enabled, Settings: json.RawMessage(v.Config),
		SecretSet: v.SecretSet, Sources: v.Settings.Sources, SourceNames: v.SourceNames, Staging: v.Settings.Staging,
		DeletionThreshold: v.Settings.Threshold(), UsageLocation: v.Settings.UsageLocation, Schedule: v.Settings.ScheduleText(),
		Flows: v.Flows, SyncErrors: v.Errors, LastRun: v.LastRun, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
	if !v.NextRun.IsZero() {
		out.NextRun = &v.NextRun
	}
	if out.SourceNames == nil {
		out.SourceNames = []string{}
	}
	if out.Sources == nil {
		out.Sources = []string{}
	}
	return out
}

// targetInput is the body of a create or an update; absent fields are
// left as they are.
type targetInput struct {
	Name              *string           `json:"name"`
	Kind              *string           `json:"kind"`
	Settings          json.RawMessage   `json:"settings"`
	Secret            *string           `json:"secret"`
	Enabled           *bool             `json:"enabled"`
	Sources           []string          `json:"sources"`
	Staging           *bool             `json:"staging"`
	DeletionThreshold *int              `json:"deletion_threshold"`
	UsageLocation     *string           `json:"usage_location"`
	Flows             map[string]string `json:"flows"`
	ResetFlows        bool              `json:"reset_flows"`
	Schedule          *string           `json:"schedule"`
}

func (in targetInput) input() manage.TargetInput {
	out := manage.TargetInput{Name: in.Name, Enabled: in.Enabled, Sources: in.Sources, Staging: in.Staging,
		DeletionThreshold: in.DeletionThreshold, UsageLocation: in.UsageLocation, Flows: in.Flows, ResetFlows: in.ResetFlows,
		Schedule: in.Schedule}
	if in.Kind != nil {
		out.Kind = directory.TargetKind(*in.Kind)
	}
	if present(in.Settings) {
		out.Config = in.Settings
	}
	if in.Secret != nil {
		out.Secret = []byte(*in.Secret)
	}
	return out
}

func (s *Server) listTargets(w http.ResponseWriter, r *request) error {
	q, err := pageQuery(r)
	if err != nil {
		return err
	}
	page, err := s.Manager.TargetPage(r.Context(), r.actor, q)
	if err != nil {
		return err
	}
	out := []TargetView{}
	for _, v := range page.Items {
		out = append(out, targetView(v))
	}
	return writePage(w, r, "targets", out, page.Next, nil)
}

func (s *Server) getTarget(w http.ResponseWriter, r *request) error {
	v, err := s.Manager.Target(r.Context(), r.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, targetView(v))
}

func (s *Server) createTarget(w http.ResponseWriter, r *request) error {
	var body targetInput
	if err := decode(r, &body); err != nil {
		return err
	}
	v, err := s.Manager.AddTarget(r.Context(), r.actor, body.input())
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/targets/"+v.ID)
	return writeJSON(w, http.StatusCreated, targetView(v))
}

func (s *Server) updateTarget(w http.ResponseWriter, r *request) error {
	var body targetInput
	if err := decode(r, &body); err != nil {
		return err
	}
	v, err := s.Manager.SetTarget(r.Context(), r.actor, r.PathValue("id"), body.input())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, targetView(v))
}

func (s *Server) deleteTarget(w http.ResponseWriter, r *request) error {
	if _, err := s.Manager.RemoveTarget(r.Context(), r.actor, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) testTarget(w http.ResponseWriter, r *request) error {
	t, err := s.Manager.TestTarget(r.Context(), r.actor, r.PathValue("id"))
	if err != nil && t.Checks == nil {
		return err
	}
	out := CheckView{OK: t.OK, Checks: t.Checks}
	if t.Problem != nil {
		out.Error = &CheckError{Kind: t.Problem.Kind, Message: t.Problem.Message}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) targetRoutes(r func(method, pattern string, act manage.Action, h handlerFunc) Route) []Route {
	read, manageAct := manage.ActRead, manage.ActManageSources
	return []Route{
		r("GET", "/targets", read, s.listTargets).paged(),
		r("POST", "/targets", manageAct, s.createTarget),
		r("GET", "/targets/{id}", read, s.getTarget),
		r("PATCH", "/targets/{id}", manageAct, s.updateTarget),
		r("DELETE", "/targets/{id}", manageAct, s.deleteTarget),
		r("POST", "/targets/{id}/test", manageAct, s.testTarget),
		r("POST", "/targets/{id}/sync", manage.ActSync, s.syncTarget),
		r("GET", "/targets/{id}/errors", read, s.listTargetErrors).paged(),
		r("GET", "/targets/{id}/runs", read, s.listTargetRuns).paged(),
		r("GET", "/targets/{id}/runs/{run}", read, s.getTargetRun),
		r("GET", "/config", manageAct, s.exportConfig),
		r("POST", "/config/import", manageAct, s.importConfig),
	}
}

// ExportRunView is an export cycle as the API shows it: its record, its
// summary and (for one run) its plan with each step's outcome.
type ExportRunView struct {
	manage.ExportRun
	Summary provision.Summary `json:"summary"`
	Plan    []provision.Step  `json:"plan,omitempty"`
}

func exportRunView(r manage.ExportRun, steps []provision.Step, withPlan bool) ExportRunView {
	out := ExportRunView{ExportRun: r}
	_ = json.Unmarshal(r.Summary, &out.Summary)
	out.ExportRun.Summary, out.ExportRun.Plan = nil, nil
	if withPlan {
		out.Plan = steps
		if out.Plan == nil {
			out.Plan = []provision.Step{}
		}
	}
	return out
}

// targetSyncInput is the body of a sync request.
type targetSyncInput struct {
	// Mode is delta (the default) or full (the tenant read from scratch).
	Mode         string `json:"mode"`
	AllowDeletes bool   `json:"allow_deletes"`
}

// syncTarget runs one export cycle and answers with it when it ends.
func (s *Server) syncTarget(w http.ResponseWriter, r *request) error {
	var body targetSyncInput
	if r.ContentLength != 0 {
		if err := decode(r, &body); err != nil {
			return err
		}
	}
	req := manage.TargetSyncRequest{AllowDeletes: body.AllowDeletes}
	switch body.Mode {
	case "", ModeDelta:
	case ModeFull:
		req.Full = true
	default:
		return badField("mode", "mode %q is unknown: want delta or full", body.Mode)
	}
	c, err := s.Manager.SyncTarget(r.Context(), r.actor, r.PathValue("id"), req)
	if err != nil && manage.KindOf(err) != manage.Stopped {
		return err
	}
	c.Run.Summary, _ = json.Marshal(c.Summary)
	return writeJSON(w, http.StatusOK, exportRunView(c.Run, c.Steps, true))
}

func (s *Server) listTargetErrors(w http.ResponseWriter, r *request) error {
	q, err := pageQuery(r)
	if err != nil {
		return err
	}
	page, err := s.Manager.TargetErrorPage(r.Context(), r.actor, r.PathValue("id"), q)
	if err != nil {
		return err
	}
	return writePage(w, r, "errors", page.Items, page.Next, nil)
}

func (s *Server) listTargetRuns(w http.ResponseWriter, r *request) error {
	q, err := pageQuery(r)
	if err != nil {
		return err
	}
	page, err := s.Manager.TargetRunPage(r.Context(), r.actor, r.PathValue("id"), q)
	if err != nil {
		return err
	}
	out := []ExportRunView{}
	for _, run := range page.Items {
		out = append(out, exportRunView(run, nil, false))
	}
	return writePage(w, r, "runs", out, page.Next, nil)
}

func (s *Server) getTargetRun(w http.ResponseWriter, r *request) error {
	t, err := s.Manager.Target(r.Context(), r.actor, r.PathValue("id"))
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
	return writeJSON(w, http.StatusOK, exportRunView(run, steps, true))
}

func (s *Server) exportConfig(w http.ResponseWriter, r *request) error {
	c, err := s.Manager.ExportConfig(r.Context(), r.actor)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

// configImportInput is the body of an import: the document an export
// wrote, the secrets it lacks, and whether to only show the changes.
type configImportInput struct {
	Config  json.RawMessage   `json:"config"`
	Secrets map[string]string `json:"secrets"`
	DryRun  bool              `json:"dry_run"`
}

func (s *Server) importConfig(w http.ResponseWriter, r *request) error {
	var body configImportInput
	if err := decode(r, &body); err != nil {
		return err
	}
	secrets := map[string][]byte{}
	for k, v := range body.Secrets {
		secrets[k] = []byte(v)
	}
	res, err := s.Manager.ImportConfig(r.Context(), r.actor, body.Config, secrets, body.DryRun)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}
