package schema

import (
	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/odata"
)

// Select is a $select on a list that may hold objects of any kind (members,
// memberOf): a mask per kind, and the names as given.
type Select struct {
	masks [5]uint64 // by model.ObjKind
	Names []string
}

// Mask is the selection for objects of kind k.
func (s *Select) Mask(k model.ObjKind) uint64 { return s.masks[k] }

// bits returns the mask bit of a name on each kind's table.
func bits(name string) [5]uint64 {
	return [5]uint64{Users.Bit(name), Groups.Bit(name), Devices.Bit(name), Contacts.Bit(name), ServicePrincipals.Bit(name)}
}

// ParseMixedSelect parses $select for a list of directory objects: each
// name must exist on at least one type.
func ParseMixedSelect(sel string) (*Select, *model.Error) {
	names := odata.SelectNames(sel)
	if len(names) == 0 {
		return &Select{masks: [5]uint64{Users.DefMask, Groups.DefMask, Devices.DefMask, Contacts.DefMask, ServicePrincipals.DefMask}}, nil
	}
	s := &Select{Names: names, masks: [5]uint64{Users.IDBit(), Groups.IDBit(), Devices.IDBit(), Contacts.IDBit(), ServicePrincipals.IDBit()}}
	for _, name := range names {
		found := false
		for k, b := range bits(name) {
			if b != 0 {
				s.masks[k] |= b
				found = true
			}
		}
		if !found {
			return nil, model.Errorf(400, "BadRequest", "Could not find a property named '%s' on type 'microsoft.graph.directoryObject'.", name)
		}
	}
	return s, nil
}

// AnyFilterable reports whether $filter may name the property on some
// directory object type.
func AnyFilterable(name string) bool {
	return Users.Filterable(name) || Groups.Filterable(name) || Devices.Filterable(name) || Contacts.Filterable(name) || ServicePrincipals.Filterable(name)
}
