package console

import (
	"net/http"

	"github.com/dirsync/dirsync/internal/manage"
)

// overviewData is the overview: every source with where it stands, and
// the alerts, the sources that need someone (manage decides their state).
type overviewData struct {
	Sources []manage.SourceView
	Alerts  []manage.SourceView
}

// alertStates are the source states the overview lists as alerts.
var alertStates = map[string]bool{
	manage.StateReauthorize:    true,
	manage.StateSecretExpired:  true,
	manage.StateSecretExpiring: true,
	manage.StateLastRunFailed:  true,
}

func (s *Server) overview(w http.ResponseWriter, r *request) error {
	srcs, err := s.Manager.Sources(r.Context(), r.actor)
	if err != nil {
		return err
	}
	d := overviewData{Sources: srcs}
	for _, v := range srcs {
		if alertStates[v.Status.State] {
			d.Alerts = append(d.Alerts, v)
		}
	}
	return s.render(w, r, http.StatusOK, "overview", &view{Title: "Overview", Nav: "overview", Data: d})
}
