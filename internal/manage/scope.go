package manage

import (
	"context"
	"encoding/json"

	"github.com/dirsync/dirsync/internal/scope"
)

// A source's scope rules and import options are package scope's Settings;
// these use cases store them with the source, validated, and make the next
// run reconcile in full under them (a cursor promised changes under the old
// rules).

// SetScope replaces a source's scope rules and import options.
func (m *Manager) SetScope(ctx context.Context, actor Actor, key string, s scope.Settings) (SourceView, error) {
	return m.UpdateSource(ctx, actor, key, SourceInput{Scope: &s})
}

// encodeScope validates settings and returns them as stored.
func encodeScope(s scope.Settings) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, invalid("scope", "%v", err).with(err)
	}
	return json.Marshal(s)
}

// ParseScope reads scope settings as JSON (a settings file, an API body),
// refusing unknown fields.
func ParseScope(data []byte) (scope.Settings, error) {
	s, err := scope.Parse(data)
	if err != nil {
		return s, invalid("scope", "%v", err).with(err)
	}
	return s, nil
}

// ParseRule reads a user rule such as "exclude user_type=Guest".
func ParseRule(text string) (scope.Rule, error) {
	r, err := scope.ParseRule(text)
	if err != nil {
		return r, invalid("scope.user_rules", "rule %q: %v", text, err).with(err)
	}
	return r, nil
}
