package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/entraemu"
)

// emulateFlags are the flags of "emulate entra".
type emulateFlags struct {
	listen, caOut, credOut string
	users, groups          int
	seed                   int64
	latency                time.Duration
	noThrottle             bool
}

const emulateEntraHelp = `Run an emulated Entra ID tenant that behaves as Microsoft documents Entra ID
and Microsoft Graph v1.0: the login endpoints Microsoft's auth libraries use,
users, groups, members, delta queries, $batch, throttling and errors. Its data
is generated deterministically from --seed.

It serves HTTPS with a CA of its own, written to --ca-out; --credentials-out
receives the tenant, the URLs and two apps as JSON (mode 0600):
  client_id, client_secret   the sync app, which reads (User.Read.All,
                             GroupMember.Read.All, Directory.Read.All): give it
                             to dirsync
  write_app                  an app that also writes (User.ReadWrite.All,
                             Group.ReadWrite.All, Domain.Read.All): use it to
                             change the tenant from your own scripts and
                             tests, or give it to a dirsync target

Writes are as strict as Entra's: required properties, UPN characters and
verified domains, unique UPN and mail nickname, read-only properties refused,
Entra's password policy, deleted users restorable for 30 days, and the write
budget (3,000 requests per 150 s per app, 429 with Retry-After). For example,
to create a user with curl and jq:

  TOKEN=$(curl -s --cacert ca.pem \
    -d grant_type=client_credentials \
    --data-urlencode client_id="$(jq -r .write_app.client_id creds.json)" \
    --data-urlencode client_secret="$(jq -r .write_app.client_secret creds.json)" \
    --data-urlencode scope="$(jq -r .graph_url creds.json)/.default" \
    "$(jq -r .authority_url creds.json)/$(jq -r .tenant_id creds.json)/oauth2/v2.0/token" | jq -r .access_token)
  curl -s --cacert ca.pem -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"accountEnabled":true,"displayName":"Ada Lovelace","mailNickname":"ada",
         "userPrincipalName":"ada@'"$(jq -r .domain creds.json)"'",
         "passwordProfile":{"password":"Analytical-Engine-1843"}}' \
    "$(jq -r .graph_url creds.json)/v1.0/users"

The change shows in dirsync's next sync, as in Entra (delta queries included).

Microsoft's libraries talk to it as to a custom authority: authority (or
cloud's ActiveDirectoryAuthorityHost) = authority_url, Graph base URL =
graph_url, scope graph_url + "/.default", and the CA trusted. Turn instance
discovery off (azidentity: DisableInstanceDiscovery: true; MSAL:
instance_discovery=False / WithInstanceDiscovery(false)): otherwise they ask
the public cloud's login.microsoftonline.com to validate the authority, and
wait minutes where the internet is unreachable.`

func (a *app) emulateCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "emulate", Short: "Run an emulated directory for demos and tests"}
	var ef emulateFlags
	entra := &cobra.Command{
		Use:   "entra",
		Short: "Run an emulated Microsoft Entra ID tenant (login and Microsoft Graph over HTTPS)",
		Long:  emulateEntraHelp,
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return a.emulateEntra(cmd, &ef) },
	}
	f := entra.Flags()
	f.StringVar(&ef.listen, "listen", "127.0.0.1:8443", "address to listen on")
	f.IntVar(&ef.users, "users", 1000, "users to generate")
	f.IntVar(&ef.groups, "groups", 50, "groups to generate")
	f.Int64Var(&ef.seed, "seed", 1, "seed of the generated data")
	f.StringVar(&ef.caOut, "ca-out", "", "file to write the CA certificate to (PEM)")
	f.StringVar(&ef.credOut, "credentials-out", "", "file to write the credentials to (JSON)")
	f.DurationVar(&ef.latency, "latency", 0, "latency added to every request, e.g. 50ms")
	f.BoolVar(&ef.noThrottle, "no-throttle", false, "do not enforce Microsoft Graph's throttling budgets")
	cmd.AddCommand(entra)
	return cmd
}

// emulateEntra serves an emulated tenant until the command's context ends.
func (a *app) emulateEntra(cmd *cobra.Command, ef *emulateFlags) error {
	if ef.users < 0 || ef.groups < 0 {
		return usageErr("--users and --groups must not be negative")
	}
	if ef.caOut == "" || ef.credOut == "" {
		return usageErr("--ca-out and --credentials-out are required: clients need the CA and the credentials")
	}
	tenant, err := entraemu.New(entraemu.Options{Users: ef.users, Groups: ef.groups, Seed: ef.seed, Latency: ef.latency, Throttle: !ef.noThrottle})
	if err != nil {
		return err
	}
	srv, err := tenant.Start(ef.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", ef.listen, err)
	}
	defer srv.Close()
	if err := tenant.WriteFiles(srv, ef.caOut, ef.credOut); err != nil {
		return err
	}
	a.printEmulated(srv, ef)
	a.printf("Serving until interrupted (Ctrl-C).\n")
	<-cmd.Context().Done()
	return nil
}

// printEmulated tells how to reach the tenant: as a dirsync source, with
// the write app, and from Microsoft's libraries.
func (a *app) printEmulated(srv *entraemu.Server, ef *emulateFlags) {
	creds := srv.Credentials()
	caOut, credOut := ef.caOut, ef.credOut
	a.printf("Emulated Entra ID tenant %s (%s) with %d users and %d groups\n", creds.Domain, creds.TenantID, ef.users, ef.groups)
	a.printf("  Listening:    %s\n  CA:           %s\n  Credentials:  %s (client secret inside; keep it private)\n", srv.URL(), caOut, credOut)
	a.printf("Add it as a source:\n  jq -r .client_secret %s > secret.txt\n  dirsync source add entra --name NAME --tenant %s --client-id %s --client-secret-file secret.txt --cloud custom --authority-url %s --graph-url %s --ca-file %s\n",
		credOut, creds.TenantID, creds.ClientID, creds.AuthorityURL, creds.GraphURL, caOut)
	if w := creds.WriteApp; w != nil {
		a.printf("To change the tenant (scripts, tests): the write app in %s (write_app: %s), see --help.\n", credOut, strings.Join(w.Roles, ", "))
	}
	a.printf("Microsoft's libraries: authority %s, tenant %s, scope %s/.default, the CA trusted,\n  and instance discovery off (azidentity DisableInstanceDiscovery: true), or they wait on the public cloud.\n", creds.AuthorityURL, creds.TenantID, creds.GraphURL)
}
