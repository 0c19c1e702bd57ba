// Package cli is dirsync's command line: one cobra command per verb, all of
// them thin. They parse and check input, call the engine, the store or a
// connector, and print: tables for people, JSON with --json for programs.
//
// Exit codes mean something (see ExitCode): scripts can tell bad input from a
// source that failed from a run that a safety rule stopped.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitError   = 1 // anything unexpected: the database, the file system
	ExitUsage   = 2 // bad flags or input; nothing was changed
	ExitSource  = 3 // the source failed: unreachable, refused, denied
	ExitStopped = 4 // a safety rule stopped the run; nothing was applied
	ExitBusy    = 5 // another run of the same source is in progress
	// ExitConflict: the change would break a rule (a synced attribute is
	// read-only, a username is taken); nothing was changed.
	ExitConflict = 6
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{ExitUsage, fmt.Errorf(format, args...)}
}

// ExitCode maps an error returned by Execute to the process's exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.Is(err, engine.ErrStopped) {
		return ExitStopped
	}
	if errors.Is(err, engine.ErrBusy) {
		return ExitBusy
	}
	if connector.KindOf(err) != "" {
		return ExitSource
	}
	return ExitError
}

// app is what every command shares: global flags and the open store.
type app struct {
	dbPath   string
	account  string
	logLevel string
	stdout   io.Writer
	stderr   io.Writer
	stdin    io.Reader
	// isTerminal says whether stderr is a terminal, for progress display.
	isTerminal bool

	st  store.Store
	box *secret.Box
}

// Main runs the command line with args and returns the exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, stdin: stdin}
	if f, ok := stderr.(*os.File); ok {
		a.isTerminal = isTerminal(f)
	}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if a.st != nil {
		a.st.Close()
	}
	if err != nil {
		fmt.Fprintln(stderr, "dirsync:", err)
	}
	return ExitCode(err)
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
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.dbPath, "db", "", "database file (default: $DIRSYNC_DB, else dirsync.db in the user data directory)")
	root.PersistentFlags().StringVar(&a.account, "account", "", "account (customer organization) to work in (default: $DIRSYNC_ACCOUNT, else \"default\", created on first use)")
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "warn", "log level: debug, info, warn, error (logs go to stderr)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &exitError{ExitUsage, err} })
	root.AddCommand(
		a.accountCommand(),
		a.benchCommand(),
		a.demoCommand(),
		a.emulateCommand(),
		a.sourceCommand(),
		a.syncCommand(),
		a.usersCommand(),
		a.groupsCommand(),
		a.runsCommand(),
		a.trashCommand(),
		a.importCommand(),
		a.serveCommand(),
		a.tokenCommand(),
	)
	return root
}

func (a *app) logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(a.logLevel)); err != nil {
		lvl = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lvl}))
}

// defaultDBPath is dirsync.db in $XDG_DATA_HOME/dirsync or ~/.local/share/dirsync.
func defaultDBPath() (string, error) {
	if p := os.Getenv("DIRSYNC_DB"); p != "" {
		return p, nil
	}
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no --db given and no home directory: %w", err)
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "dirsync", "dirsync.db"), nil
}

// open opens the store and the secret box once.
func (a *app) open(ctx context.Context) (store.Store, error) {
	if a.st != nil {
		return a.st, nil
	}
	path := a.dbPath
	if path == "" {
		var err error
		if path, err = defaultDBPath(); err != nil {
			return nil, err
		}
	}
	st, err := sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	key, err := secret.LoadKey(strings.TrimSuffix(path, filepath.Ext(path)) + ".key")
	if err != nil {
		st.Close()
		return nil, err
	}
	if a.box, err = secret.New(key); err != nil {
		st.Close()
		return nil, err
	}
	a.st = st
	return st, nil
}

// currentAccount returns the account the command works in, creating the
// default one on first use.
func (a *app) currentAccount(ctx context.Context) (store.Store, directory.Account, error) {
	st, err := a.open(ctx)
	if err != nil {
		return nil, directory.Account{}, err
	}
	name := a.account
	if name == "" {
		name = os.Getenv("DIRSYNC_ACCOUNT")
	}
	explicit := name != ""
	if name == "" {
		name = "default"
	}
	acc, err := st.Account(ctx, name)
	if err == nil {
		return st, acc, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, acc, err
	}
	if explicit && name != "default" {
		// Creating an account is deliberate: a typo must not start a new one.
		return nil, acc, usageErr("account %q does not exist (create it with: dirsync account create %s)", name, name)
	}
	acc = directory.Account{Name: name}
	err = st.Update(ctx, func(tx store.Tx) error { return tx.CreateAccount(ctx, &acc) })
	if errors.Is(err, store.ErrAlreadyExists) { // created meanwhile by another process
		acc, err = st.Account(ctx, name)
	}
	return st, acc, err
}

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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
