package schema

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/entraemu/model"
)

// Apply sets the members of a POST or PATCH body on x. Members named in
// skip, and instance annotations (@odata.*), are left to the caller. An
// unknown property, a read-only one or a value of the wrong type is
// refused with Graph's error.
func (t *Table[T]) Apply(x *T, body map[string]json.RawMessage, skip ...string) error {
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, "@odata.") || slices.ContainsFunc(skip, func(s string) bool { return strings.EqualFold(s, k) }) {
			continue
		}
		p := t.lookup(k)
		if p == nil {
			return model.Errorf(400, "BadRequest", "Property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type.", k, t.ODataType)
		}
		if !p.write {
			return model.BadRequest("Property '%s' is read-only and cannot be set.", p.name)
		}
		if err := p.set(x, body[k]); err != nil {
			return model.Errorf(400, "BadRequest", "Cannot convert the literal for property '%s' to the expected type.", p.name)
		}
	}
	return nil
}
