package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/connector/registry"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/scope"
	"github.com/dirsync/dirsync/internal/store"
)

func (a *app) sourceCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "source", Short: "Manage the directories an account syncs from"}
	add := &cobra.Command{Use: "add", Short: "Add a source"}
	add.AddCommand(a.sourceAddEntraCommand(), a.sourceAddLDAPCommand())
	cmd.AddCommand(add, a.sourceListCommand(), a.sourceShowCommand(), a.sourceTestCommand(), a.sourceRemoveCommand(), a.sourceSetCommand(),
		a.sourceSearchCommand("groups"), a.sourceSearchCommand("users"))
	return cmd
}

// secretFlags are the ways a credential may be given: never as a value on
// the command line.
type secretFlags struct{ file, env string }

func (f *secretFlags) register(cmd *cobra.Command, name, what string) {
	cmd.Flags().StringVar(&f.file, name+"-file", "", "file holding the "+what+" (- for standard input)")
	cmd.Flags().StringVar(&f.env, name+"-env", "", "environment variable holding the "+what)
}

func (a *app) sourceAddEntraCommand() *cobra.Command {
	var (
		name, description, tenant, clientID, cloud, authority, graphURL, caFile, expires, certFile string
		sec                                                                                        secretFlags
		asJSON                                                                                     bool
	)
	cmd := &cobra.Command{
		Use:   "entra --name NAME --tenant TENANT --client-id ID --client-secret-file FILE",
		Short: "Add a Microsoft Entra ID (Azure AD) tenant",
		Long: `Add a Microsoft Entra ID tenant, read through Microsoft Graph with an app
registration's client credentials. The app needs the application permissions
User.Read.All and GroupMember.Read.All, with admin consent granted.

The client secret is read from a file, standard input or an environment
variable, never from the command line; give its VALUE, not its secret ID.
With --certificate-file, the app authenticates with a certificate instead
(a PEM file holding the certificate and its private key).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg := entra.Config{
				Tenant: tenant, ClientID: clientID, Cloud: cloud,
				AuthorityURL: authority, GraphURL: graphURL, SecretExpires: expires,
				AuthMethod: "secret",
			}
			var err error
			if cfg.CAPEM, err = readCAFile(caFile); err != nil {
				return err
			}
			var secretValue []byte
			if certFile != "" {
				if sec.file != "" || sec.env != "" {
					return usageErr("give either a client secret or --certificate-file, not both")
				}
				cfg.AuthMethod = "certificate"
				if secretValue, err = a.readSecret("certificate and private key", certFile, ""); err != nil {
					return err
				}
			} else if secretValue, err = a.readSecret("client secret", sec.file, sec.env); err != nil {
				return err
			} else if secretValue == nil {
				return usageErr("the client secret is required: --client-secret-file FILE, --client-secret-file - (standard input) or --client-secret-env VAR")
			}
			if expires != "" {
				if _, err := time.Parse(time.DateOnly, expires); err != nil {
					return usageErr("--secret-expires %q: want a date as YYYY-MM-DD", expires)
				}
			}
			if err := cfg.Validate(); err != nil {
				return usageErr("%v", err)
			}
			return a.addSource(ctx, name, description, directory.KindEntra, cfg, secretValue, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "a name for the source, unique in the account (required)")
	f.StringVar(&description, "description", "", "a description")
	f.StringVar(&tenant, "tenant", "", "the tenant's primary domain or tenant ID (required)")
	f.StringVar(&clientID, "client-id", "", "the app registration's application (client) ID (required)")
	sec.register(cmd, "client-secret", "client secret value")
	f.StringVar(&certFile, "certificate-file", "", "PEM file with the app's certificate and private key, instead of a client secret")
	f.StringVar(&expires, "secret-expires", "", "the client secret's expiry date, YYYY-MM-DD (dirsync warns before it)")
	f.StringVar(&cloud, "cloud", "global", "global, usgov (GCC High), usgovdod, china, or custom (with --authority-url and --graph-url)")
	f.StringVar(&authority, "authority-url", "", "login authority URL, for a custom cloud, proxy or emulator")
	f.StringVar(&graphURL, "graph-url", "", "Microsoft Graph URL, for a custom cloud, proxy or emulator")
	f.StringVar(&caFile, "ca-file", "", "PEM file of extra CA certificates to trust")
	f.BoolVar(&asJSON, "json", false, "print the new source as JSON")
	return cmd
}

// addSource stores a new source with its secret sealed.
func (a *app) addSource(ctx context.Context, name, description string, kind directory.SourceKind, cfg any, secretValue []byte, asJSON bool) error {
	name = strings.TrimSpace(name)
	if name == "" {
		return usageErr("--name is required")
	}
	st, acc, err := a.currentAccount(ctx)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := a.checkClaim(ctx, st, acc, kind, raw); err != nil {
		return err
	}
	sealed, err := a.box.Seal(secretValue)
	if err != nil {
		return err
	}
	src := directory.Source{AccountID: acc.ID, Name: name, Description: description, Kind: kind, Config: raw, Secret: sealed, Enabled: true}
	err = st.Update(ctx, func(tx store.Tx) error { return tx.CreateSource(ctx, &src) })
	if errors.Is(err, store.ErrAlreadyExists) {
		return usageErr("account %s already has a source named %q", acc.Name, name)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return a.printJSON(sourceView(src))
	}
	a.printf("Added %s source %q (%s). Next: dirsync source test %s\n", kind, src.Name, src.ID, src.Name)
	return nil
}

// sourceJSON is a source as shown: its settings, never its secret.
type sourceJSON struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Kind        string          `json:"kind"`
	Description string          `json:"description,omitempty"`
	Enabled     bool            `json:"enabled"`
	Settings    json.RawMessage `json:"settings"`
	SecretSet   bool            `json:"secret_set"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

func sourceView(s directory.Source) sourceJSON {
	return sourceJSON{s.ID, s.Name, string(s.Kind), s.Description, s.Enabled, s.Config, len(s.Secret) > 0, s.CreatedAt, s.UpdatedAt}
}

func (a *app) sourceListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the account's sources",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, acc, err := a.currentAccount(ctx)
			if err != nil {
				return err
			}
			srcs, err := st.Sources(ctx, acc.ID)
			if err != nil {
				return err
			}
			if asJSON {
				out := []sourceJSON{}
				for _, s := range srcs {
					out = append(out, sourceView(s))
				}
				return a.printJSON(out)
			}
			var rows [][]string
			for _, s := range srcs {
				last := "never"
				if runs, err := st.Runs(ctx, acc.ID, s.ID, 1); err == nil && len(runs) > 0 {
					last = fmt.Sprintf("%s %s", fmtTime(runs[0].StartedAt), runs[0].Outcome)
				}
				rows = append(rows, []string{s.Name, string(s.Kind), enabledWord(s.Enabled), last, dash(s.Description)})
			}
			return a.table([]string{"NAME", "KIND", "STATUS", "LAST RUN", "DESCRIPTION"}, rows)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func enabledWord(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func (a *app) sourceShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show SOURCE",
		Short: "Show a source's settings (never its secret)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, src, err := a.findSource(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(sourceView(src))
			}
			a.printf("Name:        %s\nID:          %s\nKind:        %s\nStatus:      %s\n", src.Name, src.ID, src.Kind, enabledWord(src.Enabled))
			if src.Description != "" {
				a.printf("Description: %s\n", src.Description)
			}
			var settings map[string]any
			_ = json.Unmarshal(src.Config, &settings)
			for _, k := range sortedKeys(settings) {
				v := settings[k]
				if k == "ca_pem" {
					v = "(set)"
				}
				if s, ok := v.(string); ok && s == "" {
					continue
				}
				a.printf("%-12s %v\n", k+":", v)
			}
			a.printf("Secret:      %s\n", map[bool]string{true: "set (encrypted at rest)", false: "not set"}[len(src.Secret) > 0])
			if s, err := scope.Parse(src.Settings); err == nil {
				a.printf("Scope and import options (dirsync source set to change):\n  %s\n", strings.Join(s.Describe(), "\n  "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) findSource(ctx context.Context, nameOrID string) (directory.Account, directory.Source, error) {
	st, acc, err := a.currentAccount(ctx)
	if err != nil {
		return acc, directory.Source{}, err
	}
	src, err := st.Source(ctx, acc.ID, nameOrID)
	if errors.Is(err, store.ErrNotFound) {
		return acc, src, usageErr("account %s has no source %q (see: dirsync source list)", acc.Name, nameOrID)
	}
	return acc, src, err
}

// connect opens the connector for a source, unsealing its secret.
func (a *app) connect(src directory.Source) (connector.Connector, error) {
	secretValue, err := a.box.Open(src.Secret)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src.Name, err)
	}
	return registry.Open(src, secretValue, registry.Options{Logger: a.logger()})
}

func (a *app) sourceTestCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "test SOURCE",
		Short: "Test a source's connection, credentials and permissions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, src, err := a.findSource(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			conn, err := a.connect(src)
			if err != nil {
				return &exitError{ExitUsage, err}
			}
			results, checkErr := conn.Check(cmd.Context())
			if asJSON {
				out := struct {
					Source string                  `json:"source"`
					OK     bool                    `json:"ok"`
					Checks []connector.CheckResult `json:"checks"`
					Error  *errorJSON              `json:"error,omitempty"`
				}{src.Name, checkErr == nil, results, errorView(checkErr)}
				if out.Checks == nil {
					out.Checks = []connector.CheckResult{}
				}
				if err := a.printJSON(out); err != nil {
					return err
				}
				if checkErr != nil {
					return &exitError{ExitSource, fmt.Errorf("source %s: test failed", src.Name)}
				}
				return nil
			}
			for _, r := range results {
				mark := "ok  "
				if !r.OK {
					mark = "FAIL"
				}
				a.printf("%s  %s: %s\n", mark, r.Name, r.Message)
			}
			if checkErr != nil {
				return fmt.Errorf("source %s: connection test failed: %w", src.Name, checkErr)
			}
			a.printf("Source %s is ready to sync.\n", src.Name)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

type errorJSON struct {
	Kind    string `json:"kind,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

func errorView(err error) *errorJSON {
	if err == nil {
		return nil
	}
	var ce *connector.Error
	if errors.As(err, &ce) {
		return &errorJSON{string(ce.Kind), ce.Code, ce.Error()}
	}
	return &errorJSON{Message: err.Error()}
}

func (a *app) sourceRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove SOURCE",
		Short: "Remove a source; the users and groups it brought stay, as local objects",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			acc, src, err := a.findSource(ctx, args[0])
			if err != nil {
				return err
			}
			if err := a.st.Update(ctx, func(tx store.Tx) error { return tx.DeleteSource(ctx, acc.ID, src.ID) }); err != nil {
				return err
			}
			a.printf("Removed source %s. Its users and groups stay in the directory, no longer managed by it.\n", src.Name)
			return nil
		},
	}
}
