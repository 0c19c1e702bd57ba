package odata

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokPunct
)

type token struct {
	kind tokKind
	text string
}

type lexer struct {
	s   string
	pos int
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.s) && l.s[l.pos] == ' ' {
		l.pos++
	}
	if l.pos >= len(l.s) {
		return token{kind: tokEOF}, nil
	}
	switch c := l.s[l.pos]; c {
	case '(', ')', ',', ':', '/':
		l.pos++
		return token{tokPunct, string(c)}, nil
	case '\'':
		return l.quoted()
	}
	start := l.pos
	// A literal that starts with a digit may be a date-time, with colons
	// and a zone offset: 2021-01-01T00:00:00Z.
	literal := l.s[start] >= '0' && l.s[start] <= '9'
	for l.pos < len(l.s) {
		r, size := utf8.DecodeRuneInString(l.s[l.pos:])
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '$' || r == '-' || r == '.' || literal && (r == ':' || r == '+')) {
			break
		}
		l.pos += size
	}
	if l.pos == start {
		return token{}, fmt.Errorf("unexpected character %q", l.s[l.pos])
	}
	return token{tokIdent, l.s[start:l.pos]}, nil
}

// quoted reads a string literal, in which ” is a quote.
func (l *lexer) quoted() (token, error) {
	var b strings.Builder
	l.pos++
	for l.pos < len(l.s) {
		if l.s[l.pos] != '\'' {
			b.WriteByte(l.s[l.pos])
			l.pos++
			continue
		}
		if l.pos+1 < len(l.s) && l.s[l.pos+1] == '\'' {
			b.WriteByte('\'')
			l.pos += 2
			continue
		}
		l.pos++
		return token{tokString, b.String()}, nil
	}
	return token{}, fmt.Errorf("unterminated string literal")
}

type parser struct {
	lex lexer
	tok token
	f   *Filter
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	p.tok = t
	return err
}

func (p *parser) isWord(w string) bool {
	return p.tok.kind == tokIdent && strings.EqualFold(p.tok.text, w)
}

func (p *parser) isPunct(s string) bool { return p.tok.kind == tokPunct && p.tok.text == s }

func (p *parser) expect(punct string) error {
	if !p.isPunct(punct) {
		return fmt.Errorf("expected '%s'", punct)
	}
	return p.advance()
}

func (p *parser) needsAdvanced(op string) {
	if p.f.Advanced == "" {
		p.f.Advanced = op
	}
}

// binary parses operands joined by the word op, left to right.
func (p *parser) binary(op string, operand func() (node, error), join func(a, b node) node) (node, error) {
	a, err := operand()
	if err != nil {
		return nil, err
	}
	for p.isWord(op) {
		if err := p.advance(); err != nil {
			return nil, err
		}
		b, err := operand()
		if err != nil {
			return nil, err
		}
		a = join(a, b)
	}
	return a, nil
}

func (p *parser) parseOr() (node, error) {
	return p.binary("or", p.parseAnd, func(a, b node) node { return orNode{a, b} })
}

func (p *parser) parseAnd() (node, error) {
	return p.binary("and", p.parseUnary, func(a, b node) node { return andNode{a, b} })
}

func (p *parser) parseUnary() (node, error) {
	if p.isWord("not") {
		p.needsAdvanced("not")
		if err := p.advance(); err != nil {
			return nil, err
		}
		a, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return notNode{a}, nil
	}
	if p.isPunct("(") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		a, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		return a, p.expect(")")
	}
	return p.parsePrimary()
}

func (p *parser) literal() (literal, error) {
	t := p.tok
	if err := p.advance(); err != nil {
		return literal{}, err
	}
	switch {
	case t.kind == tokString:
		return literal{isStr: true, s: t.text}, nil
	case t.kind != tokIdent:
		return literal{}, fmt.Errorf("expected a literal")
	case strings.EqualFold(t.text, "null"):
		return literal{null: true}, nil
	case strings.EqualFold(t.text, "true"):
		return literal{isB: true, b: true}, nil
	case strings.EqualFold(t.text, "false"):
		return literal{isB: true}, nil
	}
	return literal{s: t.text}, nil // GUIDs and numbers are unquoted
}

func (p *parser) ident() (string, error) {
	if p.tok.kind != tokIdent {
		return "", fmt.Errorf("expected a property name")
	}
	s := p.tok.text
	return s, p.advance()
}

func (p *parser) parsePrimary() (node, error) {
	name, err := p.ident()
	if err != nil {
		return nil, err
	}
	lname := strings.ToLower(name)
	if (lname == "startswith" || lname == "endswith") && p.isPunct("(") {
		return p.parseFunc(lname)
	}
	p.f.Props = append(p.f.Props, name)
	if p.isPunct("/") {
		return p.parsePath(name)
	}
	op, err := p.ident()
	if err != nil {
		return nil, err
	}
	switch lop := strings.ToLower(op); lop {
	case "eq", "ne", "gt", "ge", "lt", "le":
		if lop == "ne" {
			p.needsAdvanced("ne")
		}
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		return cmpNode{prop: name, op: lop, lit: lit}, nil
	case "in":
		return p.parseIn(name)
	}
	return nil, fmt.Errorf("unsupported operator '%s'", op)
}

// parseFunc parses startsWith(prop,'v') or endsWith(prop,'v') after the
// function's name.
func (p *parser) parseFunc(fn string) (node, error) {
	if fn == "endswith" {
		p.needsAdvanced("endsWith")
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	prop, err := p.ident()
	if err != nil {
		return nil, err
	}
	p.f.Props = append(p.f.Props, prop)
	if err := p.expect(","); err != nil {
		return nil, err
	}
	lit, err := p.literal()
	if err != nil {
		return nil, err
	}
	return funcNode{fn: fn, prop: prop, lit: lit}, p.expect(")")
}

func (p *parser) parseIn(prop string) (node, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	var lits []literal
	for {
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		lits = append(lits, lit)
		if !p.isPunct(",") {
			break
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	return inNode{prop: prop, lits: lits}, p.expect(")")
}

// parsePath parses what follows "prop/": $count compared with a number, or
// any() with a lambda.
func (p *parser) parsePath(prop string) (node, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	sub, err := p.ident()
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(sub) {
	case "$count":
		p.needsAdvanced("$count")
		op, err := p.ident()
		if err != nil {
			return nil, err
		}
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(lit.s)
		if err != nil {
			return nil, fmt.Errorf("expected a number after %s", op)
		}
		return countNode{prop: prop, op: strings.ToLower(op), n: n}, nil
	case "any":
		return p.parseAny(prop)
	}
	return nil, fmt.Errorf("unsupported path segment '%s'", sub)
}

// parseAny parses the lambda after "prop/any": (x:x eq 'v'),
// (x:startsWith(x,'v')), (x:x/skuId eq GUID).
func (p *parser) parseAny(prop string) (node, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	v, err := p.ident()
	if err != nil {
		return nil, err
	}
	if err := p.expect(":"); err != nil {
		return nil, err
	}
	head, err := p.ident()
	if err != nil {
		return nil, err
	}
	n := anyNode{prop: prop}
	lh := strings.ToLower(head)
	switch {
	case (lh == "startswith" || lh == "endswith") && p.isPunct("("):
		err = p.anyFunc(&n, lh)
	case head == v:
		err = p.anyCompare(&n)
	default:
		err = fmt.Errorf("unsupported lambda expression")
	}
	if err != nil {
		return nil, err
	}
	return n, p.expect(")")
}

func (p *parser) anyFunc(n *anyNode, fn string) error {
	if fn == "endswith" {
		p.needsAdvanced("endsWith")
	}
	if err := p.advance(); err != nil {
		return err
	}
	if _, err := p.ident(); err != nil {
		return err
	}
	if err := p.expect(","); err != nil {
		return err
	}
	lit, err := p.literal()
	if err != nil {
		return err
	}
	n.lit, n.op = lit, fn
	return p.expect(")")
}

func (p *parser) anyCompare(n *anyNode) error {
	if p.isPunct("/") {
		if err := p.advance(); err != nil {
			return err
		}
		field, err := p.ident()
		if err != nil {
			return err
		}
		n.field = field
	}
	op, err := p.ident()
	if err != nil {
		return err
	}
	if !strings.EqualFold(op, "eq") {
		return fmt.Errorf("unsupported operator '%s' in any()", op)
	}
	n.op = "eq"
	n.lit, err = p.literal()
	return err
}
