package cli

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

func (a *app) syncCommand() *cobra.Command {
	var (
		asJSON, dryRun, full, allowDeletes bool
		user                               string
	)
	cmd := &cobra.Command{
		Use:   "sync SOURCE|TARGET",
		Short: "Synchronize a source into the directory, or the directory into a target, now",
		Long: `Read the source and apply the difference to the directory in one transaction:
create, update, disable and enable users and groups, move those the source no
longer has to the trash, and update memberships. A run that fails or is
stopped applies nothing.

With --dry-run, compute the whole plan and show it without applying it.

Runs are incremental (Graph delta, AD DirSync) when the source allows it and
a previous run left a cursor; --full forces a full reconciliation. A refused
or expired cursor turns the run into a full reconciliation by itself.

For a target (an Entra ID tenant, see "dirsync target"), run one export
cycle: a delta cycle, or with --full an initial one that reads the tenant
from scratch (Azure AD Connect's Start-ADSyncSyncCycle -PolicyType Delta or
Initial). A cycle that would delete more than the target's deletion
threshold stops; --allow-deletes confirms it.

Exit codes: 0 success, 2 bad input, 3 the source failed, 4 a safety rule
stopped the run, 5 another run of the source is in progress.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if m.IsTarget(ctx, actor, args[0]) {
				if user != "" || dryRun {
					return usageErr("%s is a target: --user and --dry-run are for sources (a target in staging mode only plans)", args[0])
				}
				return a.syncTarget(cmd, m, actor, args[0], full, allowDeletes, asJSON)
			}
			var run directory.Run
			if user != "" {
				if full || allowDeletes {
					return usageErr("--user syncs one user: --full and --allow-deletes do not apply")
				}
				run, err = m.SyncUser(ctx, actor, args[0], user, dryRun)
			} else {
				req := manage.SyncRequest{DryRun: dryRun, Full: full, AllowDeletes: allowDeletes, Progress: a.progress(args[0], !asJSON)}
				run, err = m.SyncNow(ctx, actor, args[0], req)
			}
			if run.ID == "" {
				return err
			}
			return a.showRun(cmd, run, err, asJSON, dryRun)
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

// showRun prints a finished run: its summary, and its plan when it was a
// dry run or stopped by the deletion limit.
func (a *app) showRun(cmd *cobra.Command, run directory.Run, runErr error, asJSON, dryRun bool) error {
	a.shownRun = run.ID
	stopped := manage.KindOf(runErr) == manage.Stopped
	var changes []directory.Change
	if dryRun || stopped {
		limit := 0 // a dry run shows its whole plan
		if !dryRun {
			limit = 50
		}
		page, err := a.m.Changes(cmd.Context(), a.actor, run.ID, manage.ChangeQuery{Limit: limit})
		if err != nil {
			return err
		}
		changes = page.Items
	}
	if asJSON {
		out := struct {
			directory.Run
			Changes []directory.Change `json:"changes,omitempty"`
		}{run, changes}
		if err := a.printJSON(out); err != nil {
			return err
		}
		return runErr
	}
	run.Reason = manage.ShortReason(run, runErr)
	a.printRunSummary(run)
	switch {
	case stopped:
		a.printf("\nWhat the run would have done (dirsync runs show %s --changes lists it again):\n", run.ID)
		a.printChanges(changes)
		if !dryRun {
			a.printf("To proceed: dirsync sync %s --allow-deletes\n", run.Source)
		}
	case dryRun && runErr == nil:
		a.printf("\nPlan (nothing was applied):\n")
		a.printChanges(changes)
	}
	return runErr
}

// progress returns the progress display of a sync: a line rewritten in
// place on a terminal, a log line every ten seconds otherwise; the apply
// is shown once, as it starts (its steps are the console's).
func (a *app) progress(source string, show bool) func(directory.RunProgress) {
	if !show {
		return nil
	}
	every := 10 * time.Second
	if a.isTerminal {
		every = 100 * time.Millisecond
	}
	var mu sync.Mutex
	last, shown, applying := a.now(), false, false
	return func(p directory.RunProgress) {
		mu.Lock()
		defer mu.Unlock()
		now := a.now()
		// A quick run shows nothing: the apply line only follows read lines.
		if p.Phase == "read" && now.Sub(last) < every || p.Phase == "apply" && (!shown || applying) {
			return
		}
		last, shown, applying = now, true, p.Phase == "apply"
		verb := "Reading"
		if p.Phase == "apply" {
			verb = "Applying"
		}
		line := fmt.Sprintf("%s %s: %d users, %d groups, %d memberships", verb, source, p.Users, p.Groups, p.Members)
		if a.isTerminal {
			fmt.Fprintf(a.stderr, "\r\033[K%s", line)
			if p.Phase == "apply" {
				fmt.Fprint(a.stderr, "\r\033[K")
			}
			return
		}
		fmt.Fprintf(a.stderr, "%s %s\n", now.Format(time.TimeOnly), line)
	}
}

func (a *app) printRunSummary(r directory.Run) {
	what := "Sync"
	if r.DryRun {
		what = "Dry run"
	}
	if r.FinishedAt.IsZero() {
		a.printf("%s of %s %s (run %s)\n", what, r.Source, r.Outcome, r.ID)
	} else {
		took := r.Duration().Round(time.Millisecond)
		a.printf("%s of %s %s in %s (run %s)\n", what, r.Source, r.Outcome, took, r.ID)
	}
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
	a.printReasons("Skipped:", "not imported", c.Skipped, r.SkipReasons, r.Skips)
	a.printReasons("Warnings:", "imported in part", c.Warnings, r.Warnings, nil)
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
		parts := make([]string, len(x))
		for i, it := range x {
			parts[i] = fmt.Sprint(it)
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}

// printReasons prints a run's count of skips or warnings, then one line
// per reason: its code, its count and its message, most first. A run
// recorded before reasons had codes has only its counts by message.
func (a *app) printReasons(label, what string, n int, reasons directory.Reasons, byMessage map[string]int) {
	if n == 0 && len(reasons) == 0 && len(byMessage) == 0 {
		a.printf("  %-12s0\n", label)
		return
	}
	if len(reasons) == 0 {
		for msg, count := range byMessage {
			reasons = append(reasons, directory.SkipReason{Code: "-", Message: msg, Count: count})
		}
	}
	reasons = slices.Clone(reasons)
	sort.SliceStable(reasons, func(i, j int) bool {
		if reasons[i].Count != reasons[j].Count {
			return reasons[i].Count > reasons[j].Count
		}
		return reasons[i].Code+reasons[i].Message < reasons[j].Code+reasons[j].Message
	})
	a.printf("  %-12s%d (%s)\n", label, n, what)
	for _, r := range reasons {
		a.printf("    %-24s %5d  %s\n", r.Code, r.Count, r.Message)
	}
}
