package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/service"
	"github.com/dirsync/dirsync/internal/store"
)

const demoSource = "demo-entra"

func (a *app) demoCommand() *cobra.Command {
	var (
		once          bool
		listen        string
		users, groups int
		seed          int64
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Sync an emulated Entra ID tenant end to end, then keep it running to explore",
		Long: `Start an emulated Entra ID tenant, add it as the source "demo-entra" (or
point the existing one at it), sync it, and print what the directory now holds.
Then keep serving until interrupted: the emulated tenant, and dirsync's API,
scheduler and webhooks on --listen, so you can explore with "dirsync users
list", "dirsync groups members", "dirsync runs show" or the REST API.
With --once, exit after the summary.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			tenant, err := entraemu.New(entraemu.Options{Users: users, Groups: groups, Seed: seed, Throttle: true})
			if err != nil {
				return err
			}
			srv, err := tenant.Start("127.0.0.1:0")
			if err != nil {
				return err
			}
			defer srv.Close()
			creds := srv.Credentials()
			a.printf("Emulated tenant %s at %s: %d users, %d groups\n", creds.Domain, srv.URL(), users, groups)

			src, err := a.upsertDemoSource(ctx, srv)
			if err != nil {
				return err
			}
			run, err := a.runSync(ctx, src, engine.Options{Trigger: "demo"}, true)
			if run.ID != "" {
				a.printRunSummary(run)
			}
			if err != nil {
				return err
			}
			if err := a.printDemoDirectory(ctx, src); err != nil {
				return err
			}
			if once {
				return nil
			}
			// Keep serving: the emulated tenant, and dirsync itself (API,
			// scheduler, webhooks), so a newcomer has a service to explore.
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return usageErr("--listen %s: %v", listen, err)
			}
			db := a.dbPath
			if db == "" {
				db, _ = defaultDBPath()
			}
			a.printf("\ndirsync is serving its API on http://%s (the emulated tenant keeps running at %s). Try, in another terminal:\n", ln.Addr(), srv.URL())
			a.printf("  dirsync --db %s users list\n  dirsync --db %s groups list\n  dirsync --db %s runs show %s --changes\n", db, db, db, run.ID)
			a.printf("  TOKEN=$(dirsync --db %s token create --role owner --json | jq -r .token)\n", db)
			a.printf("  curl -H \"Authorization: Bearer $TOKEN\" http://%s/api/v1/users\n", ln.Addr())
			a.printf("Press Ctrl-C to stop.\n")
			logger := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			return service.New(a.st, a.box, service.Config{}, logger).Run(ctx, ln)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&once, "once", false, "exit after the first sync")
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "where dirsync serves its API after the first sync")
	f.IntVar(&users, "users", 1000, "users in the emulated tenant")
	f.IntVar(&groups, "groups", 50, "groups in the emulated tenant")
	f.Int64Var(&seed, "seed", 1, "seed of the emulated tenant's data")
	return cmd
}

// upsertDemoSource adds the demo source, or points the existing one at this
// run's emulator (a new port and CA each time; the same tenant for one seed).
func (a *app) upsertDemoSource(ctx context.Context, srv *entraemu.Server) (directory.Source, error) {
	st, acc, err := a.currentAccount(ctx)
	if err != nil {
		return directory.Source{}, err
	}
	creds := srv.Credentials()
	raw := emulatorSettings(creds, srv.CAPEM())
	sealed, err := a.box.Seal([]byte(creds.ClientSecret))
	if err != nil {
		return directory.Source{}, err
	}
	var src directory.Source
	err = st.Update(ctx, func(tx store.Tx) error {
		src, err = tx.Source(ctx, acc.ID, demoSource)
		if errors.Is(err, store.ErrNotFound) {
			src = directory.Source{AccountID: acc.ID, Name: demoSource, Kind: directory.KindEntra, Description: "emulated Entra ID tenant (dirsync demo)",
				Config: raw, Secret: sealed, Enabled: true}
			return tx.CreateSource(ctx, &src)
		}
		if err != nil {
			return err
		}
		if src.Kind != directory.KindEntra {
			return fmt.Errorf("source %s exists and is not an Entra source; use another --account or --db", demoSource)
		}
		src.Config, src.Secret = raw, sealed
		if err := tx.UpdateSource(ctx, src); err != nil {
			return err
		}
		// A new emulator instance knows nothing of the last one's delta
		// links: the next run reconciles in full.
		return tx.SetSourceState(ctx, src.ID, "")
	})
	return src, err
}

func (a *app) printDemoDirectory(ctx context.Context, src directory.Source) error {
	users, err := a.st.Users(ctx, src.AccountID, store.UserQuery{Limit: 5})
	if err != nil {
		return err
	}
	a.printf("\nFirst users in the directory:\n")
	var rows [][]string
	for _, u := range users.Items {
		rows = append(rows, []string{u.Username, dash(u.Email), dash(u.DisplayName), string(u.State)})
	}
	a.table([]string{"USERNAME", "EMAIL", "NAME", "STATE"}, rows)
	return nil
}

// emulatorSettings are the Entra source settings that reach an emulated
// tenant: a custom cloud at the emulator's URL, trusting its CA.
func emulatorSettings(creds entraemu.Credentials, caPEM []byte) []byte {
	raw, _ := json.Marshal(entra.Config{Tenant: creds.TenantID, ClientID: creds.ClientID, Cloud: "custom", AuthMethod: entra.AuthSecret,
		AuthorityURL: creds.AuthorityURL, GraphURL: creds.GraphURL, CAPEM: string(caPEM)})
	return raw
}
