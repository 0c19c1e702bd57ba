package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/scope"
)

// SourceView is a source as the API shows it: its settings, never its
// secret, and what manage says of it (status, next runs).
type SourceView struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Kind         string            `json:"kind"`
	Description  string            `json:"description"`
	Enabled      bool              `json:"enabled"`
	Settings     json.RawMessage   `json:"settings"`
	SecretSet    bool              `json:"secret_set"`
	Scope        scope.Settings    `json:"scope"`
	Schedule     schedule.Schedule `json:"schedule"`
	ScheduleText string            `json:"schedule_text"`
	NextRun      *time.Time        `json:"next_run"`
	NextRuns     []time.Time       `json:"next_runs"`
	Status       SourceStatus      `json:"status"`
	LastRun      *directory.Run    `json:"last_run"`
	ActiveRun    *directory.Run    `json:"active_run"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
}

// SourceStatus says where a source stands.
type SourceStatus struct {
	// State is connected, never_run, last_run_failed, reauthorization_required,
	// secret_expiring, secret_expired or turned_off.
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
	// SecretExpiresInDays is set when the settings give the secret's expiry.
	SecretExpiresInDays *int `json:"secret_expires_in_days,omitempty"`
}

func sourceView(v manage.SourceView) SourceView {
	out := SourceView{ID: v.ID, Name: v.Name, Kind: string(v.Kind), Description: v.Description, Enabled: v.Enabled,
		Settings: json.RawMessage(v.Config), SecretSet: v.SecretSet, Scope: v.Scope, Schedule: v.Schedule,
		ScheduleText: v.Schedule.String(), NextRuns: v.NextRuns, LastRun: v.LastRun, ActiveRun: v.Active,
		Status:    SourceStatus{State: v.Status.State, Message: v.Status.Message, SecretExpiresInDays: v.Status.SecretExpiresInDays},
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
	if len(out.NextRuns) > 0 {
		out.NextRun = &out.NextRuns[0]
	} else {
		out.NextRuns = []time.Time{}
	}
	return out
}

func (s *Server) listSources(w http.ResponseWriter, r *request) error {
	q, err := pageQuery(r)
	if err != nil {
		return err
	}
	page, err := s.Manager.SourcePage(r.Context(), r.actor, q)
	if err != nil {
		return err
	}
	out := []SourceView{}
	for _, v := range page.Items {
		out = append(out, sourceView(v))
	}
	return writePage(w, r, "sources", out, page.Next, nil)
}

func (s *Server) getSource(w http.ResponseWriter, r *request) error {
	v, err := s.Manager.Source(r.Context(), r.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	if fresh(w, r, v.Version) {
		return nil
	}
	return writeJSON(w, http.StatusOK, sourceView(v))
}

// sourceInput is the body of a create or an update; absent fields are
// left as they are.
type sourceInput struct {
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	Kind        *string         `json:"kind"`
	Settings    json.RawMessage `json:"settings"`
	Secret      *string         `json:"secret"`
	Enabled     *bool           `json:"enabled"`
	// Schedule is a schedule object or its text ("daily 03:15 in Europe/Paris").
	Schedule json.RawMessage `json:"schedule"`
	// Scope is the scope rules and import options.
	Scope json.RawMessage `json:"scope"`
}

func present(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// input parses the body into the use case's input.
func (in sourceInput) input() (manage.SourceInput, error) {
	out := manage.SourceInput{Name: in.Name, Description: in.Description, Enabled: in.Enabled}
	if in.Kind != nil {
		out.Kind = directory.SourceKind(*in.Kind)
	}
	if present(in.Settings) {
		out.Config = in.Settings
	}
	if in.Secret != nil {
		out.Secret = []byte(*in.Secret)
	}
	if present(in.Schedule) {
		sc, err := manage.DecodeSchedule(in.Schedule)
		if err != nil {
			return out, err
		}
		out.Schedule = &sc
	}
	if present(in.Scope) {
		sc, err := manage.ParseScope(in.Scope)
		if err != nil {
			return out, err
		}
		out.Scope = &sc
	}
	return out, nil
}

func (s *Server) createSource(w http.ResponseWriter, r *request) error {
	var body sourceInput
	if err := decode(r, &body); err != nil {
		return err
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	v, err := s.Manager.AddSource(r.Context(), r.actor, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/sources/"+v.ID)
	w.Header().Set("ETag", etag(v.Version))
	return writeJSON(w, http.StatusCreated, sourceView(v))
}

func (s *Server) updateSource(w http.ResponseWriter, r *request) error {
	var body sourceInput
	if err := decode(r, &body); err != nil {
		return err
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	if in.IfVersion, err = ifMatch(r); err != nil {
		return err
	}
	v, err := s.Manager.UpdateSource(r.Context(), r.actor, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(v.Version))
	return writeJSON(w, http.StatusOK, sourceView(v))
}

func (s *Server) deleteSource(w http.ResponseWriter, r *request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	if _, err := s.Manager.RemoveSourceIfVersion(r.Context(), r.actor, r.PathValue("id"), version); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) enableSource(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *request) error {
		v, err := s.Manager.SetEnabled(r.Context(), r.actor, r.PathValue("id"), on)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, sourceView(v))
	}
}

// CheckView is the answer to a connection test.
type CheckView struct {
	OK     bool                 `json:"ok"`
	Checks []manage.CheckResult `json:"checks"`
	Error  *CheckError          `json:"error,omitempty"`
}

// CheckError is why a connection test failed, for an administrator.
type CheckError struct {
	Kind    string `json:"kind,omitempty"`
	Message string `json:"message"`
}

func (s *Server) testSource(w http.ResponseWriter, r *request) error {
	t, err := s.Manager.TestSource(r.Context(), r.actor, r.PathValue("id"))
	if err != nil && t.Checks == nil {
		return err
	}
	out := CheckView{OK: t.OK, Checks: t.Checks}
	if t.Problem != nil {
		out.Error = &CheckError{Kind: t.Problem.Kind, Message: t.Problem.Message}
	}
	return writeJSON(w, http.StatusOK, out)
}

// syncMode reads a sync request's mode.
func syncMode(mode string) (manage.SyncRequest, error) {
	switch mode {
	case "", ModeDelta:
		return manage.SyncRequest{}, nil
	case ModeFull:
		return manage.SyncRequest{Full: true}, nil
	case ModeDryRun:
		return manage.SyncRequest{DryRun: true}, nil
	}
	return manage.SyncRequest{}, badField("mode", "mode %q is unknown: want delta, full or dry_run", mode)
}

// syncSource answers 202 with the run, queued, and its Location; the run
// then goes queued -> running -> its outcome.
func (s *Server) syncSource(w http.ResponseWriter, r *request) error {
	var in struct {
		Mode         string `json:"mode"`
		AllowDeletes bool   `json:"allow_deletes"`
	}
	if r.ContentLength != 0 {
		if err := decode(r, &in); err != nil {
			return err
		}
	}
	req, err := syncMode(in.Mode)
	if err != nil {
		return err
	}
	req.AllowDeletes = in.AllowDeletes
	run, err := s.Manager.RequestSync(r.Context(), r.actor, r.PathValue("id"), req)
	if run.ID != "" {
		w.Header().Set("Location", "/api/v1/runs/"+run.ID)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, run)
}

func (s *Server) syncUser(w http.ResponseWriter, r *request) error {
	var in struct {
		User   string `json:"user"`
		DryRun bool   `json:"dry_run"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	run, err := s.Manager.SyncUser(r.Context(), r.actor, r.PathValue("id"), in.User, in.DryRun)
	switch manage.KindOf(err) {
	case manage.SourceFailed, manage.Stopped:
		// A run that failed or stopped is still the answer: it says why.
		if run.ID != "" {
			s.logger().Info("single-user sync did not apply", "run", run.ID, "err", err)
			err = nil
		}
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, run)
}
