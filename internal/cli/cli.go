// Package cli is dirsync's command line: one cobra command per verb, all of
// them thin. They parse flags and arguments, call one use case of package
// manage as the account's owner, and print what it returns: tables and
// readable layouts for people, JSON with --json for programs. Every rule is
// manage's; the command line never reaches the store or the engine.
//
// Exit codes mean something (exit.go): scripts can tell bad input from a
// source that failed from a run that a safety rule stopped.
package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/safehttp"
)

// Options are what a test may inject; no flag reaches them. The zero
// Options is production: the real clock and the connector registry.
type Options struct {
	Clock   clock.Clock
	Connect func(src directory.Source, secret []byte) (connector.Connector, error)
}

// app is what every command shares: the settings, the open parts, and the
// actor the command acts as.
type app struct {
	opts   Options
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
	// isTerminal says whether stderr is a terminal, for progress display.
	isTerminal bool

	root     *cobra.Command
	settings config.Values
	parts    *factory.Parts
	m        *manage.Manager
	actor    manage.Actor
	// jsonLogs makes the logs JSON (serve).
	jsonLogs bool
	// shownRun is the run whose summary the command printed.
	shownRun string
	// ran is set when a command's own code starts: an error before it is
	// a usage error cobra found (an unknown command, a missing argument).
	ran bool
}

// Main runs the command line with args and returns the exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Run(ctx, args, stdin, stdout, stderr, Options{})
}

// Run is Main with injected parts, for tests.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, opts Options) int {
	a := &app{opts: opts, stdout: stdout, stderr: stderr, stdin: stdin}
	if f, ok := stderr.(*os.File); ok {
		a.isTerminal = isTerminal(f)
	}
	a.root = a.rootCommand()
	a.root.SetArgs(args)
	a.root.SetIn(stdin)
	a.root.SetOut(stdout)
	a.root.SetErr(stderr)
	err := a.root.ExecuteContext(ctx)
	if a.parts != nil {
		a.parts.Close()
	}
	code := ExitCode(err)
	if err != nil && !a.ran && code == ExitError {
		code = ExitUsage // cobra refused the command line itself
	}
	if err != nil {
		a.printError(err)
	}
	return code
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "dirsync",
		Short: "Synchronize users and groups from Entra ID and Active Directory into your application's directory",
		Long: `dirsync keeps an application's user directory in step with Microsoft Entra ID
(Azure AD) and Active Directory/LDAP: it imports users, groups and memberships,
updates them, disables who is disabled at the source, and retires who left,
without ever losing or wrongly deleting anyone.

Start with "dirsync demo" to see a whole sync against an emulated tenant.`,
		Version:       versionText(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	bindSettings(root.PersistentFlags(), config.Global)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr("%v", err) })
	root.AddCommand(
		a.accountCommand(),
		a.adminCommand(),
		a.benchCommand(),
		a.demoCommand(),
		a.emulateCommand(),
		a.sourceCommand(),
		a.targetCommand(),
		a.configCommand(),
		a.syncCommand(),
		a.usersCommand(),
		a.groupsCommand(),
		a.runsCommand(),
		a.trashCommand(),
		a.importCommand(),
		a.keyCommand(),
		a.dbCommand(),
		a.serveCommand(),
		a.tokenCommand(),
		a.webhooksCommand(),
		a.eventsCommand(),
		a.enrollmentsCommand(),
		a.mailCommand(),
		a.versionCommand(),
	)
	groups(root)
	markRan(root, &a.ran)
	return root
}

// groups makes every command that only groups others refuse a word it does
// not know ("dirsync source shwo"), as the root does, instead of printing
// its help and succeeding.
func groups(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		groups(c)
	}
	if cmd.RunE != nil || cmd.Run != nil || !cmd.HasSubCommands() || !cmd.HasParent() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErr("unknown command %q for %q (see %s --help)", args[0], c.CommandPath(), c.CommandPath())
		}
		return c.Help()
	}
}

// markRan wraps every command's RunE so that ran tells cobra's own
// refusals (before any RunE) from the commands' errors.
func markRan(cmd *cobra.Command, ran *bool) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			*ran = true
			return run(c, args)
		}
	}
	for _, c := range cmd.Commands() {
		markRan(c, ran)
	}
}

// bindSettings registers a flag for each setting of the table that has one.
func bindSettings(f *pflag.FlagSet, table []config.Setting) {
	for _, s := range table {
		if s.Flag == "" {
			continue
		}
		help := s.Help
		if w := s.Where(); w != "" {
			help += " (" + w + ")"
		}
		f.String(s.Flag, s.Default, help)
		if s.Hidden {
			f.MarkHidden(s.Flag)
		}
	}
}

// loadSettings resolves the global settings, and the command's own table,
// from the flags, the environment and the config file.
func (a *app) loadSettings(cmd *cobra.Command, tables ...[]config.Setting) error {
	flag := func(name string) (string, bool) {
		f := cmd.Flags().Lookup(name)
		if f == nil || !f.Changed {
			return "", false
		}
		return f.Value.String(), true
	}
	env := func(name string) (string, bool) {
		v := os.Getenv(name)
		return v, v != ""
	}
	src := config.Sources{Flag: flag, Env: env}
	file, ok := flag(config.Config)
	if !ok {
		file, _ = env("DIRSYNC_CONFIG")
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return usageErr("config file: %v", err)
		}
		src.File, src.FileName = data, file
	}
	v, err := config.Resolve(src, append([][]config.Setting{config.Global}, tables...)...)
	if err != nil {
		return usageErr("%v", err)
	}
	a.settings = v
	return nil
}

// readOnly marks a command that only reads: it never creates a database.
func readOnly(cmd *cobra.Command) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations["readonly"] = "true"
	return cmd
}

// deployment marks a command that works on the deployment, in no account.
func deployment(cmd *cobra.Command) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations["deployment"] = "true"
	return cmd
}

// open opens the parts once, and the actor: the owner of the account the
// command works in.
func (a *app) open(cmd *cobra.Command) (*manage.Manager, manage.Actor, error) {
	if a.m != nil {
		return a.m, a.actor, nil
	}
	if !a.settings.Loaded() {
		if err := a.loadSettings(cmd); err != nil {
			return nil, manage.Actor{}, err
		}
	}
	allow, err := safehttp.ParseAllowList(a.settings.List(config.WebhookAllow))
	if err != nil {
		return nil, manage.Actor{}, usageErr("%s: %v", a.settings.Source(config.WebhookAllow), err)
	}
	p, err := factory.Open(cmd.Context(), factory.Options{
		DB: a.settings.String(config.DB), KeyFile: a.settings.String(config.KeyFile),
		Existing: cmd.Annotations["readonly"] == "true", LeaseTTL: a.settings.Duration(config.LeaseTTL),
		Workers:        a.settings.Int(config.Workers),
		TrashRetention: a.settings.Duration(config.TrashRetention), EventRetention: a.settings.Duration(config.EventRetention),
		BusyRetry: a.settings.Duration(config.BusyRetry), Clock: a.opts.Clock, Logger: a.logger(), Connect: a.opts.Connect,
		WebhookAllow: allow,
	})
	if err != nil {
		return nil, manage.Actor{}, err
	}
	a.parts, a.m = p, p.Manager
	if cmd.Annotations["deployment"] == "true" {
		a.actor = manage.DeploymentOperator()
	} else if a.actor, err = a.m.Operator(cmd.Context(), a.settings.String(config.Account)); err != nil {
		return nil, manage.Actor{}, err
	}
	return a.m, a.actor, nil
}

// logLevel is the level of the logs on standard error: errors only by
// default, since a command prints what happened itself (serve: info).
func (a *app) logLevel() slog.Level {
	lvl := slog.LevelError
	if v := a.settings.String(config.LogLevel); v != "" {
		lvl.UnmarshalText([]byte(v))
	}
	return lvl
}

func (a *app) logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: a.logLevel()}
	if a.jsonLogs {
		return slog.New(slog.NewJSONHandler(a.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(a.stderr, opts))
}

func (a *app) now() time.Time { return clock.Or(a.opts.Clock).Now() }

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints rows under a header, aligned for people.
func (a *app) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// fields prints label: value lines, aligned, skipping empty values; a row
// with an empty label continues the one above.
func (a *app) fields(rows [][2]string) {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 1, ' ', 0)
	for _, r := range rows {
		switch {
		case r[1] == "":
		case strings.TrimSpace(r[0]) == "":
			fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
		default:
			fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
		}
	}
	tw.Flush()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (a *app) printf(format string, args ...any) { fmt.Fprintf(a.stdout, format, args...) }
