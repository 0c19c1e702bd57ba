package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/provision"
)

func (a *app) targetCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "target", Short: "Manage the Entra ID tenants an account provisions into (Azure AD Connect's job)",
		Long: `A target is an Entra ID tenant that dirsync writes: it creates, updates,
disables and deletes the users and security groups of the account's Active
Directory sources there, as Azure AD Connect does. "dirsync sync TARGET" runs
a delta cycle, "--full" an initial one; "dirsync serve" runs it every 30
minutes.`}
	add := &cobra.Command{Use: "add", Short: "Add a target"}
	add.AddCommand(a.targetAddEntraCommand())
	cmd.AddCommand(add, a.targetListCommand(), a.targetShowCommand(), a.targetTestCommand(), a.targetRemoveCommand(),
		a.targetSetCommand(), a.targetErrorsCommand(), a.targetRunsCommand(), a.targetRunCommand())
	return cmd
}

// targetSetFlags are the export options add and set share.
type targetSetFlags struct {
	sources       []string
	staging       bool
	threshold     int
	usageLocation string
	flows         []string
	resetFlows    bool
	schedule      string
	enabled       bool
}

func (f *targetSetFlags) register(cmd *cobra.Command, adding bool) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.sources, "source", nil, "an Active Directory source that feeds the target (repeat for several; replaces the list)")
	fl.BoolVar(&f.staging, "staging", false, "staging mode: compute and show every plan, write nothing (--staging=false to start writing)")
	fl.IntVar(&f.threshold, "deletion-threshold", 0, fmt.Sprintf("stop a cycle that would delete more objects than this (default %d)", provision.DefaultDeletionThreshold))
	fl.StringVar(&f.usageLocation, "usage-location", "", "two-letter country code given to every user, such as US")
	fl.StringArrayVar(&f.flows, "flow", nil, "override a flow: ATTRIBUTE=DIRECTORY_ATTRIBUTE, or ATTRIBUTE= for none (repeat)")
	fl.StringVar(&f.schedule, "schedule", "", "when it syncs under dirsync serve (default \""+provision.DefaultSchedule+"\")")
	if !adding {
		fl.BoolVar(&f.enabled, "enabled", true, "--enabled=false turns the target off: it syncs neither on schedule nor on request")
		fl.BoolVar(&f.resetFlows, "reset-flows", false, "go back to the default flow table (before any --flow)")
	}
}

func (f *targetSetFlags) apply(cmd *cobra.Command, in *manage.TargetInput) error {
	fl := cmd.Flags()
	if fl.Changed("source") {
		in.Sources = append([]string{}, f.sources...)
	}
	if fl.Changed("staging") {
		in.Staging = &f.staging
	}
	if fl.Changed("deletion-threshold") {
		in.DeletionThreshold = &f.threshold
	}
	if fl.Changed("usage-location") {
		in.UsageLocation = &f.usageLocation
	}
	if fl.Changed("schedule") {
		in.Schedule = &f.schedule
	}
	if fl.Changed("enabled") {
		in.Enabled = &f.enabled
	}
	in.ResetFlows = f.resetFlows
	for _, kv := range f.flows {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return usageErr("--flow %q: want ATTRIBUTE=DIRECTORY_ATTRIBUTE, such as mobilePhone=mobile_phone, or ATTRIBUTE= for none", kv)
		}
		if in.Flows == nil {
			in.Flows = map[string]string{}
		}
		in.Flows[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return nil
}

// targetEntraFlags are the flags of "target add entra".
type targetEntraFlags struct {
	name, tenant, clientID, cloud, authority, graphURL, caFile, expires, certFile string
	sec                                                                           secretFlags
	set                                                                           targetSetFlags
	asJSON                                                                        bool
}

func (a *app) targetAddEntraCommand() *cobra.Command {
	var tf targetEntraFlags
	cmd := &cobra.Command{
		Use:   "entra --name NAME --tenant TENANT --client-id ID --client-secret-file FILE --source SOURCE",
		Short: "Add a Microsoft Entra ID tenant to provision into",
		Long: `Add an Entra ID tenant that dirsync writes through Microsoft Graph with an
app registration's client credentials. The app needs the application
permissions User.ReadWrite.All and Group.ReadWrite.All with admin consent
("dirsync target test" says which is missing); Domain.Read.All (optional)
lets dirsync move UPNs whose suffix the tenant has not verified (corp.local)
to the tenant's .onmicrosoft.com domain.

Start in staging mode (--staging): every cycle computes and records its plan
and writes nothing, until "dirsync target set NAME --staging=false".
Password hashes cannot be synced through Graph: new users get a random
password meeting Entra's policy and must change it at first sign-in.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.targetAddEntra(cmd, &tf) },
	}
	f := cmd.Flags()
	f.StringVar(&tf.name, "name", "", "a name for the target, unique in the account (required)")
	f.StringVar(&tf.tenant, "tenant", "", "the tenant's primary domain or tenant ID (required)")
	f.StringVar(&tf.clientID, "client-id", "", "the write app's application (client) ID (required)")
	tf.sec.register(cmd, "client-secret", "client secret value")
	f.StringVar(&tf.certFile, "certificate-file", "", "PEM file with the app's certificate and private key, instead of a client secret")
	f.StringVar(&tf.expires, "secret-expires", "", "the client secret's expiry date, YYYY-MM-DD")
	f.StringVar(&tf.cloud, "cloud", "global", "global, usgov (GCC High), usgovdod, china, or custom (with --authority-url and --graph-url)")
	f.StringVar(&tf.authority, "authority-url", "", "login authority URL, for a custom cloud, proxy or emulator")
	f.StringVar(&tf.graphURL, "graph-url", "", "Microsoft Graph URL, for a custom cloud, proxy or emulator")
	f.StringVar(&tf.caFile, "ca-file", "", "PEM file of extra CA certificates to trust")
	f.BoolVar(&tf.asJSON, "json", false, "print the new target as JSON")
	tf.set.register(cmd, true)
	cmd.MarkFlagRequired("name")
	return cmd
}

// targetAddEntra adds the target the flags describe.
func (a *app) targetAddEntra(cmd *cobra.Command, tf *targetEntraFlags) error {
	raw, secretValue, err := a.targetEntraSettings(cmd, tf)
	if err != nil {
		return err
	}
	in := manage.TargetInput{Name: &tf.name, Kind: directory.TargetEntra, Config: raw, Secret: secretValue}
	if err := tf.set.apply(cmd, &in); err != nil {
		return err
	}
	m, actor, err := a.open(cmd)
	if err != nil {
		return err
	}
	v, err := m.AddTarget(cmd.Context(), actor, in)
	if err != nil {
		return err
	}
	if tf.asJSON {
		return a.printJSON(targetJSON(v))
	}
	mode := "writing"
	if v.Settings.Staging {
		mode = "in staging mode (plans only, writes nothing)"
	}
	a.printf("Added Entra target %q (%s), %s, fed by %s. Next: dirsync target test %s\n", v.Name, v.ID, mode, sourcesText(v), v.Name)
	return nil
}

// targetEntraSettings reads the connection settings and the credential (a
// client secret, or a certificate and its key) the flags give.
func (a *app) targetEntraSettings(cmd *cobra.Command, tf *targetEntraFlags) (json.RawMessage, []byte, error) {
	cfg := entra.Config{Tenant: tf.tenant, ClientID: tf.clientID, Cloud: tf.cloud, AuthorityURL: tf.authority, GraphURL: tf.graphURL,
		SecretExpires: tf.expires, AuthMethod: entra.AuthSecret}
	var err error
	if cfg.CAPEM, err = readCAFile(tf.caFile); err != nil {
		return nil, nil, err
	}
	secretValue, err := tf.sec.read(a, cmd)
	if err != nil {
		return nil, nil, err
	}
	if tf.certFile != "" {
		if secretValue != nil {
			return nil, nil, usageErr("give either a client secret or --certificate-file, not both")
		}
		cfg.AuthMethod = entra.AuthCertificate
		if secretValue, err = a.readSecret("certificate and private key", tf.certFile, ""); err != nil {
			return nil, nil, err
		}
	} else if secretValue == nil {
		return nil, nil, usageErr("the client secret is required: --client-secret-file FILE, --client-secret-file - (standard input) or --client-secret-env VAR")
	}
	raw, err := json.Marshal(cfg)
	return raw, secretValue, err
}

func sourcesText(v manage.TargetView) string {
	if len(v.SourceNames) == 0 {
		return "no source yet (--source)"
	}
	return strings.Join(v.SourceNames, ", ")
}

// targetView is a target as --json prints it, never its secret.
type targetView struct {
	ID        string              `json:"id"`
	Name      string              `json:"name"`
	Kind      string              `json:"kind"`
	Enabled   bool                `json:"enabled"`
	Config    json.RawMessage     `json:"config"`
	SecretSet bool                `json:"secret_set"`
	Settings  provision.Settings  `json:"settings"`
	Sources   []string            `json:"source_names"`
	Threshold int                 `json:"deletion_threshold"`
	Schedule  string              `json:"schedule"`
	Flows     []provision.FlowRow `json:"flows"`
	Errors    int                 `json:"sync_errors"`
	NextRun   time.Time           `json:"next_run,omitzero"`
	LastRun   any                 `json:"last_run,omitempty"`
	CreatedAt time.Time           `json:"created_at"`
	UpdatedAt time.Time           `json:"updated_at"`
}

func targetJSON(v manage.TargetView) targetView {
	out := targetView{ID: v.ID, Name: v.Name, Kind: string(v.Kind), Enabled: v.Enabled, Config: v.Config, SecretSet: v.SecretSet,
		Settings: v.Settings, Sources: v.SourceNames, Threshold: v.Settings.Threshold(), Schedule: v.Settings.ScheduleText(),
		Flows: v.Flows, Errors: v.Errors, NextRun: v.NextRun, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
	if out.Sources == nil {
		out.Sources = []string{}
	}
	if v.LastRun != nil {
		out.LastRun = v.LastRun
	}
	return out
}

func (a *app) targetListCommand() *cobra.Command {
	var asJSON bool
	cmd := readOnly(&cobra.Command{
		Use:   "list",
		Short: "List the account's targets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			vs, err := m.Targets(cmd.Context(), actor)
			if err != nil {
				return err
			}
			if asJSON {
				out := []targetView{}
				for _, v := range vs {
					out = append(out, targetJSON(v))
				}
				return a.printJSON(out)
			}
			var rows [][]string
			for _, v := range vs {
				mode := "writing"
				if v.Settings.Staging {
					mode = "staging"
				}
				last := "-"
				if v.LastRun != nil {
					last = fmtTime(v.LastRun.StartedAt) + " " + v.LastRun.Outcome
				}
				rows = append(rows, []string{v.Name, string(v.Kind), mode, sourcesText(v), strconv.Itoa(v.Errors), last})
			}
			return a.table([]string{"NAME", "KIND", "MODE", "SOURCES", "SYNC ERRORS", "LAST RUN"}, rows)
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) targetShowCommand() *cobra.Command {
	var asJSON bool
	cmd := readOnly(&cobra.Command{
		Use:   "show TARGET",
		Short: "Show a target: mode, sources, safety limits, flow table, last run (never its secret)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			v, err := m.Target(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(targetJSON(v))
			}
			a.printTarget(v)
			return nil
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) printTarget(v manage.TargetView) {
	mode := "writing"
	if v.Settings.Staging {
		mode = "staging (every plan is computed and recorded; nothing is written)"
	}
	secretText := "not set"
	if v.SecretSet {
		secretText = "set (encrypted at rest, never shown)"
	}
	usage := v.Settings.UsageLocation
	if usage == "" {
		usage = "none (set --usage-location before assigning licenses)"
	}
	rows := [][2]string{{"Name", v.Name}, {"ID", v.ID}, {"Kind", string(v.Kind)}, {"Mode", mode},
		{"Sources", sourcesText(v)}, {"Deletion threshold", strconv.Itoa(v.Settings.Threshold())},
		{"Usage location", usage}, {"Schedule", v.Settings.ScheduleText() + ", next " + fmtTime(v.NextRun)}, {"Sync errors", strconv.Itoa(v.Errors)}}
	if r := v.LastRun; r != nil {
		rows = append(rows, [2]string{"Last run", fmt.Sprintf("%s %s %s (run %s)", fmtTime(r.StartedAt), r.Mode, r.Outcome, r.ID)})
	}
	rows = append(rows, [2]string{"Secret", secretText})
	a.fields(rows)
	a.printf("Connection settings:\n")
	a.printConfig(v.Config)
	a.printf("Attribute flows (dirsync target set --flow ATTRIBUTE=DIRECTORY_ATTRIBUTE to change):\n")
	var frows [][]string
	for _, f := range v.Flows {
		frows = append(frows, []string{"  " + f.Attribute, f.From, f.Note})
	}
	a.table([]string{"  ENTRA", "FROM", "NOTE"}, frows)
	a.printf("proxyAddresses is read-only in Graph (Exchange Online owns it) and is not written; password hashes cannot be synced through Graph.\n")
}

func (a *app) targetTestCommand() *cobra.Command {
	var asJSON bool
	cmd := readOnly(&cobra.Command{
		Use:   "test TARGET",
		Short: "Test a target's connection and the write app's permissions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			t, err := m.TestTarget(cmd.Context(), actor, args[0])
			if t.Target == "" {
				return err
			}
			return a.printTest("target", t.Target, t.OK, t.Checks, t.Problem, err, asJSON)
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) targetRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove TARGET",
		Short: "Remove a target; what dirsync wrote to the tenant stays there",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			t, err := m.RemoveTarget(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			a.printf("Removed target %s. The users and groups dirsync wrote to the tenant stay there, no longer managed.\n", t.Name)
			return nil
		},
	}
}

func (a *app) targetSetCommand() *cobra.Command {
	var (
		set    targetSetFlags
		sec    secretFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "set TARGET",
		Short: "Change a target's sources, staging mode, deletion threshold, usage location, flows, schedule or secret",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in manage.TargetInput
			if err := set.apply(cmd, &in); err != nil {
				return err
			}
			secretValue, err := sec.read(a, cmd)
			if err != nil {
				return err
			}
			in.Secret = secretValue
			if cmd.Flags().NFlag() == 0 {
				return usageErr("nothing to change: see dirsync target set --help")
			}
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			v, err := m.SetTarget(cmd.Context(), actor, args[0], in)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(targetJSON(v))
			}
			a.printTarget(v)
			return nil
		},
	}
	set.register(cmd, false)
	sec.register(cmd, "client-secret", "new client secret value")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
