package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/store"
)

// SourceView is a source as the API shows it: its settings, never its secret.
type SourceView struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Kind         string            `json:"kind"`
	Description  string            `json:"description"`
	Enabled      bool              `json:"enabled"`
	Settings     json.RawMessage   `json:"settings"`
	SecretSet    bool              `json:"secret_set"`
	Schedule     schedule.Schedule `json:"schedule"`
	ScheduleText string            `json:"schedule_text"`
	NextRun      *time.Time        `json:"next_run"`
	Status       SourceStatus      `json:"status"`
	LastRun      *directory.Run    `json:"last_run"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
}

// SourceStatus says where a source stands.
type SourceStatus struct {
	// State is connected, never_run, last_run_failed, reauthorization_required,
	// secret_expiring or turned_off.
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
	// SecretExpiresInDays is set when the settings give the secret's expiry.
	SecretExpiresInDays *int `json:"secret_expires_in_days,omitempty"`
}

// sourceSchedule returns the source's stored schedule and last firing;
// a source without one is manual only.
func (s *Server) sourceSchedule(ctx context.Context, rd store.Reader, src directory.Source) (schedule.Schedule, time.Time, error) {
	none := schedule.Schedule{Kind: schedule.None}
	svc := rd
	ss, err := svc.SourceSchedule(ctx, src.ID)
	if errors.Is(err, store.ErrNotFound) {
		return none, time.Time{}, nil
	}
	if err != nil {
		return none, time.Time{}, err
	}
	var sc schedule.Schedule
	if err := json.Unmarshal(ss.Spec, &sc); err != nil {
		return none, time.Time{}, fmt.Errorf("source %s: stored schedule: %w", src.ID, err)
	}
	return sc, ss.LastRun, nil
}

func (s *Server) sourceView(ctx context.Context, src directory.Source) (SourceView, error) {
	v := SourceView{ID: src.ID, Name: src.Name, Kind: string(src.Kind), Description: src.Description, Enabled: src.Enabled,
		Settings: src.Config, SecretSet: len(src.Secret) > 0, CreatedAt: src.CreatedAt, UpdatedAt: src.UpdatedAt}
	if len(v.Settings) == 0 {
		v.Settings = json.RawMessage("{}")
	}
	sc, last, err := s.sourceSchedule(ctx, s.Store, src)
	if err != nil {
		return v, err
	}
	v.Schedule, v.ScheduleText = sc, sc.String()
	if src.Enabled {
		if _, next := schedule.Due(sc, last, s.now()); !next.IsZero() {
			v.NextRun = &next
		}
	}
	runs, err := s.Store.Runs(ctx, src.AccountID, src.ID, 1)
	if err != nil {
		return v, err
	}
	if len(runs) > 0 {
		v.LastRun = &runs[0]
	}
	var h store.SourceHealth
	if svc := s.Store; true {
		if h, err = svc.SourceHealth(ctx, src.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return v, err
		}
	}
	v.Status = s.status(src, v.LastRun, h)
	return v, nil
}

func (s *Server) status(src directory.Source, last *directory.Run, h store.SourceHealth) SourceStatus {
	var st SourceStatus
	var cfg struct {
		SecretExpires string `json:"secret_expires"`
	}
	_ = json.Unmarshal(src.Config, &cfg)
	if cfg.SecretExpires != "" {
		if exp, err := time.Parse(time.DateOnly, cfg.SecretExpires); err == nil {
			days := int(exp.Sub(s.now()).Hours() / 24)
			st.SecretExpiresInDays = &days
		}
	}
	switch {
	case !src.Enabled:
		st.State, st.Message = "turned_off", "the source is turned off: it syncs neither on schedule nor on request"
	case h.AuthFailing:
		st.State, st.Message = "reauthorization_required", "Could not connect: reauthorization required: "+h.AuthMessage
	case last != nil && (last.Outcome == directory.OutcomeFailed || last.Outcome == directory.OutcomeStopped):
		st.State, st.Message = "last_run_failed", last.Reason
	case st.SecretExpiresInDays != nil && *st.SecretExpiresInDays <= 30:
		st.State, st.Message = "secret_expiring", fmt.Sprintf("the client secret expires in %d days", *st.SecretExpiresInDays)
	case last == nil:
		st.State = "never_run"
	default:
		st.State = "connected"
	}
	return st
}

func (s *Server) findSource(ctx context.Context, r *request) (directory.Source, error) {
	src, err := s.Store.Source(ctx, r.account.ID, r.PathValue("id"))
	return src, storeErr(err, "source")
}

func (s *Server) listSources(w http.ResponseWriter, r *request) error {
	srcs, err := s.Store.Sources(r.Context(), r.account.ID)
	if err != nil {
		return err
	}
	out := []SourceView{}
	for _, src := range srcs {
		v, err := s.sourceView(r.Context(), src)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"sources": out})
}

func (s *Server) getSource(w http.ResponseWriter, r *request) error {
	src, err := s.findSource(r.Context(), r)
	if err != nil {
		return err
	}
	v, err := s.sourceView(r.Context(), src)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// sourceInput is the body of a create or an update; nil fields are left as they are.
type sourceInput struct {
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	Kind        *string         `json:"kind"`
	Settings    json.RawMessage `json:"settings"`
	Secret      *string         `json:"secret"`
	Enabled     *bool           `json:"enabled"`
	// Schedule is a schedule object or its text ("daily 03:15 in Europe/Paris").
	Schedule json.RawMessage `json:"schedule"`
}

func parseSchedule(raw json.RawMessage) (schedule.Schedule, error) {
	var sc schedule.Schedule
	var err error
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '"' {
		var text string
		if err := json.Unmarshal(t, &text); err != nil {
			return sc, badField("schedule", "schedule: %v", err)
		}
		sc, err = schedule.Parse(text)
	} else {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if derr := dec.Decode(&sc); derr != nil {
			return sc, badField("schedule", "schedule: want a schedule object or text such as \"daily 03:15\": %v", derr)
		}
		err = sc.Validate()
	}
	var se *schedule.Error
	if errors.As(err, &se) {
		return sc, badField("schedule."+se.Field, "schedule: %s", se.Msg)
	}
	if err != nil {
		return sc, badField("schedule", "schedule: %v", err)
	}
	return sc, nil
}

// checkSettings validates the settings with the connector, offline.
func (s *Server) checkSettings(src directory.Source, secretValue []byte) error {
	if s.CheckSettings == nil {
		return nil
	}
	err := s.CheckSettings(src, secretValue)
	if err == nil {
		return nil
	}
	var ce *connector.Error
	if errors.As(err, &ce) {
		return badField("settings", "settings: %s", ce.Message)
	}
	// Registry errors are about the settings' form (an unknown field,
	// a wrong type): the caller's to fix.
	return badField("settings", "%v", err)
}

func (s *Server) createSource(w http.ResponseWriter, r *request) error {
	var in sourceInput
	if err := decode(r, &in); err != nil {
		return err
	}
	src := directory.Source{AccountID: r.account.ID, Enabled: true}
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		return badField("name", "name is required")
	}
	src.Name = strings.TrimSpace(*in.Name)
	if in.Description != nil {
		src.Description = *in.Description
	}
	if in.Kind == nil {
		return badField("kind", "kind is required: entra or ldap")
	}
	switch k := directory.SourceKind(*in.Kind); k {
	case directory.KindEntra, directory.KindLDAP:
		src.Kind = k
	default:
		return badField("kind", "kind %q is unknown: want entra or ldap", *in.Kind)
	}
	if len(in.Settings) == 0 || !bytes.HasPrefix(bytes.TrimSpace(in.Settings), []byte("{")) {
		return badField("settings", "settings is required: a JSON object of the connector's settings")
	}
	src.Config = compactJSON(in.Settings)
	if in.Secret == nil || *in.Secret == "" {
		return badField("secret", "secret is required: the client secret, certificate and key, or bind password")
	}
	if in.Enabled != nil {
		src.Enabled = *in.Enabled
	}
	var sc *schedule.Schedule
	if len(in.Schedule) > 0 && string(in.Schedule) != "null" {
		p, err := parseSchedule(in.Schedule)
		if err != nil {
			return err
		}
		sc = &p
	}
	if err := s.checkSettings(src, []byte(*in.Secret)); err != nil {
		return err
	}
	sealed, err := s.Box.Seal([]byte(*in.Secret))
	if err != nil {
		return err
	}
	src.Secret = sealed
	ctx := r.Context()
	err = s.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateSource(ctx, &src); err != nil {
			return storeErr(err, "a source named "+src.Name)
		}
		final := schedule.Schedule{Kind: schedule.None}
		switch {
		case sc != nil:
			final = *sc
		case src.Kind == directory.KindEntra:
			// Duo syncs once a day at a time of its choosing; the hash of
			// the id spreads sources over the day.
			final = schedule.DefaultDaily(src.ID, "")
		}
		return setSchedule(ctx, tx, src, final, s.now())
	})
	if err != nil {
		return err
	}
	v, err := s.sourceView(ctx, src)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, v)
}

// setSchedule stores the schedule, counting its first slot from now.
func setSchedule(ctx context.Context, tx store.Tx, src directory.Source, sc schedule.Schedule, now time.Time) error {
	stx := tx
	spec, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	return stx.SetSourceSchedule(ctx, store.SourceSchedule{SourceID: src.ID, AccountID: src.AccountID, Spec: spec, LastRun: now})
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

func (s *Server) updateSource(w http.ResponseWriter, r *request) error {
	var in sourceInput
	if err := decode(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	src, err := s.findSource(ctx, r)
	if err != nil {
		return err
	}
	if in.Kind != nil && *in.Kind != string(src.Kind) {
		return badField("kind", "a source's kind cannot change; add a new source instead")
	}
	if in.Name != nil {
		if strings.TrimSpace(*in.Name) == "" {
			return badField("name", "name cannot be empty")
		}
		src.Name = strings.TrimSpace(*in.Name)
	}
	if in.Description != nil {
		src.Description = *in.Description
	}
	if in.Enabled != nil {
		src.Enabled = *in.Enabled
	}
	resetCursor := false
	if len(in.Settings) > 0 || in.Secret != nil {
		if len(in.Settings) > 0 {
			if !bytes.HasPrefix(bytes.TrimSpace(in.Settings), []byte("{")) {
				return badField("settings", "settings must be a JSON object")
			}
			src.Config = compactJSON(in.Settings)
			// Other settings may mean another tenant: its cursor is worthless.
			resetCursor = true
		}
		plain, err := s.Box.Open(src.Secret)
		if err != nil {
			return err
		}
		if in.Secret != nil {
			if *in.Secret == "" {
				return badField("secret", "secret cannot be empty")
			}
			plain = []byte(*in.Secret)
		}
		if err := s.checkSettings(src, plain); err != nil {
			return err
		}
		if src.Secret, err = s.Box.Seal(plain); err != nil {
			return err
		}
	}
	var sc *schedule.Schedule
	if len(in.Schedule) > 0 && string(in.Schedule) != "null" {
		p, err := parseSchedule(in.Schedule)
		if err != nil {
			return err
		}
		sc = &p
	}
	err = s.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.UpdateSource(ctx, src); err != nil {
			return storeErr(err, "a source named "+src.Name)
		}
		if resetCursor {
			if err := tx.SetSourceState(ctx, src.ID, ""); err != nil {
				return err
			}
		}
		if sc != nil {
			return setSchedule(ctx, tx, src, *sc, s.now())
		}
		return nil
	})
	if err != nil {
		return err
	}
	src, err = s.Store.Source(ctx, r.account.ID, src.ID)
	if err != nil {
		return err
	}
	v, err := s.sourceView(ctx, src)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) deleteSource(w http.ResponseWriter, r *request) error {
	ctx := r.Context()
	src, err := s.findSource(ctx, r)
	if err != nil {
		return err
	}
	err = s.Store.Update(ctx, func(tx store.Tx) error { return storeErr(tx.DeleteSource(ctx, r.account.ID, src.ID), "source") })
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) enableSource(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *request) error {
		ctx := r.Context()
		var src directory.Source
		err := s.Store.Update(ctx, func(tx store.Tx) error {
			var err error
			if src, err = tx.Source(ctx, r.account.ID, r.PathValue("id")); err != nil {
				return storeErr(err, "source")
			}
			src.Enabled = on
			return tx.UpdateSource(ctx, src)
		})
		if err != nil {
			return err
		}
		v, err := s.sourceView(ctx, src)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, v)
	}
}

func (s *Server) syncer() (Syncer, error) {
	if s.Syncer == nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "this server runs no sync workers"}
	}
	return s.Syncer, nil
}

// CheckView is the answer to a connection test.
type CheckView struct {
	OK     bool                    `json:"ok"`
	Checks []connector.CheckResult `json:"checks"`
	Error  *CheckError             `json:"error,omitempty"`
}

// CheckError is why a connection test failed, for an administrator.
type CheckError struct {
	Kind    string `json:"kind,omitempty"`
	Message string `json:"message"`
}

func (s *Server) testSource(w http.ResponseWriter, r *request) error {
	src, err := s.findSource(r.Context(), r)
	if err != nil {
		return err
	}
	sy, err := s.syncer()
	if err != nil {
		return err
	}
	checks, cerr := sy.Check(r.Context(), src)
	out := CheckView{OK: cerr == nil, Checks: checks}
	if out.Checks == nil {
		out.Checks = []connector.CheckResult{}
	}
	if cerr != nil {
		var ce *connector.Error
		if errors.As(cerr, &ce) {
			out.Error = &CheckError{Kind: string(ce.Kind), Message: ce.Error()}
		} else {
			s.logger().Warn("source test failed", "source", src.ID, "err", cerr)
			out.Error = &CheckError{Message: "the connection test could not run; see the server log"}
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) syncSource(w http.ResponseWriter, r *request) error {
	var in struct {
		Mode string `json:"mode"`
	}
	if r.ContentLength != 0 {
		if err := decode(r, &in); err != nil {
			return err
		}
	}
	switch in.Mode {
	case "":
		in.Mode = ModeDelta
	case ModeDelta, ModeFull, ModeDryRun:
	default:
		return badField("mode", "mode %q is unknown: want delta, full or dry_run", in.Mode)
	}
	src, err := s.findSource(r.Context(), r)
	if err != nil {
		return err
	}
	if !src.Enabled {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "source " + src.Name + " is turned off; turn it on first"}
	}
	sy, err := s.syncer()
	if err != nil {
		return err
	}
	status, err := sy.Request(src, in.Mode, "api")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{"status": status, "source_id": src.ID, "mode": in.Mode})
}

func (s *Server) syncUser(w http.ResponseWriter, r *request) error {
	var in struct {
		User   string `json:"user"`
		DryRun bool   `json:"dry_run"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.User) == "" {
		return badField("user", "user is required: the user's id in the source or its username (userPrincipalName)")
	}
	src, err := s.findSource(r.Context(), r)
	if err != nil {
		return err
	}
	if !src.Enabled {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "source " + src.Name + " is turned off; turn it on first"}
	}
	sy, err := s.syncer()
	if err != nil {
		return err
	}
	run, err := sy.SyncUser(r.Context(), src, strings.TrimSpace(in.User), in.DryRun)
	switch {
	case errors.Is(err, engine.ErrUnsupported):
		return notImplemented(fmt.Sprintf("source %s (%s) cannot sync one user; run a delta sync instead", src.Name, src.Kind))
	case errors.Is(err, engine.ErrBusy):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "a run of source " + src.Name + " is in progress; try again when it ends", Err: err}
	case run.ID == "":
		return err
	}
	// A run that failed or stopped is still the answer: it says why.
	if err != nil {
		s.logger().Info("single-user sync did not apply", "source", src.ID, "run", run.ID, "err", err)
	}
	return writeJSON(w, http.StatusOK, run)
}
