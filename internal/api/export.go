package api

import (
	"encoding/json"
	"net/http"

	"github.com/dirsync/dirsync/internal/manage"
)

// exportFlushEvery is how many lines an export writes between flushes: a
// client sees progress, and the server does not flush per line.
const exportFlushEvery = 200

// export streams the directory as NDJSON at one consistent snapshot
// (manage.Export): a line per user, group and direct membership, then a
// line of type end holding the events cursor of the snapshot. A stream
// without its end line was cut short (the status is sent with the first
// line, so a failure after it can only be told that way).
func (s *Server) export(w http.ResponseWriter, r *request) error {
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	lines := 0
	err := s.Manager.Export(r.Context(), r.actor, func(it manage.ExportItem) error {
		if lines == 0 {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
		}
		lines++
		if err := enc.Encode(it); err != nil {
			return err
		}
		if flusher != nil && lines%exportFlushEvery == 0 {
			flusher.Flush()
		}
		return nil
	})
	if err != nil && lines > 0 {
		s.logger().Error("export cut short", "lines", lines, "err", err)
		return nil
	}
	return err
}
