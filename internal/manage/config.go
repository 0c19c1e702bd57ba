package manage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/provision"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/scope"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/webhook"
)

// ConfigVersion is the version of the configuration document.
const ConfigVersion = 1

// Config is an account's whole configuration but its secrets and its
// directory (Azure AD Connect's "export synchronization settings"):
// sources with their scope rules and schedules, targets with their flows,
// webhooks. It is written in a stable order, objects by name, so that two
// exports diff cleanly.
type Config struct {
	Version  int             `json:"version"`
	Account  string          `json:"account"`
	Sources  []ConfigSource  `json:"sources"`
	Targets  []ConfigTarget  `json:"targets"`
	Webhooks []ConfigWebhook `json:"webhooks"`
}

// ConfigSource is a source in a Config: its settings without the secret.
type ConfigSource struct {
	Name        string          `json:"name"`
	Kind        string          `json:"kind"`
	Description string          `json:"description,omitempty"`
	Enabled     bool            `json:"enabled"`
	Settings    json.RawMessage `json:"settings"`
	Scope       json.RawMessage `json:"scope,omitempty"`
	Schedule    json.RawMessage `json:"schedule"`
}

// ConfigTarget is a target in a Config; Sources are names.
type ConfigTarget struct {
	Name              string            `json:"name"`
	Kind              string            `json:"kind"`
	Enabled           bool              `json:"enabled"`
	Settings          json.RawMessage   `json:"settings"`
	Sources           []string          `json:"sources"`
	Staging           bool              `json:"staging"`
	DeletionThreshold int               `json:"deletion_threshold,omitempty"`
	UsageLocation     string            `json:"usage_location,omitempty"`
	Flows             map[string]string `json:"flows,omitempty"`
	Schedule          string            `json:"schedule,omitempty"`
}

// ConfigWebhook is a webhook in a Config, without its signing secret.
type ConfigWebhook struct {
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types"`
	Enabled    bool     `json:"enabled"`
}

// ExportConfig returns the account's configuration.
func (m *Manager) ExportConfig(ctx context.Context, actor Actor) (Config, error) {
	if err := actor.require(ActManageSources); err != nil {
		return Config{}, err
	}
	return m.exportConfig(ctx, m.d.Store, actor)
}

func (m *Manager) exportConfig(ctx context.Context, rd store.Reader, actor Actor) (Config, error) {
	c := Config{Version: ConfigVersion, Account: actor.AccountName, Sources: []ConfigSource{}, Targets: []ConfigTarget{}, Webhooks: []ConfigWebhook{}}
	srcs, err := rd.Sources(ctx, actor.AccountID)
	if err != nil {
		return c, err
	}
	names := map[string]string{}
	for _, s := range srcs {
		names[s.ID] = s.Name
		cs := ConfigSource{Name: s.Name, Kind: string(s.Kind), Description: s.Description, Enabled: s.Enabled, Settings: orEmpty(s.Config)}
		if len(s.Settings) > 0 {
			cs.Scope = s.Settings
		}
		sc, _, err := m.storedSchedule(ctx, rd, s)
		if err != nil {
			return c, err
		}
		if cs.Schedule, err = json.Marshal(sc); err != nil {
			return c, err
		}
		c.Sources = append(c.Sources, cs)
	}
	targets, err := rd.Targets(ctx, actor.AccountID)
	if err != nil {
		return c, err
	}
	for _, t := range targets {
		s, err := provision.ParseSettings(t.Settings)
		if err != nil {
			return c, err
		}
		ct := ConfigTarget{Name: t.Name, Kind: string(t.Kind), Enabled: t.Enabled, Settings: orEmpty(t.Config), Sources: []string{},
			Staging: s.Staging, DeletionThreshold: s.DeletionThreshold, UsageLocation: s.UsageLocation, Flows: s.Flows, Schedule: s.Schedule}
		for _, id := range s.Sources {
			if n, ok := names[id]; ok {
				ct.Sources = append(ct.Sources, n)
			}
		}
		c.Targets = append(c.Targets, ct)
	}
	hooks, err := rd.Webhooks(ctx, actor.AccountID)
	if err != nil {
		return c, err
	}
	for _, h := range hooks {
		types := h.EventTypes
		if types == nil {
			types = []string{}
		}
		c.Webhooks = append(c.Webhooks, ConfigWebhook{URL: h.URL, EventTypes: types, Enabled: h.Enabled})
	}
	slices.SortFunc(c.Webhooks, func(a, b ConfigWebhook) int { return strings.Compare(a.URL, b.URL) })
	return c, nil
}

func orEmpty(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("{}")
	}
	return b
}

// ConfigChange is one thing an import changes.
type ConfigChange struct {
	Kind   string `json:"kind"` // source, target, webhook
	Name   string `json:"name"`
	Action string `json:"action"` // create, update, unchanged
	// Fields names what an update changes.
	Fields []string `json:"fields,omitempty"`
	// Secret is a webhook's new signing secret, shown once.
	Secret string `json:"secret,omitempty"`
}

// ConfigImport is what an import did, or with DryRun would do.
type ConfigImport struct {
	DryRun  bool           `json:"dry_run"`
	Changes []ConfigChange `json:"changes"`
	// Kept are objects the account has and the file does not: an import
	// never deletes.
	Kept []string `json:"kept,omitempty"`
}

// errDryRun rolls back a dry run's transaction.
var errDryRun = errors.New("dry run")

// ImportConfig makes the account's configuration the document's, in one
// transaction: sources, targets and webhooks it names are created or
// changed; what it does not name is kept (an import never deletes). A new
// source or target needs its secret in secrets, keyed "source:NAME" or
// "target:NAME" (a missing one is an Invalid error naming each); a new
// webhook gets a new signing secret unless secrets has "webhook:URL".
// With dryRun, everything is checked and computed the same way and
// nothing is stored.
func (m *Manager) ImportConfig(ctx context.Context, actor Actor, doc []byte, secrets map[string][]byte, dryRun bool) (ConfigImport, error) {
	if err := actor.require(ActManageSources); err != nil {
		return ConfigImport{}, err
	}
	if len(bytes.TrimSpace(doc)) == 0 || bytes.Equal(bytes.TrimSpace(doc), []byte("null")) {
		return ConfigImport{}, invalid("config", "the configuration is required: the document dirsync config export wrote")
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return ConfigImport{}, invalid("config", "the file is not a dirsync configuration: %v", err)
	}
	if c.Version != ConfigVersion {
		return ConfigImport{}, invalid("config.version", "version %d is not one this dirsync reads (%d)", c.Version, ConfigVersion)
	}
	if _, err := m.box(); err != nil {
		return ConfigImport{}, err
	}
	out := ConfigImport{DryRun: dryRun, Changes: []ConfigChange{}}
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		out.Changes, out.Kept = []ConfigChange{}, nil
		if err := missingSecrets(ctx, tx, actor, c, secrets); err != nil {
			return err
		}
		if err := m.importSources(ctx, tx, actor, c.Sources, secrets, &out); err != nil {
			return err
		}
		if err := m.importTargets(ctx, tx, actor, c.Targets, secrets, &out); err != nil {
			return err
		}
		if err := m.importWebhooks(ctx, tx, actor, c.Webhooks, secrets, &out); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
		for i := range out.Changes {
			out.Changes[i].Secret = "" // never stored: not a secret anyone will use
		}
	}
	return out, err
}

// missingSecrets fails naming every new source and target whose secret
// was not given.
func missingSecrets(ctx context.Context, rd store.Reader, actor Actor, c Config, secrets map[string][]byte) error {
	var missing []string
	for _, cs := range c.Sources {
		if _, err := rd.Source(ctx, actor.AccountID, cs.Name); errors.Is(err, store.ErrNotFound) && secrets["source:"+cs.Name] == nil {
			missing = append(missing, "source:"+cs.Name)
		}
	}
	for _, ct := range c.Targets {
		if _, err := rd.Target(ctx, actor.AccountID, ct.Name); errors.Is(err, store.ErrNotFound) && secrets["target:"+ct.Name] == nil {
			missing = append(missing, "target:"+ct.Name)
		}
	}
	if len(missing) > 0 {
		return invalid("secrets", "the file holds no secrets, and these are new here: give %s (dirsync config import --secret NAME=FILE)", strings.Join(missing, ", "))
	}
	return nil
}

func (m *Manager) importSources(ctx context.Context, tx store.Tx, actor Actor, in []ConfigSource, secrets map[string][]byte, out *ConfigImport) error {
	have, err := tx.Sources(ctx, actor.AccountID)
	if err != nil {
		return err
	}
	var missing []string
	seen := map[string]bool{}
	for _, cs := range in {
		key := strings.ToLower(cs.Name)
		if seen[key] {
			return invalid("sources", "source %q is in the file twice", cs.Name)
		}
		seen[key] = true
		change, err := m.importSource(ctx, tx, actor, cs, have, secrets)
		if errors.Is(err, errSecretMissing) {
			missing = append(missing, "source:"+cs.Name)
			continue
		}
		if err != nil {
			return err
		}
		out.Changes = append(out.Changes, change)
	}
	for _, s := range have {
		if !seen[strings.ToLower(s.Name)] {
			out.Kept = append(out.Kept, "source "+s.Name)
		}
	}
	if len(missing) > 0 {
		return invalid("secrets", "the file has no secrets: give %s (dirsync config import --secret NAME=FILE)", strings.Join(missing, ", "))
	}
	return nil
}

// errSecretMissing is a new source's, imported with no secret given.
var errSecretMissing = errors.New("no secret given for a new source")

// importSource creates or updates one source of the file (have are the
// account's sources), and says what it did.
func (m *Manager) importSource(ctx context.Context, tx store.Tx, actor Actor, cs ConfigSource, have []directory.Source, secrets map[string][]byte) (ConfigChange, error) {
	sc, scopeBytes, err := decodeConfigSource(cs)
	if err != nil {
		return ConfigChange{}, err
	}
	idx := slices.IndexFunc(have, func(s directory.Source) bool { return strings.EqualFold(s.Name, cs.Name) })
	secretValue, given := secrets["source:"+cs.Name]
	src := directory.Source{AccountID: actor.AccountID, Kind: directory.SourceKind(cs.Kind)}
	action := "create"
	if idx >= 0 {
		src, action = have[idx], "update"
		if src.Kind != directory.SourceKind(cs.Kind) {
			return ConfigChange{}, invalid("sources", "source %s is %s here and %s in the file: a kind cannot change", cs.Name, src.Kind, cs.Kind)
		}
		if !given {
			if secretValue, err = m.openSecret(src.Secret, "source "+src.Name); err != nil {
				return ConfigChange{}, err
			}
		}
	} else if !given {
		return ConfigChange{}, errSecretMissing
	}
	before := src
	src.Name, src.Description, src.Enabled, src.Settings = cs.Name, cs.Description, cs.Enabled, scopeBytes
	if src.Config, err = m.checkConfig(src, cs.Settings, secretValue); err != nil {
		return ConfigChange{}, invalid("sources", "source %s: %s", cs.Name, errorText(err))
	}
	if given || action == "create" {
		if src.Secret, err = m.d.Box.Seal(secretValue); err != nil {
			return ConfigChange{}, err
		}
	}
	oldSched, _, err := m.storedSchedule(ctx, tx, before)
	if err != nil && action == "update" {
		return ConfigChange{}, err
	}
	fields := sourceFieldsChanged(before, src, given, oldSched, sc, action)
	if action == "update" && len(fields) == 0 {
		return ConfigChange{Kind: "source", Name: cs.Name, Action: "unchanged"}, nil
	}
	if err := m.storeImportedSource(ctx, tx, actor, before, &src, sc, action); err != nil {
		return ConfigChange{}, err
	}
	return ConfigChange{Kind: "source", Name: cs.Name, Action: action, Fields: fields}, nil
}

// decodeConfigSource reads a file's source schedule and scope.
func decodeConfigSource(cs ConfigSource) (schedule.Schedule, []byte, error) {
	sc, err := DecodeSchedule(cs.Schedule)
	if err != nil {
		return sc, nil, invalid("sources", "source %s: %v", cs.Name, err)
	}
	if len(cs.Scope) == 0 {
		return sc, nil, nil
	}
	s, err := scope.Parse(cs.Scope)
	if err != nil {
		return sc, nil, invalid("sources", "source %s: scope: %v", cs.Name, err)
	}
	scopeBytes, err := encodeScope(s)
	return sc, scopeBytes, err
}

// storeImportedSource writes src (created or updated from before), claims
// its directory, and sets its schedule; changed settings reset its cursor.
func (m *Manager) storeImportedSource(ctx context.Context, tx store.Tx, actor Actor, before directory.Source, src *directory.Source, sc schedule.Schedule, action string) error {
	if err := m.checkClaim(ctx, tx, *src); err != nil {
		return err
	}
	var err error
	if action == "create" {
		err = tx.CreateSource(ctx, src)
	} else {
		err = tx.UpdateSource(ctx, *src)
		if err == nil && (!bytes.Equal(before.Config, src.Config) || !bytes.Equal(before.Settings, src.Settings)) {
			err = tx.SetSourceState(ctx, src.ID, "")
		}
	}
	if err != nil {
		return nameTaken(err, actor, src.Name)
	}
	return m.storeSchedule(ctx, tx, *src, sc)
}

func sourceFieldsChanged(a, b directory.Source, secret bool, sa, sb schedule.Schedule, action string) []string {
	if action == "create" {
		return nil
	}
	var f []string
	if a.Description != b.Description {
		f = append(f, "description")
	}
	if a.Enabled != b.Enabled {
		f = append(f, "enabled")
	}
	if !jsonEqual(a.Config, b.Config) {
		f = append(f, "settings")
	}
	if !jsonEqual(a.Settings, b.Settings) {
		f = append(f, "scope")
	}
	ja, _ := json.Marshal(sa)
	jb, _ := json.Marshal(sb)
	if !bytes.Equal(ja, jb) {
		f = append(f, "schedule")
	}
	if secret {
		f = append(f, "secret")
	}
	return f
}

func (m *Manager) importTargets(ctx context.Context, tx store.Tx, actor Actor, in []ConfigTarget, secrets map[string][]byte, out *ConfigImport) error {
	have, err := tx.Targets(ctx, actor.AccountID)
	if err != nil {
		return err
	}
	var missing []string
	seen := map[string]bool{}
	for _, ct := range in {
		key := strings.ToLower(ct.Name)
		if seen[key] {
			return invalid("targets", "target %q is in the file twice", ct.Name)
		}
		seen[key] = true
		idx := slices.IndexFunc(have, func(t directory.Target) bool { return strings.EqualFold(t.Name, ct.Name) })
		secretValue, given := secrets["target:"+ct.Name]
		t := directory.Target{AccountID: actor.AccountID, Kind: directory.TargetKind(ct.Kind), Enabled: true}
		action := "create"
		if idx >= 0 {
			t, action = have[idx], "update"
		} else if !given {
			missing = append(missing, "target:"+ct.Name)
			continue
		}
		before := t
		name, enabled, staging, thr, usage, sched := ct.Name, ct.Enabled, ct.Staging, ct.DeletionThreshold, ct.UsageLocation, ct.Schedule
		ti := TargetInput{Name: &name, Kind: directory.TargetKind(ct.Kind), Config: ct.Settings, Secret: secretValue, Sources: ct.Sources,
			Staging: &staging, DeletionThreshold: &thr, UsageLocation: &usage, Flows: ct.Flows, ResetFlows: true, Schedule: &sched, Enabled: &enabled}
		if ti.Sources == nil {
			ti.Sources = []string{}
		}
		if err := m.applyTarget(ctx, tx, actor, &t, ti); err != nil {
			return invalid("targets", "target %s: %s", ct.Name, errorText(err))
		}
		var fields []string
		if action == "update" {
			if !jsonEqual(before.Config, t.Config) {
				fields = append(fields, "settings")
			}
			if !jsonEqual(before.Settings, t.Settings) {
				fields = append(fields, "options")
			}
			if before.Enabled != t.Enabled {
				fields = append(fields, "enabled")
			}
			if given {
				fields = append(fields, "secret")
			} else {
				t.Secret = before.Secret
			}
			if len(fields) == 0 {
				out.Changes = append(out.Changes, ConfigChange{Kind: "target", Name: ct.Name, Action: "unchanged"})
				continue
			}
			err = tx.UpdateTarget(ctx, t)
		} else {
			if _, serr := tx.Source(ctx, actor.AccountID, t.Name); serr == nil {
				return invalid("targets", "target %s: a source has that name", t.Name)
			}
			err = tx.CreateTarget(ctx, &t)
		}
		if err != nil {
			return targetNameTaken(err, actor, t.Name)
		}
		out.Changes = append(out.Changes, ConfigChange{Kind: "target", Name: ct.Name, Action: action, Fields: fields})
	}
	for _, t := range have {
		if !seen[strings.ToLower(t.Name)] {
			out.Kept = append(out.Kept, "target "+t.Name)
		}
	}
	if len(missing) > 0 {
		return invalid("secrets", "the file has no secrets: give %s (dirsync config import --secret NAME=FILE)", strings.Join(missing, ", "))
	}
	return nil
}

func (m *Manager) importWebhooks(ctx context.Context, tx store.Tx, actor Actor, in []ConfigWebhook, secrets map[string][]byte, out *ConfigImport) error {
	have, err := tx.Webhooks(ctx, actor.AccountID)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, cw := range in {
		url := cw.URL
		types := cw.EventTypes
		enabled := cw.Enabled
		if err := (WebhookInput{URL: &url, EventTypes: &types, Enabled: &enabled}).check(m.d.WebhookAllow); err != nil {
			return invalid("webhooks", "webhook %s: %s", url, errorText(err))
		}
		if seen[url] {
			return invalid("webhooks", "webhook %s is in the file twice", url)
		}
		seen[url] = true
		types = slices.Compact(slices.Sorted(slices.Values(types)))
		if types == nil {
			types = []string{}
		}
		idx := slices.IndexFunc(have, func(h store.Webhook) bool { return h.URL == url })
		if idx >= 0 {
			h := have[idx]
			var fields []string
			if !slices.Equal(h.EventTypes, types) && !(len(h.EventTypes) == 0 && len(types) == 0) {
				fields = append(fields, "event_types")
			}
			if h.Enabled != enabled {
				fields = append(fields, "enabled")
			}
			if len(fields) == 0 {
				out.Changes = append(out.Changes, ConfigChange{Kind: "webhook", Name: url, Action: "unchanged"})
				continue
			}
			h.EventTypes, h.Enabled = types, enabled
			if err := tx.UpdateWebhook(ctx, h); err != nil {
				return err
			}
			out.Changes = append(out.Changes, ConfigChange{Kind: "webhook", Name: url, Action: "update", Fields: fields})
			continue
		}
		secretText := ""
		plain, given := secrets["webhook:"+url]
		if !given {
			if secretText, err = webhook.NewSecret(); err != nil {
				return err
			}
			plain = []byte(secretText)
		}
		h := store.Webhook{AccountID: actor.AccountID, URL: url, EventTypes: types, Enabled: enabled}
		if h.Secret, err = m.d.Box.Seal(bytes.TrimSpace(plain)); err != nil {
			return err
		}
		if h.Cursor, err = tx.LastEventSeq(ctx, actor.AccountID); err != nil {
			return err
		}
		if err := tx.CreateWebhook(ctx, &h); err != nil {
			return err
		}
		out.Changes = append(out.Changes, ConfigChange{Kind: "webhook", Name: url, Action: "create", Secret: secretText})
	}
	for _, h := range have {
		if !seen[h.URL] {
			out.Kept = append(out.Kept, "webhook "+webhook.RedactURL(h.URL))
		}
	}
	return nil
}
