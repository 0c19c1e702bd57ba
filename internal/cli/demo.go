package cli

import (
	"context"
	"encoding/json"
	"net"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/service"
)

const demoSource = "demo-entra"

// demoFlags are the flags of "demo".
type demoFlags struct {
	once          bool
	listen        string
	users, groups int
	seed          int64
}

func (a *app) demoCommand() *cobra.Command {
	var df demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Sync an emulated Entra ID tenant end to end, then keep it running to explore",
		Long: `Start an emulated Entra ID tenant, add it as the source "demo-entra" (or
point the existing one at it), sync it, and print what the directory now holds.
Then keep serving until interrupted: the emulated tenant, and dirsync's admin
console, API, scheduler and webhooks on --listen, so you can explore in the
browser (it prints a one-time sign-in link), with "dirsync users list",
"dirsync groups members", "dirsync runs show" or the REST API.
With --once, exit after the summary.

The address is checked before anything changes: a second demo while one runs
says so and changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.demo(cmd, &df) },
	}
	f := cmd.Flags()
	f.BoolVar(&df.once, "once", false, "exit after the first sync")
	f.StringVar(&df.listen, "listen", "127.0.0.1:8080", "where dirsync serves its API after the first sync")
	f.IntVar(&df.users, "users", 1000, "users in the emulated tenant")
	f.IntVar(&df.groups, "groups", 50, "groups in the emulated tenant")
	f.Int64Var(&df.seed, "seed", 1, "seed of the emulated tenant's data")
	return cmd
}

// demo syncs an emulated tenant and, unless --once, keeps serving.
func (a *app) demo(cmd *cobra.Command, df *demoFlags) error {
	ctx := cmd.Context()
	var ln net.Listener
	if !df.once {
		var err error
		if ln, err = net.Listen("tcp", df.listen); err != nil {
			return usageErr("--listen: %s; nothing was changed", listenHint(df.listen, err))
		}
		defer ln.Close()
	}
	m, actor, err := a.open(cmd)
	if err != nil {
		return err
	}
	tenant, err := entraemu.New(entraemu.Options{Users: df.users, Groups: df.groups, Seed: df.seed, Throttle: true})
	if err != nil {
		return err
	}
	srv, err := tenant.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer srv.Close()
	creds := srv.Credentials()
	a.printf("Emulated tenant %s at %s: %d users, %d groups\n", creds.Domain, srv.URL(), df.users, df.groups)
	if err := a.upsertDemoSource(cmd, srv); err != nil {
		return err
	}
	run, err := m.SyncNow(ctx, actor, demoSource, manage.SyncRequest{Trigger: "demo", Progress: a.progress(demoSource, true)})
	if run.ID != "" {
		a.shownRun = run.ID
		a.printRunSummary(run)
	}
	if err != nil {
		return err
	}
	if err := a.printDemoDirectory(cmd); err != nil {
		return err
	}
	if df.once {
		return nil
	}
	return a.demoServe(ctx, ln, srv, run)
}

// demoServe keeps serving: the emulated tenant, and dirsync itself (API,
// scheduler, webhooks), so a newcomer has a service to explore.
func (a *app) demoServe(ctx context.Context, ln net.Listener, srv *entraemu.Server, run directory.Run) error {
	db := a.parts.DB
	a.printf("\ndirsync is serving its console and API on http://%s (the emulated tenant keeps running at %s). Try, in another terminal:\n", ln.Addr(), srv.URL())
	a.printf("  dirsync --db %s users list\n  dirsync --db %s groups list\n  dirsync --db %s runs show %s --changes\n", db, db, db, run.ID)
	a.printf("  TOKEN=$(dirsync --db %s token create --role owner --json | jq -r .token)\n", db)
	a.printf("  curl -H \"Authorization: Bearer $TOKEN\" http://%s/api/v1/users\n", ln.Addr())
	if err := a.printConsole(ctx, a.m, a.actor, "http://"+ln.Addr().String(), true); err != nil {
		return err
	}
	a.printf("Press Ctrl-C to stop.\n")
	a.jsonLogs = true
	return service.New(a.parts, service.Config{Clock: a.opts.Clock}, a.logger()).Run(ctx, ln)
}

// upsertDemoSource adds the demo source, or points the existing one at this
// run's emulator (a new port and CA each time; the same tenant for one
// seed); a new emulator knows nothing of the last one's delta links, and
// changed settings make the next run reconcile in full.
func (a *app) upsertDemoSource(cmd *cobra.Command, srv *entraemu.Server) error {
	creds := srv.Credentials()
	raw := emulatorSettings(creds, srv.CAPEM())
	in := manage.SourceInput{Config: raw, Secret: []byte(creds.ClientSecret)}
	ctx := cmd.Context()
	v, err := a.m.Source(ctx, a.actor, demoSource)
	switch {
	case manage.KindOf(err) == manage.NotFound:
		name, desc := demoSource, "emulated Entra ID tenant (dirsync demo)"
		in.Name, in.Description, in.Kind = &name, &desc, directory.KindEntra
		_, err = a.m.AddSource(ctx, a.actor, in)
		return err
	case err != nil:
		return err
	case v.Kind != directory.KindEntra:
		return usageErr("source %s exists and is not an Entra source; use another --account or --db", demoSource)
	}
	_, err = a.m.UpdateSource(ctx, a.actor, demoSource, in)
	return err
}

func (a *app) printDemoDirectory(cmd *cobra.Command) error {
	page, err := a.m.Users(cmd.Context(), a.actor, manage.UserQuery{Limit: 5})
	if err != nil {
		return err
	}
	a.printf("\nFirst users in the directory:\n")
	var rows [][]string
	for _, u := range page.Items {
		rows = append(rows, []string{u.Username, dash(u.Email), dash(u.DisplayName), string(u.State)})
	}
	return a.table([]string{"USERNAME", "EMAIL", "NAME", "STATE"}, rows)
}

// emulatorSettings are the Entra source settings that reach an emulated
// tenant: a custom cloud at the emulator's URL, trusting its CA.
func emulatorSettings(creds entraemu.Credentials, caPEM []byte) []byte {
	raw, _ := json.Marshal(entra.Config{Tenant: creds.TenantID, ClientID: creds.ClientID, Cloud: "custom", AuthMethod: entra.AuthSecret,
		AuthorityURL: creds.AuthorityURL, GraphURL: creds.GraphURL, CAPEM: string(caPEM)})
	return raw
}
