package odata

import (
	"fmt"
	"strings"
)

// The documented subset of $filter on directory objects: eq, ne, in,
// startsWith, endsWith, not, and, or, parentheses, gt/ge/lt/le, any() over
// collections (groupTypes/any(c:c eq 'Unified'), assignedLicenses/any(x:
// x/skuId eq GUID)) and collection/$count. Following "Advanced query
// capabilities", ne, not, endsWith and /$count work only with
// ConsistencyLevel: eventual and $count=true.

// Filter is a parsed $filter.
type Filter struct {
	root node
	// Advanced is the first operator that needs the advanced query
	// parameters (ConsistencyLevel: eventual and $count=true), or "".
	Advanced string
	// Props are the property names the filter reads.
	Props []string
}

// Match reports whether the object get reads passes the filter.
func (f *Filter) Match(get Getter) bool { return f.root.eval(get) }

// IDs returns the ids of a filter made only of "id eq '...'" clauses (and
// "id in (...)") joined by "or", the one form delta queries accept.
func (f *Filter) IDs() ([]string, bool) {
	var ids []string
	var walk func(n node) bool
	walk = func(n node) bool {
		switch x := n.(type) {
		case orNode:
			return walk(x.a) && walk(x.b)
		case cmpNode:
			if x.op == "eq" && strings.EqualFold(x.prop, "id") && x.lit.isStr {
				ids = append(ids, strings.ToLower(x.lit.s))
				return true
			}
		case inNode:
			if strings.EqualFold(x.prop, "id") {
				for _, l := range x.lits {
					ids = append(ids, strings.ToLower(l.s))
				}
				return true
			}
		}
		return false
	}
	return ids, walk(f.root)
}

type node interface {
	eval(get Getter) bool
}

type (
	andNode struct{ a, b node }
	orNode  struct{ a, b node }
	notNode struct{ a node }
	cmpNode struct {
		prop string
		op   string // eq, ne, gt, ge, lt, le
		lit  literal
	}
	inNode struct {
		prop string
		lits []literal
	}
	funcNode struct {
		fn   string // startswith, endswith
		prop string
		lit  literal
	}
	anyNode struct {
		prop  string
		field string // skuId for assignedLicenses
		op    string // eq, startswith, endswith
		lit   literal
	}
	countNode struct {
		prop string
		op   string
		n    int
	}
)

type literal struct {
	null  bool
	isStr bool
	s     string
	b     bool
	isB   bool
}

func (n andNode) eval(g Getter) bool { return n.a.eval(g) && n.b.eval(g) }
func (n orNode) eval(g Getter) bool  { return n.a.eval(g) || n.b.eval(g) }
func (n notNode) eval(g Getter) bool { return !n.a.eval(g) }

func litEqual(v Value, l literal) bool {
	switch v.Kind {
	case Bool, NullableBool:
		if l.null {
			return v.Kind == NullableBool && !v.B
		}
		return l.isB && v.B == l.b
	case Strings, Complex:
		return l.null && len(v.SS) == 0 && len(v.Complex) == 0
	}
	if l.null {
		return v.S == ""
	}
	return v.S != "" && strings.EqualFold(v.S, l.s)
}

func (n cmpNode) eval(g Getter) bool {
	v, ok := g(n.prop)
	if !ok {
		return false
	}
	switch n.op {
	case "ne":
		return !litEqual(v, n.lit)
	case "eq":
		return litEqual(v, n.lit)
	}
	// Strings, and date-times in ISO form, order as text.
	if v.S == "" || n.lit.null {
		return false
	}
	return compareOp(n.op, strings.Compare(strings.ToLower(v.S), strings.ToLower(n.lit.s)))
}

// compareOp applies an ordering operator to the result of a comparison.
func compareOp(op string, c int) bool {
	switch op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

func (n inNode) eval(g Getter) bool {
	v, ok := g(n.prop)
	if !ok {
		return false
	}
	for _, l := range n.lits {
		if litEqual(v, l) {
			return true
		}
	}
	return false
}

func strFn(fn, s, lit string) bool {
	s, lit = strings.ToLower(s), strings.ToLower(lit)
	switch fn {
	case "startswith":
		return strings.HasPrefix(s, lit)
	case "endswith":
		return strings.HasSuffix(s, lit)
	}
	return s == lit
}

func (n funcNode) eval(g Getter) bool {
	v, ok := g(n.prop)
	if !ok || v.Kind != String || v.S == "" {
		return false
	}
	return strFn(n.fn, v.S, n.lit.s)
}

func (n anyNode) eval(g Getter) bool {
	v, ok := g(n.prop)
	if !ok {
		return false
	}
	if v.Kind == Complex {
		field := strings.ToLower(n.field)
		for _, item := range v.Complex {
			if s := item[field]; s != "" && strFn(n.op, s, n.lit.s) {
				return true
			}
		}
		return false
	}
	for _, s := range v.SS {
		if strFn(n.op, s, n.lit.s) {
			return true
		}
	}
	return false
}

func (n countNode) eval(g Getter) bool {
	v, ok := g(n.prop)
	if !ok {
		return false
	}
	c := len(v.SS)
	if v.Kind == Complex {
		c = len(v.Complex)
	}
	return compareOp(n.op, c-n.n)
}

// ParseFilter parses a $filter expression.
func ParseFilter(s string) (*Filter, error) {
	p := &parser{lex: lexer{s: s}, f: &Filter{}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, fmt.Errorf("unexpected '%s'", p.tok.text)
	}
	p.f.root = n
	return p.f, nil
}
