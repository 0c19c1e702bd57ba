package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
)

func (a *app) syncCommand() *cobra.Command {
	var (
		asJSON, dryRun, full, allowDeletes bool
		user                               string
	)
	cmd := &cobra.Command{
		Use:   "sync SOURCE",
		Short: "Synchronize a source into the directory now",
		Long: `Read the source and apply the difference to the directory in one transaction:
create, update, disable and enable users and groups, move those the source no
longer has to the trash, and update memberships. A run that fails or is
stopped applies nothing.

With --dry-run, compute the whole plan and show it without applying it.

Runs are incremental (Graph delta, AD DirSync) when the source allows it and
a previous run left a cursor; --full forces a full reconciliation. A refused
or expired cursor turns the run into a full reconciliation by itself.

Exit codes: 0 success, 2 bad input, 3 the source failed, 4 a safety rule
stopped the run, 5 another run of the source is in progress.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, src, err := a.findSource(ctx, args[0])
			if err != nil {
				return err
			}
			opts := engine.Options{Trigger: "cli", DryRun: dryRun, Full: full, AllowDeletes: allowDeletes}
			var run directory.Run
			if user != "" {
				run, err = a.runSyncUser(ctx, src, user, opts)
			} else {
				run, err = a.runSync(ctx, src, opts, !asJSON)
			}
			if run.ID == "" {
				return err
			}
			if asJSON {
				out := struct {
					directory.Run
					Changes []directory.Change `json:"changes,omitempty"`
				}{Run: run}
				if dryRun {
					out.Changes, _ = a.st.Changes(ctx, run.ID, 0, 0)
				}
				if perr := a.printJSON(out); perr != nil {
					return perr
				}
				return err
			}
			a.printRunSummary(run)
			if errors.Is(err, engine.ErrThreshold) {
				a.printf("\nWhat the run would have done (see also: dirsync runs show %s --changes):\n", run.ID)
				if changes, cerr := a.st.Changes(ctx, run.ID, 0, 50); cerr == nil {
					a.printChanges(changes)
				}
				a.printf("To proceed: dirsync sync %s --allow-deletes\n", src.Name)
			}
			if dryRun && err == nil {
				changes, cerr := a.st.Changes(ctx, run.ID, 0, 0)
				if cerr != nil {
					return cerr
				}
				a.printf("\nPlan (nothing was applied):\n")
				a.printChanges(changes)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the run as JSON")
	f.BoolVar(&dryRun, "dry-run", false, "compute and show the plan; apply nothing")
	f.BoolVar(&full, "full", false, "force a full reconciliation instead of an incremental run")
	f.BoolVar(&allowDeletes, "allow-deletes", false, "confirm a run that the deletion limit stopped: disable and delete past the limit")
	f.StringVar(&user, "user", "", "sync only this user (UPN, source object id, username or email), at once")
	return cmd
}

// runSync runs the engine with a progress line on a terminal.
func (a *app) runSync(ctx context.Context, src directory.Source, opts engine.Options, progress bool) (directory.Run, error) {
	conn, err := a.connect(src)
	if err != nil {
		return directory.Run{}, &exitError{ExitUsage, err}
	}
	if progress && a.isTerminal {
		var mu sync.Mutex
		last := time.Time{}
		opts.Progress = func(p engine.Progress) {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(last) < 100*time.Millisecond && p.Phase == "read" {
				return
			}
			last = time.Now()
			verb := "Reading"
			if p.Phase == "apply" {
				verb = "Applying"
			}
			fmt.Fprintf(a.stderr, "\r\033[K%s %s: %d users, %d groups, %d memberships", verb, src.Name, p.Users, p.Groups, p.Members)
		}
		defer fmt.Fprint(a.stderr, "\r\033[K")
	}
	return a.engine().Sync(ctx, src, conn, opts)
}

// engine returns the sync engine on the open store. DIRSYNC_LEASE_TTL sets
// how long a crashed run keeps its source locked (default one minute).
func (a *app) engine() *engine.Engine {
	eng := &engine.Engine{Store: a.st, Logger: a.logger()}
	if v := os.Getenv("DIRSYNC_LEASE_TTL"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			eng.LeaseTTL = d
		}
	}
	return eng
}

// runSyncUser runs a single-user sync.
func (a *app) runSyncUser(ctx context.Context, src directory.Source, who string, opts engine.Options) (directory.Run, error) {
	conn, err := a.connect(src)
	if err != nil {
		return directory.Run{}, &exitError{ExitUsage, err}
	}
	run, err := a.engine().SyncUser(ctx, src, conn, who, opts)
	if errors.Is(err, engine.ErrUnsupported) {
		return run, &exitError{ExitUsage, err}
	}
	return run, err
}

func (a *app) printRunSummary(r directory.Run) {
	took := r.Duration().Round(time.Millisecond)
	what := "Sync"
	if r.DryRun {
		what = "Dry run"
	}
	a.printf("%s of %s %s in %s (run %s)\n", what, r.Source, r.Outcome, took, r.ID)
	if r.Reason != "" {
		a.printf("  Reason:     %s\n", r.Reason)
	}
	if r.Kind == directory.RunDelta {
		a.printf("  Read:       changes to %d users and %d groups since the last run (%d requests, %d throttled)\n", r.SourceUsers, r.SourceGroups, r.Requests, r.Throttled)
	} else {
		a.printf("  Read:       %d users, %d groups (%d requests, %d throttled)\n", r.SourceUsers, r.SourceGroups, r.Requests, r.Throttled)
	}
	c := r.Counts
	a.printf("  Created:    %d\n  Updated:    %d\n  Unchanged:  %d\n  Disabled:   %d\n  Enabled:    %d\n  Deleted:    %d (moved to the trash)\n  Restored:   %d\n",
		c.Created, c.Updated, c.Unchanged, c.Disabled, c.Enabled, c.Deleted, c.Restored)
	a.printf("  Members:    %d added, %d removed\n", c.MembersAdded, c.MembersRemoved)
	skipped := 0
	var reasons []string
	for reason, n := range r.Skips {
		skipped += n
		reasons = append(reasons, fmt.Sprintf("%s: %d", reason, n))
	}
	sort.Strings(reasons)
	if skipped > 0 {
		a.printf("  Skipped:    %d (%s)\n", skipped, strings.Join(reasons, "; "))
	} else {
		a.printf("  Skipped:    0\n")
	}
	a.printf("  Conflicts:  %d\n", c.Conflicts)
	if c.Conflicts > 0 {
		a.printf("  (see: dirsync runs show %s --changes)\n", r.ID)
	}
}

func (a *app) printChanges(cs []directory.Change) {
	var rows [][]string
	for _, c := range cs {
		detail := c.Detail
		if len(c.Attributes) > 0 {
			var parts []string
			for _, at := range c.Attributes {
				parts = append(parts, fmt.Sprintf("%s: %v → %v", at.Attribute, fmtValue(at.Before), fmtValue(at.After)))
			}
			if detail != "" {
				detail += "; "
			}
			detail += strings.Join(parts, ", ")
		}
		rows = append(rows, []string{fmt.Sprint(c.Seq), string(c.Action), string(c.ObjectKind), c.Name, detail})
	}
	a.table([]string{"#", "ACTION", "KIND", "NAME", "DETAIL"}, rows)
}

func fmtValue(v any) string {
	switch x := v.(type) {
	case nil:
		return `""`
	case string:
		if x == "" {
			return `""`
		}
		return x
	case []any:
		if len(x) == 0 {
			return "[]"
		}
	}
	return fmt.Sprint(v)
}
