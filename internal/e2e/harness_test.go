package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/graph/graphtest"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore"
	"github.com/dirsync/dirsync/internal/store/sqlstore/sqltest"
)

// world is an emulated tenant and the server in front of it.
type world struct {
	t      *testing.T
	tenant *entraemu.Tenant
	srv    *entraemu.Server
}

func newWorld(t *testing.T, opts entraemu.Options) *world {
	t.Helper()
	tenant, err := entraemu.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tenant.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &world{t: t, tenant: tenant, srv: srv}
}

// StoreEnv set to "postgres" runs the harness's syncs on PostgreSQL (the
// server sqltest.PostgresEnv names) instead of SQLite: CI runs this
// package both ways.
const StoreEnv = "DIRSYNC_E2E_STORE"

// openStore opens a fresh database of the kind StoreEnv says.
func openStore(t testing.TB) (*sqlstore.Store, error) {
	if os.Getenv(StoreEnv) == "postgres" {
		if os.Getenv(sqltest.PostgresEnv) == "" {
			t.Fatalf("%s=postgres needs %s", StoreEnv, sqltest.PostgresEnv)
		}
		return sqlstore.OpenPostgres(context.Background(), sqltest.PostgresDSN(t))
	}
	return sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "dirsync.db"))
}

// directory is one dirsync database with one Entra source.
type dirsync struct {
	t   *testing.T
	ctx context.Context
	st  store.Store
	src directory.Source
	w   *world
	// connOpts are the connector's options: tests inject a clock so that
	// Retry-After and backoff are honoured without waiting.
	connOpts entra.Options
	waits    *graphtest.Clock // the connector's: its retries wait on it at once
	batch    int
}

func (w *world) newDirsync() *dirsync {
	w.t.Helper()
	ctx := context.Background()
	st, err := openStore(w.t)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { st.Close() })
	creds := w.srv.Credentials()
	cfg, _ := json.Marshal(entra.Config{Tenant: creds.TenantID, ClientID: creds.ClientID, Cloud: "custom", AuthMethod: "secret",
		AuthorityURL: creds.AuthorityURL, GraphURL: creds.GraphURL, CAPEM: string(w.srv.CAPEM())})
	d := &dirsync{t: w.t, ctx: ctx, st: st, w: w}
	d.waits = graphtest.NewClock()
	d.connOpts.Clock = d.waits
	err = st.Update(ctx, func(tx store.Tx) error {
		acc := directory.Account{Name: "acme"}
		if err := tx.CreateAccount(ctx, &acc); err != nil {
			return err
		}
		d.src = directory.Source{AccountID: acc.ID, Name: "entra", Kind: directory.KindEntra, Config: cfg, Enabled: true}
		return tx.CreateSource(ctx, &d.src)
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

// connector opens a fresh connector, as each CLI run or scheduled run does.
func (d *dirsync) connector() connector.Connector {
	d.t.Helper()
	var cfg entra.Config
	if err := json.Unmarshal(d.src.Config, &cfg); err != nil {
		d.t.Fatal(err)
	}
	c, err := entra.Open(cfg, []byte(d.w.srv.Credentials().ClientSecret), d.connOpts)
	if err != nil {
		d.t.Fatal(err)
	}
	return c
}

func (d *dirsync) sync(opts engine.Options) directory.Run {
	d.t.Helper()
	run, err := d.trySync(opts)
	if err != nil {
		d.t.Fatalf("sync: %v", err)
	}
	return run
}

func (d *dirsync) trySync(opts engine.Options) (directory.Run, error) {
	eng := &engine.Engine{Store: d.st, BatchSize: d.batch}
	return eng.Sync(d.ctx, d.src, d.connector(), opts)
}

// snapshot renders the directory's live content keyed by source ids, so two
// databases synced from one tenant compare equal whatever their own ids.
func (d *dirsync) snapshot() string {
	d.t.Helper()
	users, err := d.st.Users(d.ctx, d.src.AccountID, store.UserQuery{})
	if err != nil {
		d.t.Fatal(err)
	}
	groups, err := d.st.Groups(d.ctx, d.src.AccountID, store.GroupQuery{})
	if err != nil {
		d.t.Fatal(err)
	}
	ext := map[string]string{}
	var lines []string
	for _, u := range users.Items {
		e := linkOf(u.Sources)
		ext[u.ID] = e
		lines = append(lines, fmt.Sprintf("user %s %q %q %q %v %s %q %q %q %v %q %v", e, u.Username, u.Email, u.DisplayName, u.Enabled, u.State,
			u.Department, u.JobTitle, u.UserType, sorted(u.BusinessPhones), u.MobilePhone, sorted(u.Licenses)))
	}
	for _, g := range groups.Items {
		ext[g.ID] = linkOf(g.Sources)
	}
	for _, g := range groups.Items {
		ms, err := d.st.Members(d.ctx, d.src.AccountID, g.ID, false)
		if err != nil {
			d.t.Fatal(err)
		}
		var mem []string
		for _, m := range ms {
			mem = append(mem, ext[m.ID])
		}
		sort.Strings(mem)
		lines = append(lines, fmt.Sprintf("group %s %q %q %v members=%v", ext[g.ID], g.Name, g.Description, g.State, mem))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func linkOf(links []directory.SourceLink) string {
	if len(links) == 0 {
		return "(local)"
	}
	return links[0].ExternalID
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// tenantTruth renders the tenant itself the way snapshot renders a
// directory, read from the emulator's own state rather than through Graph.
func (w *world) tenantTruth() string {
	var lines []string
	for _, u := range w.tenant.Users() {
		state := directory.StateActive
		if !u.AccountEnabled {
			state = directory.StateDisabled
		}
		var lic []string
		for _, l := range u.AssignedLicenses {
			lic = append(lic, l.SkuID)
		}
		lines = append(lines, fmt.Sprintf("user %s %q %q %q %v %s %q %q %q %v %q %v", u.ID, u.UserPrincipalName, u.Mail, u.DisplayName,
			u.AccountEnabled, state, u.Department, u.JobTitle, u.UserType, sorted(u.BusinessPhones), u.MobilePhone, sorted(lic)))
	}
	known := map[string]bool{}
	for _, u := range w.tenant.Users() {
		known[u.ID] = true
	}
	for _, g := range w.tenant.Groups() {
		known[g.ID] = true
	}
	for _, g := range w.tenant.Groups() {
		var mem []string
		for _, m := range w.tenant.DirectMembers(g.ID) {
			if known[m.ID] {
				mem = append(mem, m.ID)
			}
		}
		sort.Strings(mem)
		lines = append(lines, fmt.Sprintf("group %s %q %q %v members=%v", g.ID, g.DisplayName, g.Description, directory.StateActive, mem))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// diff shows the first lines where two renderings differ.
func diff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	as, bs := map[string]bool{}, map[string]bool{}
	for _, l := range al {
		as[l] = true
	}
	for _, l := range bl {
		bs[l] = true
	}
	var out []string
	for _, l := range al {
		if !bs[l] && len(out) < 8 {
			out = append(out, "- "+l)
		}
	}
	for _, l := range bl {
		if !as[l] && len(out) < 16 {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
