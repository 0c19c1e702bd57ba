// Package odata evaluates the OData query options the emulated Graph
// supports on directory objects: $filter, $search, $select names, $orderby,
// $top, $count, $expand and skip tokens, with the rules of "Advanced query
// capabilities on directory objects" (which options need ConsistencyLevel:
// eventual and $count=true) and Microsoft's error texts. It is pure: it
// reads property values through a Getter and knows nothing of the tenant.
package odata

// Kind is the type of a property value as $filter and $search see it.
type Kind uint8

// The value kinds.
const (
	String       Kind = iota
	Bool              // true or false
	NullableBool      // false means null (Graph's nullable booleans)
	Strings           // a collection of strings
	Complex           // a collection of complex values, such as assignedLicenses
	Time              // a DateTimeOffset in Graph's text form, "" for null
)

// Value is a property value of the object under test.
type Value struct {
	Kind    Kind
	S       string
	B       bool
	SS      []string
	Complex []map[string]string // members by lower-case name
}

// Getter returns a property value of the object under test, or false when
// the object's type has no such property.
type Getter func(name string) (Value, bool)

// NoProperties is the Getter of an object that has none.
func NoProperties(string) (Value, bool) { return Value{}, false }
