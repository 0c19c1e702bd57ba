package manage_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/connector/registry"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/manage"
)

// epoch is where the tests' fake clock starts.
var epoch = time.Date(2026, 3, 10, 1, 0, 0, 0, time.UTC)

// world is a manager on a fresh database, its clock fake, over an emulated
// tenant; queued runs are recorded (jobs) and executed when a test says.
type world struct {
	t      *testing.T
	clock  *clock.Fake
	parts  *factory.Parts
	m      *manage.Manager
	owner  manage.Actor
	tenant *entraemu.Tenant
	srv    *entraemu.Server
	jobs   *jobs
	// failures makes the next Snapshot calls fail (a transient failure).
	failures *counter
	// hooks holds, by source name, what a Snapshot of the source does
	// before it reads (block, to hold a run in its read phase).
	hooks sync.Map
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) take() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n > 0 {
		c.n--
		return true
	}
	return false
}

// jobs is an Executor that keeps what it is given.
type jobs struct {
	mu   sync.Mutex
	list []manage.Job
	shut bool
}

func (j *jobs) Enqueue(job manage.Job) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.shut {
		return errors.New("shutting down")
	}
	j.list = append(j.list, job)
	return nil
}

func (j *jobs) take() []manage.Job {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := j.list
	j.list = nil
	return out
}

// flaky fails its Snapshot while its world says so, as a source that
// answers 5xx past the retry budget.
type flaky struct {
	connector.Connector
	failures *counter
	hook     func()
}

func (f flaky) Snapshot(ctx context.Context, sink connector.Sink) error {
	if f.hook != nil {
		f.hook()
	}
	if f.failures.take() {
		return &connector.Error{Kind: connector.KindUnavailable, Code: "serviceUnavailable", Message: "Microsoft Graph answered 503 past the retry budget"}
	}
	return f.Connector.Snapshot(ctx, sink)
}

func newWorld(t *testing.T, users, groups int) *world {
	t.Helper()
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	w := &world{t: t, clock: clock.NewFake(epoch), jobs: &jobs{}, failures: &counter{}}
	tenant, err := entraemu.New(entraemu.Options{Users: users, Groups: groups, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	if w.srv, err = tenant.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.srv.Close() })
	w.tenant = tenant
	dir := t.TempDir()
	connect := func(src directory.Source, secret []byte) (connector.Connector, error) {
		c, err := registry.Open(src, secret, registry.Options{})
		if err != nil {
			return nil, err
		}
		f := flaky{Connector: c, failures: w.failures}
		if h, ok := w.hooks.Load(src.Name); ok {
			f.hook = h.(func())
		}
		return f, nil
	}
	w.parts, err = factory.Open(t.Context(), factory.Options{DB: filepath.Join(dir, "d.db"), Clock: w.clock, Connect: connect})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.parts.Close() })
	w.m = w.parts.Manager
	w.m.SetExecutor(w.jobs)
	if w.owner, err = w.m.Operator(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	return w
}

// config is the source settings that reach the world's tenant.
func (w *world) config() json.RawMessage {
	c := w.srv.Credentials()
	raw, _ := json.Marshal(entra.Config{Tenant: c.TenantID, ClientID: c.ClientID, Cloud: "custom", AuthMethod: entra.AuthSecret,
		AuthorityURL: c.AuthorityURL, GraphURL: c.GraphURL, CAPEM: string(w.srv.CAPEM())})
	return raw
}

// addSource adds the tenant as a source of the actor's account.
func (w *world) addSource(actor manage.Actor, name string) manage.SourceView {
	w.t.Helper()
	v, err := w.m.AddSource(w.t.Context(), actor, manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: w.config(),
		Secret: []byte(w.srv.Credentials().ClientSecret)})
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

// kind fails the test unless err is of the kind.
func wantKind(t *testing.T, err error, kind manage.Kind, what string) *manage.Error {
	t.Helper()
	if manage.KindOf(err) != kind {
		t.Fatalf("%s: %v (kind %q), want kind %q", what, err, manage.KindOf(err), kind)
	}
	return manage.AsError(err)
}

// Identity forwards to the connector: which tenant it reads.
func (f flaky) Identity(ctx context.Context) (connector.Identity, error) {
	return f.Connector.(connector.Identifier).Identity(ctx)
}
