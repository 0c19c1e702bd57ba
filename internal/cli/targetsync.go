package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/provision"
)

// syncTarget runs one export cycle and prints its summary and, when it
// wrote nothing (staging, stopped), its plan.
func (a *app) syncTarget(cmd *cobra.Command, m *manage.Manager, actor manage.Actor, key string, full, allowDeletes, asJSON bool) error {
	var progress func(done, total int)
	if !asJSON {
		last := time.Time{}
		progress = func(done, total int) {
			if now := a.now(); now.Sub(last) > 2*time.Second || done == total {
				last = now
				fmt.Fprintf(a.stderr, "%s: %d of %d steps written\n", key, done, total)
			}
		}
	}
	c, err := m.SyncTarget(cmd.Context(), actor, key, manage.TargetSyncRequest{Full: full, AllowDeletes: allowDeletes, Progress: progress})
	if c.Run.ID == "" {
		return err
	}
	a.shownRun = c.Run.ID
	if asJSON {
		out := struct {
			manage.ExportRun
			Summary provision.Summary `json:"summary"`
			Plan    []provision.Step  `json:"plan"`
		}{c.Run, c.Summary, c.Steps}
		out.ExportRun.Summary, out.ExportRun.Plan = nil, nil
		if out.Plan == nil {
			out.Plan = []provision.Step{}
		}
		if perr := a.printJSON(out); perr != nil {
			return perr
		}
		return err
	}
	a.printExportRun(c.Run, c.Summary)
	switch c.Run.Outcome {
	case provision.RunStaged, provision.RunStopped:
		a.printf("\nPlan (nothing was written; dirsync target run %s lists it again):\n", c.Run.ID)
		a.printSteps(c.Steps, false)
		if c.Run.Outcome == provision.RunStopped {
			a.printf("To proceed: dirsync sync %s --allow-deletes\n", c.Target)
		}
	default:
		a.printSteps(c.Steps, true)
	}
	if c.Summary.Errors > 0 {
		a.printf("%d sync errors: dirsync target errors %s\n", c.Summary.Errors, c.Target)
	}
	return err
}

func (a *app) printExportRun(r manage.ExportRun, s provision.Summary) {
	var counts []string
	for _, op := range []string{provision.OpCreateUser, provision.OpUpdateUser, provision.OpDeleteUser, provision.OpCreateGroup,
		provision.OpUpdateGroup, provision.OpDeleteGroup, provision.OpAddMember, provision.OpRemoveMember, provision.OpError, provision.OpSkip} {
		if n := s.Planned[op]; n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, strings.ReplaceAll(op, "_", " ")))
		}
	}
	plan := "nothing to change"
	if len(counts) > 0 {
		plan = strings.Join(counts, ", ")
	}
	read := "delta"
	if s.ReadFull {
		read = "from scratch"
	}
	rows := [][2]string{{"Run", r.ID}, {"Mode", r.Mode}, {"Outcome", r.Outcome}, {"Reason", r.Reason},
		{"Tenant", fmt.Sprintf("%d users, %d groups (read %s)", s.CloudUsers, s.CloudGroups, read)},
		{"Plan", plan}, {"Written", fmt.Sprintf("%d done, %d failed", s.Done, s.Failed)},
		{"Graph", fmt.Sprintf("%d requests, %d throttled, %d retried", s.Requests, s.Throttled, s.Retries)},
		{"Took", r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond).String()}}
	a.fields(rows)
}

// printSteps lists a plan's steps; with failedOnly, those that failed.
func (a *app) printSteps(steps []provision.Step, failedOnly bool) {
	var rows [][]string
	for _, s := range steps {
		if failedOnly && s.Outcome != provision.OutcomeFailed && s.Op != provision.OpError {
			continue
		}
		what := s.Note
		switch {
		case s.Member != "":
			what = s.Member
		case len(s.Changes) > 0:
			var parts []string
			for _, c := range s.Changes {
				parts = append(parts, fmt.Sprintf("%s=%v", c.Attribute, c.After))
			}
			what = strings.Join(parts, " ")
		}
		if s.Match != "" {
			what = s.Match + " match; " + what
		}
		if s.Error != "" {
			what = s.Code + ": " + s.Error
		}
		rows = append(rows, []string{strings.ReplaceAll(s.Op, "_", " "), s.Object, dash(s.Outcome), what})
	}
	if len(rows) == 0 {
		return
	}
	a.table([]string{"STEP", "OBJECT", "OUTCOME", "DETAIL"}, rows)
}

func (a *app) targetErrorsCommand() *cobra.Command {
	var asJSON bool
	cmd := readOnly(&cobra.Command{
		Use:   "errors TARGET",
		Short: "List a target's sync errors: each object the last cycle could not export, and why",
		Long: `List the objects the last export cycle could not write (Azure AD Connect's
sync errors): a duplicate userPrincipalName or mailNickname, invalid
characters, an unverified domain, a value too long, a cloud user anchored to
another object. Each names the object, the attribute, the value and Graph's
error. They are retried at every cycle and cleared when they resolve.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			errs, err := m.TargetErrors(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(map[string]any{"errors": errs})
			}
			if len(errs) == 0 {
				a.printf("No sync errors.\n")
				return nil
			}
			var rows [][]string
			for _, e := range errs {
				rows = append(rows, []string{e.Kind, e.Object, dash(e.Attribute), dash(e.Value), e.Code, e.Message, fmtTime(e.FirstSeen)})
			}
			return a.table([]string{"KIND", "OBJECT", "ATTRIBUTE", "VALUE", "CODE", "ERROR", "SINCE"}, rows)
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) targetRunsCommand() *cobra.Command {
	var (
		asJSON bool
		limit  int
	)
	cmd := readOnly(&cobra.Command{
		Use:   "runs TARGET",
		Short: "List a target's export cycles, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			runs, err := m.TargetRuns(cmd.Context(), actor, args[0], limit)
			if err != nil {
				return err
			}
			if asJSON {
				for i := range runs {
					runs[i].Plan = nil
				}
				return a.printJSON(map[string]any{"runs": runs})
			}
			var rows [][]string
			for _, r := range runs {
				var s provision.Summary
				_ = json.Unmarshal(r.Summary, &s)
				rows = append(rows, []string{r.ID, fmtTime(r.StartedAt), r.Mode, r.Outcome, fmt.Sprint(s.Done), fmt.Sprint(s.Failed), fmt.Sprint(s.Errors)})
			}
			return a.table([]string{"RUN", "STARTED", "MODE", "OUTCOME", "WRITTEN", "FAILED", "SYNC ERRORS"}, rows)
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().IntVar(&limit, "limit", 20, "how many runs")
	return cmd
}

func (a *app) targetRunCommand() *cobra.Command {
	var asJSON bool
	cmd := readOnly(&cobra.Command{
		Use:   "run RUN",
		Short: "Show an export cycle: its summary and its whole plan with each step's outcome",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			r, steps, err := m.TargetRun(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			var s provision.Summary
			_ = json.Unmarshal(r.Summary, &s)
			if asJSON {
				out := struct {
					manage.ExportRun
					Summary provision.Summary `json:"summary"`
					Plan    []provision.Step  `json:"plan"`
				}{r, s, steps}
				out.ExportRun.Summary, out.ExportRun.Plan = nil, nil
				if out.Plan == nil {
					out.Plan = []provision.Step{}
				}
				return a.printJSON(out)
			}
			a.printExportRun(r, s)
			a.printf("\n")
			a.printSteps(slices.Clip(steps), false)
			return nil
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
