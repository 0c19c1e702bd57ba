package console

import (
	"net/http"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// sourceConflicts are the conflicts a source's newest applied run met: its
// users that matched nobody safely (their username or email is another
// user's), quarantined until resolved.
type sourceConflicts struct {
	Source    manage.SourceView
	Run       directory.Run
	Conflicts []directory.Change
}

// conflictsPage lists, per source, the conflicts of its newest run that
// applied (a later run meets them again until they are resolved).
func (s *Server) conflictsPage(w http.ResponseWriter, r *request) error {
	srcs, err := s.Manager.Sources(r.Context(), r.actor)
	if err != nil {
		return err
	}
	var out []sourceConflicts
	for _, v := range srcs {
		runs, err := s.Manager.Runs(r.Context(), r.actor, manage.RunQuery{Source: v.ID, Limit: 20})
		if err != nil {
			return err
		}
		for _, run := range runs.Items {
			if run.DryRun || run.Outcome != directory.OutcomeSucceeded || run.Kind == directory.RunSingle {
				continue
			}
			sc := sourceConflicts{Source: v, Run: run}
			if run.Counts.Conflicts > 0 {
				changes, err := s.changes(r, run.ID)
				if err != nil {
					return err
				}
				for _, c := range changes {
					if c.Action == directory.ActionConflict {
						sc.Conflicts = append(sc.Conflicts, c)
					}
				}
			}
			out = append(out, sc)
			break
		}
	}
	return s.render(w, r, http.StatusOK, "conflicts", &view{Title: "Conflicts", Nav: "conflicts", Data: out})
}
