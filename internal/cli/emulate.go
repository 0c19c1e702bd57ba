package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/entraemu"
)

func (a *app) emulateCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "emulate", Short: "Run an emulated directory for demos and tests"}
	var (
		listen, caOut, credOut string
		users, groups          int
		seed                   int64
		latency                time.Duration
		noThrottle             bool
	)
	entra := &cobra.Command{
		Use:   "entra",
		Short: "Run an emulated Microsoft Entra ID tenant (login and Microsoft Graph over HTTPS)",
		Long: `Run an emulated Entra ID tenant that behaves as Microsoft documents Entra ID
and Microsoft Graph v1.0: the login endpoints Microsoft's auth libraries use,
users, groups, members, delta queries, $batch, throttling and errors. Its data
is generated deterministically from --seed.

It serves HTTPS with a CA of its own, written to --ca-out; --credentials-out
receives the tenant, client ID, client secret and URLs as JSON (mode 0600).

Microsoft's libraries talk to it as to a custom authority: authority (or
cloud's ActiveDirectoryAuthorityHost) = authority_url, Graph base URL =
graph_url, scope graph_url + "/.default", and the CA trusted. Turn instance
discovery off (azidentity: DisableInstanceDiscovery: true; MSAL:
instance_discovery=False / WithInstanceDiscovery(false)): otherwise they ask
the public cloud's login.microsoftonline.com to validate the authority, and
wait minutes where the internet is unreachable.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if users < 0 || groups < 0 {
				return usageErr("--users and --groups must not be negative")
			}
			if caOut == "" || credOut == "" {
				return usageErr("--ca-out and --credentials-out are required: clients need the CA and the credentials")
			}
			tenant, err := entraemu.New(entraemu.Options{Users: users, Groups: groups, Seed: seed, Latency: latency, Throttle: !noThrottle})
			if err != nil {
				return err
			}
			srv, err := tenant.Start(listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", listen, err)
			}
			defer srv.Close()
			if err := tenant.WriteFiles(srv, caOut, credOut); err != nil {
				return err
			}
			creds := srv.Credentials()
			a.printf("Emulated Entra ID tenant %s (%s) with %d users and %d groups\n", creds.Domain, creds.TenantID, users, groups)
			a.printf("  Listening:    %s\n  CA:           %s\n  Credentials:  %s (client secret inside; keep it private)\n", srv.URL(), caOut, credOut)
			a.printf("Add it as a source:\n  jq -r .client_secret %s > secret.txt\n  dirsync source add entra --name NAME --tenant %s --client-id %s --client-secret-file secret.txt --cloud custom --authority-url %s --graph-url %s --ca-file %s\n",
				credOut, creds.TenantID, creds.ClientID, creds.AuthorityURL, creds.GraphURL, caOut)
			a.printf("Microsoft's libraries: authority %s, tenant %s, scope %s/.default, the CA trusted,\n  and instance discovery off (azidentity DisableInstanceDiscovery: true), or they wait on the public cloud.\n", creds.AuthorityURL, creds.TenantID, creds.GraphURL)
			a.printf("Serving until interrupted (Ctrl-C).\n")
			<-cmd.Context().Done()
			return nil
		},
	}
	f := entra.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8443", "address to listen on")
	f.IntVar(&users, "users", 1000, "users to generate")
	f.IntVar(&groups, "groups", 50, "groups to generate")
	f.Int64Var(&seed, "seed", 1, "seed of the generated data")
	f.StringVar(&caOut, "ca-out", "", "file to write the CA certificate to (PEM)")
	f.StringVar(&credOut, "credentials-out", "", "file to write the credentials to (JSON)")
	f.DurationVar(&latency, "latency", 0, "latency added to every request, e.g. 50ms")
	f.BoolVar(&noThrottle, "no-throttle", false, "do not enforce Microsoft Graph's throttling budgets")
	cmd.AddCommand(entra)
	return cmd
}
