package manage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/connector/registry"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/scope"
	"github.com/dirsync/dirsync/internal/store"
)

// SourceInput is what a front end gives to add or change a source. On a
// change, nil fields stay as they are.
type SourceInput struct {
	Name        *string
	Description *string
	// Kind is the source's kind (entra, ldap); only when adding.
	Kind directory.SourceKind
	// Config is the connector's settings, a JSON object without secrets.
	Config json.RawMessage
	// Secret is the credential in the clear (client secret, certificate
	// and key, bind password); it is sealed before it is stored.
	Secret  []byte
	Enabled *bool
	// Schedule is when the source syncs; a new source without one gets
	// schedule.DefaultDaily.
	Schedule *schedule.Schedule
	// Scope is the source's scope rules and import options.
	Scope *scope.Settings
	// IfVersion makes an update conditional on the source's version
	// (version.go); "" or AnyVersion updates whatever it is.
	IfVersion string
}

// SourceView is a source as every front end shows it: its settings and
// what manage decides about it (status, next runs), never its secret.
type SourceView struct {
	directory.Source
	// SecretSet says whether a credential is stored (it is never shown).
	SecretSet bool
	Scope     scope.Settings
	Schedule  schedule.Schedule
	// NextRuns are the schedule's next slots (up to five), none when the
	// source is turned off or has no schedule.
	NextRuns []time.Time
	Status   SourceStatus
	// LastRun is the source's newest run that ended; Active a run queued
	// or in progress.
	LastRun *directory.Run
	Active  *directory.Run
	// Version is the version of the source's stored state (version.go).
	Version string
}

// Source states, as SourceStatus.State says them.
const (
	StateConnected       = "connected"
	StateNeverRun        = "never_run"
	StateLastRunFailed   = "last_run_failed"
	StateReauthorize     = "reauthorization_required"
	StateSecretExpiring  = "secret_expiring"
	StateSecretExpired   = "secret_expired"
	StateTurnedOff       = "turned_off"
	secretWarningDays    = 30
	nextRunsShown        = 5
	maxSourceNameLength  = 100
	maxDescriptionLength = 1000
)

// SourceStatus says where a source stands, in the words of the seed
// products' directory pages (Duo: Connected, Reauthorization required).
type SourceStatus struct {
	State   string
	Message string
	// SecretExpiresInDays is set when the settings give the client
	// secret's expiry date.
	SecretExpiresInDays *int
}

// findSource finds the account's source by name or id.
func (m *Manager) findSource(ctx context.Context, rd store.Reader, actor Actor, key string) (directory.Source, error) {
	src, err := rd.Source(ctx, actor.AccountID, strings.TrimSpace(key))
	if errors.Is(err, store.ErrNotFound) {
		return src, notFound("account %s has no source %q", actor.AccountName, key).with(err)
	}
	return src, err
}

// Sources lists the account's sources.
func (m *Manager) Sources(ctx context.Context, actor Actor) ([]SourceView, error) {
	if err := actor.require(ActRead); err != nil {
		return nil, err
	}
	srcs, err := m.d.Store.Sources(ctx, actor.AccountID)
	if err != nil {
		return nil, err
	}
	out := []SourceView{}
	for _, s := range srcs {
		v, err := m.view(ctx, s)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Source returns one source by name or id.
func (m *Manager) Source(ctx context.Context, actor Actor, key string) (SourceView, error) {
	if err := actor.require(ActRead); err != nil {
		return SourceView{}, err
	}
	src, err := m.findSource(ctx, m.d.Store, actor, key)
	if err != nil {
		return SourceView{}, err
	}
	return m.view(ctx, src)
}

func (m *Manager) view(ctx context.Context, src directory.Source) (SourceView, error) {
	v := SourceView{Source: src, SecretSet: len(src.Secret) > 0}
	v.Source.Secret = nil
	if len(v.Config) == 0 {
		v.Config = []byte("{}")
	}
	var err error
	if v.Version, err = m.sourceVersion(ctx, m.d.Store, src); err != nil {
		return v, err
	}
	if v.Scope, err = scope.Parse(src.Settings); err != nil {
		return v, fmt.Errorf("source %s: stored scope: %w", src.Name, err)
	}
	sc, last, err := m.storedSchedule(ctx, m.d.Store, src)
	if err != nil {
		return v, err
	}
	v.Schedule = sc
	if src.Enabled {
		v.NextRuns = nextRuns(sc, last, m.now(), nextRunsShown)
	}
	runs, err := m.d.Store.Runs(ctx, src.AccountID, src.ID, 20)
	if err != nil {
		return v, err
	}
	for i := range runs {
		switch r := &runs[i]; {
		case r.Outcome == directory.OutcomeQueued || r.Outcome == directory.OutcomeRunning:
			if v.Active == nil {
				v.Active = r
			}
		case v.LastRun == nil && r.Outcome != directory.OutcomeCancelled:
			v.LastRun = r
		}
	}
	h, err := m.d.Store.SourceHealth(ctx, src.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return v, err
	}
	v.Status = m.status(src, v.LastRun, h)
	return v, nil
}

// status decides a source's state: turned off first, then credentials
// refused, then the last run, then the secret's expiry.
func (m *Manager) status(src directory.Source, last *directory.Run, h store.SourceHealth) SourceStatus {
	var st SourceStatus
	if exp, ok := secretExpiry(src); ok {
		days := int(exp.Sub(m.now()).Hours() / 24)
		if exp.Before(m.now()) {
			days = -1
		}
		st.SecretExpiresInDays = &days
	}
	days := st.SecretExpiresInDays
	switch {
	case !src.Enabled:
		st.State, st.Message = StateTurnedOff, "the source is turned off: it syncs neither on schedule nor on request"
	case h.AuthFailing:
		st.State, st.Message = StateReauthorize, "could not connect: reauthorization required: "+h.AuthMessage
	case days != nil && *days < 0:
		st.State, st.Message = StateSecretExpired, "the client secret has expired: create a new one and give it to dirsync"
	case last != nil && (last.Outcome == directory.OutcomeFailed || last.Outcome == directory.OutcomeStopped) && !last.DryRun:
		st.State, st.Message = StateLastRunFailed, last.Reason
	case days != nil && *days <= secretWarningDays:
		st.State, st.Message = StateSecretExpiring, fmt.Sprintf("the client secret expires in %d days", *days)
	case last == nil:
		st.State, st.Message = StateNeverRun, "the source has not synced yet"
	default:
		st.State = StateConnected
	}
	return st
}

// secretExpiry reads the expiry date of the source's client secret, when
// its settings give one.
func secretExpiry(src directory.Source) (time.Time, bool) {
	var cfg struct {
		SecretExpires string `json:"secret_expires"`
	}
	if json.Unmarshal(src.Config, &cfg) != nil || cfg.SecretExpires == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, cfg.SecretExpires)
	return t, err == nil
}

// AddSource adds a source: its settings validated by its connector
// (offline), its domain not synced by another source, its secret sealed,
// and a schedule (the given one, else a daily run at a time of day derived
// from its id, as Duo spreads its syncs).
func (m *Manager) AddSource(ctx context.Context, actor Actor, in SourceInput) (SourceView, error) {
	if err := actor.require(ActManageSources); err != nil {
		return SourceView{}, err
	}
	src := directory.Source{AccountID: actor.AccountID, Kind: in.Kind, Enabled: true}
	if in.Name == nil {
		return SourceView{}, invalid("name", "name is required: a name for the source, unique in the account")
	}
	if err := applyNames(&src, in); err != nil {
		return SourceView{}, err
	}
	if in.Kind == "" {
		return SourceView{}, invalid("kind", "kind is required: %s", kindList())
	}
	if !slices.Contains(registry.Kinds(), in.Kind) {
		return SourceView{}, invalid("kind", "kind %q is unknown: want %s", in.Kind, kindList())
	}
	if len(in.Config) == 0 {
		return SourceView{}, invalid("settings", "settings are required: a JSON object of the connector's settings")
	}
	if len(in.Secret) == 0 {
		return SourceView{}, invalid("secret", "the secret is required: the client secret, certificate and key, or bind password")
	}
	if in.Enabled != nil {
		src.Enabled = *in.Enabled
	}
	var err error
	if src.Config, err = m.checkConfig(src, in.Config, in.Secret); err != nil {
		return SourceView{}, err
	}
	if in.Scope != nil {
		if src.Settings, err = encodeScope(*in.Scope); err != nil {
			return SourceView{}, err
		}
	}
	if err := m.checkEnrollmentReady(ctx, m.d.Store, actor.AccountID, in.Scope); err != nil {
		return SourceView{}, err
	}
	box, err := m.box()
	if err != nil {
		return SourceView{}, err
	}
	if src.Secret, err = box.Seal(in.Secret); err != nil {
		return SourceView{}, err
	}
	err = m.d.Store.Update(ctx, func(tx store.Tx) error {
		if err := m.checkClaim(ctx, tx, src); err != nil {
			return err
		}
		if _, err := tx.Target(ctx, actor.AccountID, src.Name); err == nil {
			return &Error{Kind: Conflict, Code: CodeAlreadyExists, Field: "name", Message: fmt.Sprintf("account %s has a target named %q: give the source another name (dirsync sync takes either)", actor.AccountName, src.Name)}
		}
		if err := tx.CreateSource(ctx, &src); err != nil {
			return nameTaken(err, actor, src.Name)
		}
		sc := schedule.DefaultDaily(src.ID, "")
		if in.Schedule != nil {
			sc = *in.Schedule
		}
		return m.storeSchedule(ctx, tx, src, sc)
	})
	if err != nil {
		return SourceView{}, err
	}
	return m.view(ctx, src)
}

func kindList() string {
	var names []string
	for _, k := range registry.Kinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, " or ")
}

func nameTaken(err error, actor Actor, name string) error {
	if errors.Is(err, store.ErrAlreadyExists) {
		return &Error{Kind: Conflict, Code: CodeAlreadyExists, Field: "name", Message: fmt.Sprintf("account %s already has a source named %q", actor.AccountName, name), Err: err}
	}
	return err
}

// applyNames sets the name and description from the input, checked.
func applyNames(src *directory.Source, in SourceInput) error {
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		switch {
		case name == "":
			return invalid("name", "the name is empty")
		case len(name) > maxSourceNameLength:
			return invalid("name", "the name is longer than %d characters", maxSourceNameLength)
		case strings.ContainsAny(name, "\r\n\t"):
			return invalid("name", "the name holds a line break or a tab")
		}
		src.Name = name
	}
	if in.Description != nil {
		if len(*in.Description) > maxDescriptionLength {
			return invalid("description", "the description is longer than %d characters", maxDescriptionLength)
		}
		src.Description = strings.TrimSpace(*in.Description)
	}
	return nil
}

// checkConfig validates a connector's settings with its secret, offline,
// and returns them compacted.
func (m *Manager) checkConfig(src directory.Source, config json.RawMessage, secretValue []byte) ([]byte, error) {
	// One form whoever sends them: keys sorted, no blanks (the stored
	// settings of the same source are the same bytes through any front end).
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil || fields == nil || dec.More() {
		return nil, invalid("settings", "settings must be a JSON object of the connector's settings")
	}
	canonical, err := json.Marshal(fields)
	if err != nil {
		return nil, invalid("settings", "settings must be a JSON object of the connector's settings")
	}
	src.Config = canonical
	if err := checkExpiry(src, m.now()); err != nil {
		return nil, err
	}
	if _, err := m.d.Connect(src, secretValue); err != nil {
		var ce *connector.Error
		if errors.As(err, &ce) {
			// The details under the message name what is wrong (each
			// setting refused, for LDAP): they are the message here.
			return nil, invalid("settings", "%s", strings.ReplaceAll(ce.Error(), "\n", "; ")).with(err)
		}
		// Registry errors are about the settings' form (an unknown field,
		// a wrong type): the caller's to fix.
		msg := strings.TrimPrefix(err.Error(), "source "+src.Name+": ")
		return nil, invalid("settings", "%s", msg).with(err)
	}
	return src.Config, nil
}

// checkExpiry checks a client secret's expiry date: a real date, not in
// the past.
func checkExpiry(src directory.Source, now time.Time) error {
	var cfg struct {
		SecretExpires string `json:"secret_expires"`
	}
	if json.Unmarshal(src.Config, &cfg) != nil || cfg.SecretExpires == "" {
		return nil
	}
	d := cfg.SecretExpires
	var y, mo, day int
	if n, err := fmt.Sscanf(d, "%4d-%2d-%2d", &y, &mo, &day); err != nil || n != 3 || len(d) != 10 {
		return invalid("settings.secret_expires", "%s is not a date: want YYYY-MM-DD, such as 2027-06-30", d)
	}
	if mo < 1 || mo > 12 {
		return invalid("settings.secret_expires", "%s is not a date (there is no month %d)", d, mo)
	}
	last := time.Date(y, time.Month(mo)+1, 0, 0, 0, 0, 0, time.UTC).Day()
	if day < 1 || day > last {
		return invalid("settings.secret_expires", "%s is not a date (%s has %d days)", d, time.Month(mo), last)
	}
	exp := time.Date(y, time.Month(mo), day, 0, 0, 0, 0, time.UTC)
	if exp.Before(now.UTC().Truncate(24 * time.Hour)) {
		return invalid("settings.secret_expires", "%s is in the past: that secret has expired; create a new one and give its expiry", d)
	}
	return nil
}

// credentialFields are the settings, per kind, that say where the
// credential is sent or whom it proves: changing one needs the credential
// again in the same change, or an administrator could point a source at a
// host of their own and have dirsync send it the stored secret.
var credentialFields = map[directory.SourceKind][]string{
	directory.KindEntra: {"tenant", "client_id", "cloud", "authority_url", "graph_url", "ca_pem", "auth_method"},
	directory.KindLDAP:  {"urls", "bind_dn", "ca_pem", "start_tls", "insecure_skip_tls_verify"},
}

// credentialTargetChanged names the first credential field that differs
// between two settings, or "".
func credentialTargetChanged(kind directory.SourceKind, before, after []byte) string {
	var a, b map[string]json.RawMessage
	_ = json.Unmarshal(before, &a)
	_ = json.Unmarshal(after, &b)
	for _, f := range credentialFields[kind] {
		if !jsonEqual(a[f], b[f]) {
			return f
		}
	}
	return ""
}

// withoutExpiry drops a secret's expiry date from settings: a new date
// changes what is read from the source no more than a new secret does.
func withoutExpiry(config []byte) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(config, &m) != nil {
		return config
	}
	delete(m, "secret_expires")
	out, _ := json.Marshal(m)
	return out
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	_ = json.Unmarshal(a, &x)
	_ = json.Unmarshal(b, &y)
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

// UpdateSource changes a source. New settings are validated as AddSource
// does; settings that change where the credential goes need the
// credential again; and since a cursor was read under the old settings,
// the next run reconciles in full.
func (m *Manager) UpdateSource(ctx context.Context, actor Actor, key string, in SourceInput) (SourceView, error) {
	if err := actor.require(ActManageSources); err != nil {
		return SourceView{}, err
	}
	src, err := m.findSource(ctx, m.d.Store, actor, key)
	if err != nil {
		return SourceView{}, err
	}
	if in.Kind != "" && in.Kind != src.Kind {
		return SourceView{}, invalid("kind", "a source's kind cannot change; add a new source instead")
	}
	if err := applyNames(&src, in); err != nil {
		return SourceView{}, err
	}
	if in.Enabled != nil {
		src.Enabled = *in.Enabled
	}
	resetCursor, before := false, src.Config
	if in.Config != nil || in.Secret != nil {
		if resetCursor, err = m.changeCredentials(&src, in); err != nil {
			return SourceView{}, err
		}
	}
	if in.Scope != nil {
		if src.Settings, err = encodeScope(*in.Scope); err != nil {
			return SourceView{}, err
		}
		if err := m.checkEnrollmentReady(ctx, m.d.Store, actor.AccountID, in.Scope); err != nil {
			return SourceView{}, err
		}
		resetCursor = true
	}
	moved := credentialTargetChanged(src.Kind, before, src.Config) != "" || domainClaim(src.Kind, before) != domainClaim(src.Kind, src.Config)
	err = m.d.Store.Update(ctx, func(tx store.Tx) error {
		if err := m.checkSourceVersion(ctx, tx, actor, src.ID, in.IfVersion); err != nil {
			return err
		}
		if resetCursor {
			if err := m.checkClaim(ctx, tx, src); err != nil {
				return err
			}
		}
		if err := tx.UpdateSource(ctx, src); err != nil {
			return nameTaken(err, actor, src.Name)
		}
		if moved {
			// It may read another directory now: it claims again at its
			// next test or sync.
			if err := tx.ReleaseDomainClaim(ctx, src.ID); err != nil {
				return err
			}
		}
		if resetCursor {
			if err := tx.SetSourceState(ctx, src.ID, ""); err != nil {
				return err
			}
		}
		if in.Schedule != nil {
			return m.storeSchedule(ctx, tx, src, *in.Schedule)
		}
		return nil
	})
	if err != nil {
		return SourceView{}, err
	}
	if src, err = m.d.Store.Source(ctx, actor.AccountID, src.ID); err != nil {
		return SourceView{}, err
	}
	return m.view(ctx, src)
}

// changeCredentials applies new settings and/or a new secret to src,
// validated and sealed; it reports whether the settings changed what is
// read from the source (a cursor read under the old ones is then void).
func (m *Manager) changeCredentials(src *directory.Source, in SourceInput) (bool, error) {
	box, err := m.box()
	if err != nil {
		return false, err
	}
	plain := in.Secret
	if in.Secret != nil && len(bytes.TrimSpace(in.Secret)) == 0 {
		return false, invalid("secret", "the secret is empty")
	}
	config := json.RawMessage(src.Config)
	if in.Config != nil {
		config = in.Config
	}
	if plain == nil {
		if plain, err = box.Open(src.Secret); err != nil {
			return false, newError(Unavailable, "the stored secret of source %s cannot be opened with this master key; give the secret again", src.Name).with(err)
		}
	}
	before := src.Config
	if src.Config, err = m.checkConfig(*src, config, plain); err != nil {
		return false, err
	}
	changed := !jsonEqual(withoutExpiry(before), withoutExpiry(src.Config))
	if f := credentialTargetChanged(src.Kind, before, src.Config); f != "" && in.Secret == nil {
		return false, invalid("secret", "changing %s changes where the credential is sent: give the secret again in the same change", f)
	}
	if src.Secret, err = box.Seal(plain); err != nil {
		return false, err
	}
	return changed, nil
}

// SetEnabled turns a source on or off. A source turned off syncs neither
// on schedule nor on request; its directory objects stay as they are.
func (m *Manager) SetEnabled(ctx context.Context, actor Actor, key string, on bool) (SourceView, error) {
	return m.UpdateSource(ctx, actor, key, SourceInput{Enabled: &on})
}

// RemoveSource removes a source; the users and groups it brought stay in
// the directory, as local objects.
func (m *Manager) RemoveSource(ctx context.Context, actor Actor, key string) (directory.Source, error) {
	return m.RemoveSourceIfVersion(ctx, actor, key, AnyVersion)
}

// RemoveSourceIfVersion is RemoveSource, made only if the source is still
// at the version given (version.go).
func (m *Manager) RemoveSourceIfVersion(ctx context.Context, actor Actor, key, version string) (directory.Source, error) {
	if err := actor.require(ActManageSources); err != nil {
		return directory.Source{}, err
	}
	var src directory.Source
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		if src, err = m.findSource(ctx, tx, actor, key); err != nil {
			return err
		}
		if err := m.checkSourceVersion(ctx, tx, actor, src.ID, version); err != nil {
			return err
		}
		return tx.DeleteSource(ctx, actor.AccountID, src.ID)
	})
	src.Secret = nil
	return src, err
}

// CheckResult is one step of a connection test.
type CheckResult = connector.CheckResult

// SourceTest is the outcome of a connection test.
type SourceTest struct {
	Source string
	OK     bool
	Checks []CheckResult
	// Problem says why the test failed: the connector's kind of failure
	// (auth, permission, network...), the source's own code, and the
	// message written for an administrator.
	Problem *SourceProblem
}

// SourceProblem is why a source failed, for an administrator.
type SourceProblem struct {
	Kind    string
	Code    string
	Message string
}

// TestSource checks a source's connection, credentials and permissions
// against the live directory. A failed test returns the test and a
// SourceFailed error.
func (m *Manager) TestSource(ctx context.Context, actor Actor, key string) (SourceTest, error) {
	if err := actor.require(ActManageSources); err != nil {
		return SourceTest{}, err
	}
	src, err := m.findSource(ctx, m.d.Store, actor, key)
	if err != nil {
		return SourceTest{}, err
	}
	conn, err := m.connect(src)
	if err != nil {
		return SourceTest{}, err
	}
	checks, cerr := conn.Check(ctx)
	t := SourceTest{Source: src.Name, OK: cerr == nil, Checks: checks}
	if t.Checks == nil {
		t.Checks = []CheckResult{}
	}
	if cerr == nil {
		return m.claimAtTest(ctx, src, conn, t)
	}
	t.Problem = problem(cerr)
	m.d.Logger.Info("source test failed", "source", src.ID, "err", cerr)
	return t, &Error{Kind: SourceFailed, Message: fmt.Sprintf("source %s: connection test failed: %s", src.Name, t.Problem.Message), Err: cerr}
}

// claimAtTest claims the directory a source that passed its test reads,
// as one more step of the test: a test passes only for a source that may
// sync.
func (m *Manager) claimAtTest(ctx context.Context, src directory.Source, conn connector.Connector, t SourceTest) (SourceTest, error) {
	id, err := identify(ctx, src, conn)
	if err == nil {
		err = m.d.Store.Update(ctx, func(tx store.Tx) error { return m.takeClaim(ctx, tx, src, id) })
	}
	if err == nil {
		if id.Key != "" {
			t.Checks = append(t.Checks, CheckResult{Name: "domain", OK: true,
				Message: displayName(src, id) + " is claimed by this source: no other source of this deployment may sync it"})
		}
		return t, nil
	}
	t.OK = false
	if e := AsError(err); e != nil {
		t.Checks = append(t.Checks, CheckResult{Name: "domain", OK: false, Message: e.Message})
		t.Problem = &SourceProblem{Kind: e.Code, Message: e.Message}
		return t, e
	}
	t.Checks = append(t.Checks, CheckResult{Name: "domain", OK: false, Message: "which directory the source reads could not be read: " + connectorMessage(err)})
	t.Problem = problem(err)
	return t, &Error{Kind: SourceFailed, Message: fmt.Sprintf("source %s: connection test failed: %s", src.Name, t.Problem.Message), Err: err}
}

func problem(err error) *SourceProblem {
	var ce *connector.Error
	if errors.As(err, &ce) {
		return &SourceProblem{Kind: string(ce.Kind), Code: ce.Code, Message: connectorMessage(err)}
	}
	return &SourceProblem{Message: "the connection test could not run; see the log"}
}

// connect opens the source's connector with its secret.
func (m *Manager) connect(src directory.Source) (connector.Connector, error) {
	plain, err := m.openSecret(src.Secret, "source "+src.Name)
	if err != nil {
		return nil, err
	}
	conn, err := m.d.Connect(src, plain)
	if err != nil {
		return nil, invalid("settings", "source %s: %s", src.Name, strings.TrimPrefix(err.Error(), "source "+src.Name+": ")).with(err)
	}
	return conn, nil
}

// SearchHit is one group or user a source search found.
type SearchHit struct {
	ExternalID string `json:"external_id"`
	Name       string `json:"name"`
	Mail       string `json:"mail,omitempty"`
	// DisplayName is a user's display name.
	DisplayName string `json:"display_name,omitempty"`
}

// SearchResult is what a source search found; More says the source has
// more matches than were shown.
type SearchResult struct {
	Results []SearchHit `json:"results"`
	More    bool        `json:"more"`
}

// SearchSource finds the source's groups (what "groups") or users by the
// start of their names, at most scope.MaxSearchResults, for the group
// filter's picker and for picked users.
func (m *Manager) SearchSource(ctx context.Context, actor Actor, key, what, query string) (SearchResult, error) {
	if err := actor.require(ActManageSources); err != nil {
		return SearchResult{}, err
	}
	if strings.TrimSpace(query) == "" {
		return SearchResult{}, invalid("search", "the search text is required: the start of a name to look for")
	}
	if err := CheckSearch(query); err != nil {
		return SearchResult{}, err
	}
	src, err := m.findSource(ctx, m.d.Store, actor, key)
	if err != nil {
		return SearchResult{}, err
	}
	conn, err := m.connect(src)
	if err != nil {
		return SearchResult{}, err
	}
	s, ok := conn.(connector.Searcher)
	if !ok {
		return SearchResult{}, newError(Unsupported, "source %s (%s) cannot be searched; give the ids directly", src.Name, src.Kind)
	}
	res := SearchResult{Results: []SearchHit{}}
	if what == "groups" {
		var gs []directory.SourceGroup
		gs, res.More, err = s.SearchGroups(ctx, query, scope.MaxSearchResults)
		for _, g := range gs {
			res.Results = append(res.Results, SearchHit{ExternalID: g.ExternalID, Name: g.Name, Mail: g.Mail})
		}
	} else {
		var us []directory.SourceUser
		us, res.More, err = s.SearchUsers(ctx, query, scope.MaxSearchResults)
		for _, u := range us {
			res.Results = append(res.Results, SearchHit{ExternalID: u.ExternalID, Name: u.Username, Mail: u.Email, DisplayName: u.DisplayName})
		}
	}
	if err != nil {
		return SearchResult{}, &Error{Kind: SourceFailed, Message: "source " + src.Name + ": " + connectorMessage(err), Err: err}
	}
	return res, nil
}
