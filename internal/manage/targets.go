package manage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/provision"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/store"
)

// TargetInput is what a front end gives to add or change a target (an
// Entra ID tenant dirsync provisions into). On a change, nil fields stay
// as they are.
type TargetInput struct {
	Name *string
	// Kind is the target's kind (entra); only when adding.
	Kind directory.TargetKind
	// Config is the connection's settings (entra's: tenant, client_id,
	// cloud, authority_url, graph_url, ca_pem, auth_method), a JSON object
	// without secrets.
	Config json.RawMessage
	// Secret is the write app's client secret (or certificate and key) in
	// the clear; it is sealed before it is stored.
	Secret []byte
	// Sources name the account's sources (names or ids) that feed the
	// target; they replace the current ones.
	Sources           []string
	Staging           *bool
	DeletionThreshold *int
	UsageLocation     *string
	// Flows set attribute flows (cloud attribute to directory attribute,
	// "" for none); ResetFlows first goes back to the default table.
	Flows      map[string]string
	ResetFlows bool
	Schedule   *string
	Enabled    *bool
}

// ExportRun is one export cycle of a target, its plan and outcomes.
type ExportRun = store.ExportRun

// TargetError is one object's sync error (Azure AD Connect's sync errors).
type TargetError = store.TargetError

// TargetView is a target as every front end shows it, never its secret.
type TargetView struct {
	directory.Target
	SecretSet bool
	Settings  provision.Settings
	// SourceNames are the names of the sources that feed it, in the order
	// of Settings.Sources ("(removed)" for one that no longer exists).
	SourceNames []string
	Flows       []provision.FlowRow
	LastRun     *ExportRun
	// NextRun is when the schedule runs it next; zero when turned off.
	NextRun time.Time
	// Errors counts the sync errors of the last cycle.
	Errors int
}

func (m *Manager) findTarget(ctx context.Context, rd store.Reader, actor Actor, key string) (directory.Target, error) {
	t, err := rd.Target(ctx, actor.AccountID, strings.TrimSpace(key))
	if errors.Is(err, store.ErrNotFound) {
		return t, notFound("account %s has no target %q", actor.AccountName, key).with(err)
	}
	return t, err
}

// Targets lists the account's targets.
func (m *Manager) Targets(ctx context.Context, actor Actor) ([]TargetView, error) {
	if err := actor.require(ActRead); err != nil {
		return nil, err
	}
	ts, err := m.d.Store.Targets(ctx, actor.AccountID)
	if err != nil {
		return nil, err
	}
	out := []TargetView{}
	for _, t := range ts {
		v, err := m.targetView(ctx, t)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Target returns one target by name or id.
func (m *Manager) Target(ctx context.Context, actor Actor, key string) (TargetView, error) {
	if err := actor.require(ActRead); err != nil {
		return TargetView{}, err
	}
	t, err := m.findTarget(ctx, m.d.Store, actor, key)
	if err != nil {
		return TargetView{}, err
	}
	return m.targetView(ctx, t)
}

func (m *Manager) targetView(ctx context.Context, t directory.Target) (TargetView, error) {
	v := TargetView{Target: t, SecretSet: len(t.Secret) > 0}
	v.Target.Secret = nil
	var err error
	if v.Settings, err = provision.ParseSettings(t.Settings); err != nil {
		return v, fmt.Errorf("target %s: %w", t.Name, err)
	}
	if v.Settings.Sources == nil {
		v.Settings.Sources = []string{}
	}
	for _, id := range v.Settings.Sources {
		src, err := m.d.Store.Source(ctx, t.AccountID, id)
		switch {
		case err == nil:
			v.SourceNames = append(v.SourceNames, src.Name)
		case errors.Is(err, store.ErrNotFound):
			v.SourceNames = append(v.SourceNames, "(removed)")
		default:
			return v, err
		}
	}
	v.Flows = v.Settings.FlowTable()
	runs, err := m.d.Store.ExportRuns(ctx, t.ID, 1)
	if err != nil {
		return v, err
	}
	if len(runs) > 0 {
		v.LastRun = &runs[0]
		v.LastRun.Plan = nil // a plan may hold thousands of steps: TargetRun reads it
	}
	errs, err := m.d.Store.TargetErrors(ctx, t.ID)
	if err != nil {
		return v, err
	}
	v.Errors = len(errs)
	v.NextRun = m.NextTargetRun(ctx, t)
	return v, nil
}

// AddTarget adds a target: its connection settings checked offline, its
// secret sealed, its sources the account's Active Directory sources.
func (m *Manager) AddTarget(ctx context.Context, actor Actor, in TargetInput) (TargetView, error) {
	if err := actor.require(ActManageSources); err != nil {
		return TargetView{}, err
	}
	t := directory.Target{AccountID: actor.AccountID, Kind: in.Kind, Enabled: true}
	if in.Name == nil {
		return TargetView{}, invalid("name", "name is required: a name for the target, unique in the account")
	}
	if in.Kind == "" {
		in.Kind, t.Kind = directory.TargetEntra, directory.TargetEntra
	}
	if in.Kind != directory.TargetEntra {
		return TargetView{}, invalid("kind", "kind %q is unknown: want entra", in.Kind)
	}
	if len(in.Config) == 0 {
		return TargetView{}, invalid("settings", "settings are required: a JSON object with the tenant and the write app's client_id")
	}
	if len(in.Secret) == 0 {
		return TargetView{}, invalid("secret", "the secret is required: the write app's client secret, or its certificate and key")
	}
	var err error
	var view TargetView
	err = m.d.Store.Update(ctx, func(tx store.Tx) error {
		if err := m.applyTarget(ctx, tx, actor, &t, in); err != nil {
			return err
		}
		if _, err := tx.Source(ctx, actor.AccountID, t.Name); err == nil {
			return &Error{Kind: Conflict, Code: CodeAlreadyExists, Field: "name", Message: fmt.Sprintf("account %s has a source named %q: give the target another name (dirsync sync takes either)", actor.AccountName, t.Name)}
		}
		if err := tx.CreateTarget(ctx, &t); err != nil {
			return targetNameTaken(err, actor, t.Name)
		}
		return nil
	})
	if err != nil {
		return view, err
	}
	return m.targetView(ctx, t)
}

// SetTarget changes a target's settings; what the input leaves nil stays.
func (m *Manager) SetTarget(ctx context.Context, actor Actor, key string, in TargetInput) (TargetView, error) {
	if err := actor.require(ActManageSources); err != nil {
		return TargetView{}, err
	}
	var t directory.Target
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		if t, err = m.findTarget(ctx, tx, actor, key); err != nil {
			return err
		}
		if in.Kind != "" && in.Kind != t.Kind {
			return invalid("kind", "a target's kind cannot change")
		}
		if len(in.Config) > 0 && len(in.Secret) == 0 {
			if f := credentialTargetChanged(directory.KindEntra, t.Config, in.Config); f != "" {
				return invalid("secret", "changing %s needs the secret again in the same change, so that the stored one is never sent elsewhere", f)
			}
		}
		if err := m.applyTarget(ctx, tx, actor, &t, in); err != nil {
			return err
		}
		if err := tx.UpdateTarget(ctx, t); err != nil {
			return targetNameTaken(err, actor, t.Name)
		}
		return nil
	})
	if err != nil {
		return TargetView{}, err
	}
	return m.targetView(ctx, t)
}

// applyTarget lays the input over t, checking each part.
func (m *Manager) applyTarget(ctx context.Context, rd store.Reader, actor Actor, t *directory.Target, in TargetInput) error {
	if in.Name != nil {
		name, err := targetName(*in.Name)
		if err != nil {
			return err
		}
		t.Name = name
	}
	if in.Enabled != nil {
		t.Enabled = *in.Enabled
	}
	if len(in.Config) > 0 || len(in.Secret) > 0 {
		if err := m.applyTargetCredential(t, in); err != nil {
			return err
		}
	}
	s, err := provision.ParseSettings(t.Settings)
	if err != nil {
		return err
	}
	if in.Sources != nil {
		if s.Sources, err = targetSources(ctx, rd, actor, in.Sources); err != nil {
			return err
		}
	}
	if err := overlayTargetSettings(&s, in); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		var se *provision.SettingError
		if errors.As(err, &se) {
			return invalid(se.Field, "%s", se.Message)
		}
		return err
	}
	t.Settings, err = json.Marshal(s)
	return err
}

// targetName is a target's name as given, trimmed, or why it is refused.
func targetName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", invalid("name", "the name is empty")
	case len(name) > maxSourceNameLength:
		return "", invalid("name", "the name is longer than %d characters", maxSourceNameLength)
	case strings.ContainsAny(name, "\r\n\t"):
		return "", invalid("name", "the name holds a line break or a tab")
	}
	return name, nil
}

// applyTargetCredential checks the connection settings with the secret
// (the new one, or the stored one opened) and seals the secret.
func (m *Manager) applyTargetCredential(t *directory.Target, in TargetInput) error {
	config, secretValue := in.Config, in.Secret
	if len(config) == 0 {
		config = t.Config
	}
	if len(secretValue) == 0 {
		plain, err := m.openSecret(t.Secret, "target "+t.Name)
		if err != nil {
			return err
		}
		secretValue = plain
	}
	canonical, err := checkTargetConfig(config, secretValue)
	if err != nil {
		return err
	}
	t.Config = canonical
	box, err := m.box()
	if err != nil {
		return err
	}
	t.Secret, err = box.Seal(secretValue)
	return err
}

// targetSources are the ids of the sources named, each once: Active
// Directory (ldap) sources of the account only.
func targetSources(ctx context.Context, rd store.Reader, actor Actor, keys []string) ([]string, error) {
	var ids []string
	for _, key := range keys {
		src, err := rd.Source(ctx, actor.AccountID, strings.TrimSpace(key))
		if errors.Is(err, store.ErrNotFound) {
			return nil, invalid("sources", "account %s has no source %q", actor.AccountName, key).with(err)
		} else if err != nil {
			return nil, err
		}
		if src.Kind != directory.KindLDAP {
			return nil, invalid("sources", "source %s is an %s tenant: a target is fed by Active Directory (ldap) sources", src.Name, src.Kind)
		}
		if !slices.Contains(ids, src.ID) {
			ids = append(ids, src.ID)
		}
	}
	return ids, nil
}

// overlayTargetSettings sets in s the settings the input gives.
func overlayTargetSettings(s *provision.Settings, in TargetInput) error {
	if in.Staging != nil {
		s.Staging = *in.Staging
	}
	if in.DeletionThreshold != nil {
		s.DeletionThreshold = *in.DeletionThreshold
	}
	if in.UsageLocation != nil {
		s.UsageLocation = strings.ToUpper(strings.TrimSpace(*in.UsageLocation))
	}
	if in.ResetFlows {
		s.Flows = nil
	}
	for k, v := range in.Flows {
		if s.Flows == nil {
			s.Flows = map[string]string{}
		}
		s.Flows[k] = v
	}
	if in.Schedule != nil {
		text := strings.TrimSpace(*in.Schedule)
		if text != "" {
			if _, err := schedule.Parse(text); err != nil {
				return invalid("schedule", "%v", err)
			}
		}
		s.Schedule = text
	}
	return nil
}

// checkTargetConfig validates an Entra target's connection settings with
// its secret, offline, and returns them in one canonical form.
func checkTargetConfig(config json.RawMessage, secretValue []byte) ([]byte, error) {
	var cfg entra.Config
	dec := json.NewDecoder(strings.NewReader(string(config)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, invalid("settings", "settings must be a JSON object of an Entra target's settings: %v", err)
	}
	if _, err := provision.Open(cfg, secretValue, provision.Options{}); err != nil {
		var ce *connector.Error
		if errors.As(err, &ce) {
			return nil, invalid("settings", "%s", ce.Message).with(err)
		}
		return nil, invalid("settings", "%v", err).with(err)
	}
	return json.Marshal(cfg)
}

func targetNameTaken(err error, actor Actor, name string) error {
	if errors.Is(err, store.ErrAlreadyExists) {
		return &Error{Kind: Conflict, Code: CodeAlreadyExists, Field: "name", Message: fmt.Sprintf("account %s already has a target named %q", actor.AccountName, name), Err: err}
	}
	return err
}

// RemoveTarget removes a target with its history, links and errors.
// Nothing in the tenant changes: the users dirsync created stay there.
func (m *Manager) RemoveTarget(ctx context.Context, actor Actor, key string) (directory.Target, error) {
	if err := actor.require(ActManageSources); err != nil {
		return directory.Target{}, err
	}
	var t directory.Target
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		if t, err = m.findTarget(ctx, tx, actor, key); err != nil {
			return err
		}
		return tx.DeleteTarget(ctx, actor.AccountID, t.ID)
	})
	t.Secret = nil
	return t, err
}

// TargetTest is the outcome of a target's connection test.
type TargetTest struct {
	Target  string
	OK      bool
	Checks  []CheckResult
	Problem *SourceProblem
}

// TestTarget signs in to the target's tenant and says which permission
// the write app lacks, if any.
func (m *Manager) TestTarget(ctx context.Context, actor Actor, key string) (TargetTest, error) {
	if err := actor.require(ActManageSources); err != nil {
		return TargetTest{}, err
	}
	t, err := m.findTarget(ctx, m.d.Store, actor, key)
	if err != nil {
		return TargetTest{}, err
	}
	tenant, err := m.openTenant(t)
	if err != nil {
		return TargetTest{}, err
	}
	checks, cerr := tenant.Check(ctx)
	out := TargetTest{Target: t.Name, OK: cerr == nil, Checks: checks}
	if out.Checks == nil {
		out.Checks = []CheckResult{}
	}
	if cerr == nil {
		return out, nil
	}
	out.Problem = problem(cerr)
	m.d.Logger.Info("target test failed", "target", t.ID, "err", cerr)
	return out, &Error{Kind: SourceFailed, Message: fmt.Sprintf("target %s: connection test failed: %s", t.Name, out.Problem.Message), Err: cerr}
}

// openTenant opens the target's tenant with its secret.
func (m *Manager) openTenant(t directory.Target) (*provision.Tenant, error) {
	plain, err := m.openSecret(t.Secret, "target "+t.Name)
	if err != nil {
		return nil, err
	}
	var cfg entra.Config
	if err := json.Unmarshal(t.Config, &cfg); err != nil {
		return nil, fmt.Errorf("target %s: stored settings: %w", t.Name, err)
	}
	tenant, err := provision.Open(cfg, plain, provision.Options{Clock: m.d.Clock})
	if err != nil {
		return nil, invalid("settings", "target %s: %v", t.Name, err).with(err)
	}
	return tenant, nil
}
