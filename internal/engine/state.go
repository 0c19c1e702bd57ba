package engine

import (
	"encoding/json"
	"time"
)

// sourceState is what the engine keeps of a source between runs, in the
// store's source state: the connector's cursor and when the source was
// last reconciled in full, so that incremental runs never build on one
// reconciliation for longer than the source's MaxCursorAge.
type sourceState struct {
	// Engine marks the state as the engine's; a state without it is a
	// cursor saved by an earlier version, with no time of reconciliation.
	Engine int       `json:"engine"`
	Cursor string    `json:"cursor"`
	FullAt time.Time `json:"full_at,omitzero"`
}

const stateVersion = 1

// parseState reads a saved state. A cursor saved bare, by an earlier
// version, has no reconciliation time: the next run due one is full.
func parseState(saved string) sourceState {
	var st sourceState
	if err := json.Unmarshal([]byte(saved), &st); err == nil && st.Engine == stateVersion {
		return st
	}
	return sourceState{Engine: stateVersion, Cursor: saved}
}

func (st sourceState) String() string {
	if st.Cursor == "" {
		return ""
	}
	b, _ := json.Marshal(st)
	return string(b)
}
