package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/schedule"
)

func (a *app) sourceCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "source", Short: "Manage the directories an account syncs from"}
	add := &cobra.Command{Use: "add", Short: "Add a source"}
	add.AddCommand(a.sourceAddEntraCommand(), a.sourceAddLDAPCommand())
	cmd.AddCommand(add, a.sourceListCommand(), a.sourceShowCommand(), a.sourceTestCommand(), a.sourceRemoveCommand(),
		a.sourceSetCommand(), a.sourceScheduleCommand(), a.sourceEnableCommand(true), a.sourceEnableCommand(false), a.sourceSecretCommand(),
		a.sourceSearchCommand("groups"), a.sourceSearchCommand("users"))
	return cmd
}

// secretFlags are the ways a credential may be given: never as a value on
// the command line. The flag that would take it as a value exists only to
// say so.
type secretFlags struct {
	name, what     string
	file, env, bad string
}

func (f *secretFlags) register(cmd *cobra.Command, name, what string) {
	f.name, f.what = name, what
	cmd.Flags().StringVar(&f.file, name+"-file", "", "file holding the "+what+" (- for standard input)")
	cmd.Flags().StringVar(&f.env, name+"-env", "", "environment variable holding the "+what)
	cmd.Flags().StringVar(&f.bad, name, "", "never: a secret on the command line shows in the process list and the shell's history")
	cmd.Flags().MarkHidden(name)
}

// read reads the credential; nil when none was given.
func (f *secretFlags) read(a *app, cmd *cobra.Command) ([]byte, error) {
	if cmd.Flags().Changed(f.name) {
		return nil, usageErr("--%s: secrets are never taken on the command line, where the process list and the shell's history would show them: give --%s-file FILE, --%s-file - (standard input) or --%s-env VAR",
			f.name, f.name, f.name, f.name)
	}
	return a.readSecret(f.what, f.file, f.env)
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
(a PEM file holding the certificate and its private key).

The source syncs daily at a time of day derived from its id (see
"dirsync source schedule" to change it).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := entra.Config{Tenant: tenant, ClientID: clientID, Cloud: cloud, AuthorityURL: authority, GraphURL: graphURL,
				SecretExpires: expires, AuthMethod: entra.AuthSecret}
			var err error
			if cfg.CAPEM, err = readCAFile(caFile); err != nil {
				return err
			}
			secretValue, err := sec.read(a, cmd)
			if err != nil {
				return err
			}
			if certFile != "" {
				if secretValue != nil {
					return usageErr("give either a client secret or --certificate-file, not both")
				}
				cfg.AuthMethod = entra.AuthCertificate
				if secretValue, err = a.readSecret("certificate and private key", certFile, ""); err != nil {
					return err
				}
			} else if secretValue == nil {
				return usageErr("the client secret is required: --client-secret-file FILE, --client-secret-file - (standard input) or --client-secret-env VAR")
			}
			return a.addSource(cmd, name, description, directory.KindEntra, cfg, secretValue, asJSON)
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
	cmd.MarkFlagRequired("name")
	return cmd
}

// addSource adds the source through manage, which checks its settings,
// its domain, seals its secret and gives it its schedule.
func (a *app) addSource(cmd *cobra.Command, name, description string, kind directory.SourceKind, cfg any, secretValue []byte, asJSON bool) error {
	m, actor, err := a.open(cmd)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	v, err := m.AddSource(cmd.Context(), actor, manage.SourceInput{Name: &name, Description: &description, Kind: kind, Config: raw, Secret: secretValue})
	if err != nil {
		return err
	}
	if asJSON {
		return a.printJSON(sourceJSON(v))
	}
	a.printf("Added %s source %q (%s), syncing %s. Next: dirsync source test %s\n", kind, v.Name, v.ID, v.Schedule.String(), v.Name)
	return nil
}

// sourceView is a source as --json prints it: its settings, never its secret.
type sourceView struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Kind        string          `json:"kind"`
	Description string          `json:"description,omitempty"`
	Enabled     bool            `json:"enabled"`
	Settings    json.RawMessage `json:"settings"`
	SecretSet   bool            `json:"secret_set"`
	Scope       any             `json:"scope"`
	Schedule    string          `json:"schedule"`
	NextRuns    []time.Time     `json:"next_runs"`
	Status      string          `json:"status"`
	Message     string          `json:"status_message,omitempty"`
	LastRun     *directory.Run  `json:"last_run,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

func sourceJSON(v manage.SourceView) sourceView {
	out := sourceView{v.ID, v.Name, string(v.Kind), v.Description, v.Enabled, v.Config, v.SecretSet, v.Scope,
		v.Schedule.String(), v.NextRuns, v.Status.State, v.Status.Message, v.LastRun, v.CreatedAt, v.UpdatedAt}
	if out.NextRuns == nil {
		out.NextRuns = []time.Time{}
	}
	return out
}

func (a *app) sourceListCommand() *cobra.Command {
	var asJSON bool
	cmd := readOnly(&cobra.Command{
		Use:   "list",
		Short: "List the account's sources",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			vs, err := m.Sources(cmd.Context(), actor)
			if err != nil {
				return err
			}
			if asJSON {
				out := []sourceView{}
				for _, v := range vs {
					out = append(out, sourceJSON(v))
				}
				return a.printJSON(out)
			}
			var rows [][]string
			for _, v := range vs {
				next := "-"
				if len(v.NextRuns) > 0 {
					next = scheduleTime(v.Schedule, v.NextRuns[0])
				}
				last := "-"
				if v.LastRun != nil {
					last = fmtTime(v.LastRun.StartedAt) + " " + string(v.LastRun.Outcome)
				}
				rows = append(rows, []string{v.Name, string(v.Kind), statusWord(v.Status.State), v.Schedule.String(), next, last})
			}
			return a.table([]string{"NAME", "KIND", "STATUS", "SCHEDULE", "NEXT RUN", "LAST RUN"}, rows)
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// statusWord is a source state for people.
func statusWord(state string) string { return strings.ReplaceAll(state, "_", " ") }

func (a *app) sourceShowCommand() *cobra.Command {
	var asJSON bool
	cmd := readOnly(&cobra.Command{
		Use:   "show SOURCE",
		Short: "Show a source: status, schedule and next runs, settings, scope (never its secret)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			v, err := m.Source(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(sourceJSON(v))
			}
			a.printSource(v)
			return nil
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) printSource(v manage.SourceView) {
	status := statusWord(v.Status.State)
	if v.Status.Message != "" {
		status += ": " + v.Status.Message
	}
	secretText := "not set"
	if v.SecretSet {
		secretText = "set (encrypted at rest, never shown)"
	}
	rows := [][2]string{{"Name", v.Name}, {"ID", v.ID}, {"Kind", string(v.Kind)}, {"Description", v.Description},
		{"Status", status}, {"Schedule", v.Schedule.String()}}
	for i, t := range v.NextRuns {
		label := ""
		if i == 0 {
			label = "Next runs"
		}
		rows = append(rows, [2]string{label, scheduleTime(v.Schedule, t)})
	}
	if v.LastRun != nil {
		r := v.LastRun
		rows = append(rows, [2]string{"Last run", fmt.Sprintf("%s %s %s (run %s)", fmtTime(r.StartedAt), r.Kind, r.Outcome, r.ID)})
	}
	if v.Active != nil {
		rows = append(rows, [2]string{"Now", fmt.Sprintf("run %s %s", v.Active.ID, v.Active.Outcome)})
	}
	rows = append(rows, [2]string{"Secret", secretText})
	a.fields(rows)
	a.printf("Connection settings:\n")
	a.printConfig(v.Config)
	a.printf("Scope and import options (dirsync source set to change):\n  %s\n", strings.Join(v.Scope.Describe(), "\n  "))
}

// scheduleTime shows a run time in its schedule's zone.
func scheduleTime(sc schedule.Schedule, t time.Time) string {
	if loc, err := sc.Location(); err == nil {
		t = t.In(loc)
	}
	return t.Format("Mon 2006-01-02 15:04 MST")
}

// printConfig prints a connector's settings one per line, readable: lists
// joined, maps as key=value, certificates as "(set)".
func (a *app) printConfig(raw []byte) {
	var cfg map[string]any
	_ = json.Unmarshal(raw, &cfg)
	var rows [][2]string
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		rows = append(rows, [2]string{"  " + settingLabel(k), settingValue(k, cfg[k])})
	}
	a.fields(rows)
}

// settingLabels name the settings whose key reads badly as words.
var settingLabels = map[string]string{
	"ca_pem": "CA certificates", "insecure_skip_tls_verify": "Skip TLS verification", "upn_suffix_map": "UPN suffix map",
	"include_ous": "Included OUs", "exclude_ous": "Excluded OUs",
}

var acronyms = map[string]string{"id": "ID", "url": "URL", "urls": "URLs", "dn": "DN", "tls": "TLS", "upn": "UPN", "ldap": "LDAP"}

// settingLabel turns a setting's key into words: client_id is "Client ID".
func settingLabel(key string) string {
	if l, ok := settingLabels[key]; ok {
		return l
	}
	words := strings.Split(key, "_")
	for i, w := range words {
		if a, ok := acronyms[w]; ok {
			words[i] = a
		} else if i == 0 && w != "" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}

func settingValue(key string, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		if key == "ca_pem" && x != "" {
			return "(set)"
		}
		return x
	case bool:
		if x {
			return "yes"
		}
		return ""
	case []any:
		var parts []string
		for _, it := range x {
			parts = append(parts, fmt.Sprint(it))
		}
		return strings.Join(parts, "; ")
	case map[string]any:
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(x)) {
			parts = append(parts, k+"="+fmt.Sprint(x[k]))
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}

func (a *app) sourceTestCommand() *cobra.Command {
	var asJSON bool
	cmd := readOnly(&cobra.Command{
		Use:   "test SOURCE",
		Short: "Test a source's connection, credentials and permissions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			t, err := m.TestSource(cmd.Context(), actor, args[0])
			if t.Source == "" {
				return err
			}
			return a.printTest("source", t.Source, t.OK, t.Checks, t.Problem, err, asJSON)
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) sourceRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove SOURCE",
		Short: "Remove a source; the users and groups it brought stay, as local objects",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			src, err := m.RemoveSource(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			a.printf("Removed source %s. Its users and groups stay in the directory, no longer managed by it.\n", src.Name)
			return nil
		},
	}
}

func (a *app) sourceEnableCommand(on bool) *cobra.Command {
	use, short, done := "enable", "Turn a source on: it syncs on its schedule and on request", "on"
	if !on {
		use, short, done = "disable", "Turn a source off: it syncs neither on schedule nor on request; its users stay as they are", "off"
	}
	return &cobra.Command{
		Use:   use + " SOURCE",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			v, err := m.SetEnabled(cmd.Context(), actor, args[0], on)
			if err != nil {
				return err
			}
			a.printf("Source %s is %s.\n", v.Name, done)
			return nil
		},
	}
}

func (a *app) sourceScheduleCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "schedule SOURCE SCHEDULE",
		Short: `Set when a source syncs under "dirsync serve", such as "daily at 03:15 in Europe/Paris"`,
		Long: `Set when a source syncs under "dirsync serve". SCHEDULE is one of
` + manage.ScheduleHelp + `

For example:
  dirsync source schedule contoso "daily at 03:15 in Europe/Paris"
  dirsync source schedule contoso "every 6h from 02:00"
  dirsync source schedule contoso none

A new source syncs daily at a time of day derived from its id. The first run
of a new schedule is its first slot from now; "dirsync source show" lists the
next runs.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := manage.ParseSchedule(args[1])
			if err != nil {
				return err
			}
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			v, err := m.SetSchedule(cmd.Context(), actor, args[0], sc)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(sourceJSON(v))
			}
			a.printf("Source %s syncs %s.\n", v.Name, v.Schedule.String())
			for _, t := range v.NextRuns {
				a.printf("  next: %s\n", scheduleTime(v.Schedule, t))
			}
			if !v.Enabled {
				a.printf("It is turned off: it will not sync until turned on (dirsync source enable %s).\n", v.Name)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the source as JSON")
	return cmd
}

// printTest prints a source's or a target's connection test: a line per
// check, then whether it is ready; or, with --json, the same as an object
// named by its kind. err, the test's failure, is returned for the exit code.
func (a *app) printTest(kind, name string, ok bool, checks []manage.CheckResult, problem *manage.SourceProblem, err error, asJSON bool) error {
	if asJSON {
		out := map[string]any{kind: name, "ok": ok, "checks": checks}
		if problem != nil {
			out["error"] = problem
		}
		if perr := a.printJSON(out); perr != nil {
			return perr
		}
		return err
	}
	for _, r := range checks {
		mark := "ok  "
		if !r.OK {
			mark = "FAIL"
		}
		a.printf("%s  %s: %s\n", mark, r.Name, r.Message)
	}
	if err == nil {
		a.printf("%s %s is ready to sync.\n", strings.ToUpper(kind[:1])+kind[1:], name)
	}
	return err
}
