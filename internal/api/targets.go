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
	LastRun           *manage.ExportRun   `json:"last_run"`
	CreatedAt         time.Time           `json:"created_at"`
	UpdatedAt         time.Time           `json:"updated_at"`
}

func targetView(v manage.TargetView) TargetView {
	out := TargetView{ID: v.ID, Name: v.Name, Kind: string(v.Kind), Enabled: v.Enabled, Settings: json.RawMessage(v.Config),
		SecretSet: v.SecretSet, Sources: v.Settings.Sources, SourceNames: v.SourceNames, Staging: v.Settings.Staging,
		DeletionThreshold: v.Settings.Threshold(), UsageLocation: v.Settings.UsageLocation, Schedule: v.Settings.ScheduleText(),
		Flows: v.Flows, SyncErrors: v.Errors, LastRun: v.LastRun, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
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
	vs, err := s.Manager.Targets(r.Context(), r.actor)
	if err != nil {
		return err
	}
	out := []TargetView{}
	for _, v := range vs {
		out = append(out, targetView(v))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"targets": out})
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
		r("GET", "/targets", read, s.listTargets),
		r("POST", "/targets", manageAct, s.createTarget),
		r("GET", "/targets/{id}", read, s.getTarget),
		r("PATCH", "/targets/{id}", manageAct, s.updateTarget),
		r("DELETE", "/targets/{id}", manageAct, s.deleteTarget),
		r("POST", "/targets/{id}/test", manageAct, s.testTarget),
	}
}
