package entraemu

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The documented subset of $filter and $search on directory objects.
//
// $filter: eq, ne, in, startsWith, endsWith, not, and, or, parentheses,
// any() over collections (groupTypes/any(c:c eq 'Unified'),
// assignedLicenses/any(x:x/skuId eq GUID)) and collection/$count. Following
// "Advanced query capabilities", ne, not, endsWith and /$count work only
// with ConsistencyLevel: eventual and $count=true, and any filter on a
// relationship (members, memberOf) is an advanced query too.
//
// $search: "property:text" clauses joined by AND and OR, tokenized on
// displayName and description, startsWith on other properties; it always
// needs ConsistencyLevel: eventual.

// fval is a property value as the filter sees it.
type fval struct {
	kind propKind
	s    string
	b    bool
	ss   []string
	lic  []AssignedLicense
}

// getter returns a property value of the object under test, or false when
// the object's type has no such property.
type getter func(name string) (fval, bool)

func tableGetter[T any](tab *propTable[T], x *T) getter {
	return func(name string) (fval, bool) {
		p := tab.lookup(name)
		if p == nil {
			return fval{}, false
		}
		v := fval{kind: p.kind}
		switch p.kind {
		case pStr:
			v.s = *p.str(x)
		case pBool, pBoolNull:
			v.b = *p.bl(x)
		case pStrs:
			v.ss = *p.strs(x)
		case pLicenses:
			v.lic = *p.lic(x)
		case pTime:
			if t := p.tm(x); !t.IsZero() {
				v.s = graphTime(*t)
			}
		}
		return v, true
	}
}

// ---- $filter ----

type fnode interface {
	eval(get getter) bool
}

type (
	fAnd struct{ a, b fnode }
	fOr  struct{ a, b fnode }
	fNot struct{ a fnode }
	fCmp struct {
		prop string
		op   string // eq, ne, gt, ge, lt, le
		lit  flit
	}
	fIn struct {
		prop string
		lits []flit
	}
	fFunc struct {
		fn   string // startswith, endswith
		prop string
		lit  flit
	}
	fAny struct {
		prop  string
		field string // skuId for assignedLicenses
		op    string // eq, startswith, endswith
		lit   flit
	}
	fCount struct {
		prop string
		op   string
		n    int
	}
)

type flit struct {
	null  bool
	isStr bool
	s     string
	b     bool
	isB   bool
}

func (n fAnd) eval(g getter) bool { return n.a.eval(g) && n.b.eval(g) }
func (n fOr) eval(g getter) bool  { return n.a.eval(g) || n.b.eval(g) }
func (n fNot) eval(g getter) bool { return !n.a.eval(g) }

func litEqual(v fval, l flit) bool {
	switch v.kind {
	case pBool, pBoolNull:
		if l.null {
			return v.kind == pBoolNull && !v.b
		}
		if l.isB {
			return v.b == l.b
		}
		return false
	case pStrs:
		if l.null {
			return len(v.ss) == 0
		}
		return false
	}
	if l.null {
		return v.s == ""
	}
	return v.s != "" && strings.EqualFold(v.s, l.s)
}

func (n fCmp) eval(g getter) bool {
	v, ok := g(n.prop)
	if !ok {
		return false
	}
	switch n.op {
	case "ne":
		return !litEqual(v, n.lit)
	case "gt", "ge", "lt", "le":
		// Strings, and date-times in ISO form, order as text.
		if v.s == "" || n.lit.null {
			return false
		}
		c := strings.Compare(strings.ToLower(v.s), strings.ToLower(n.lit.s))
		switch n.op {
		case "gt":
			return c > 0
		case "ge":
			return c >= 0
		case "lt":
			return c < 0
		}
		return c <= 0
	}
	return litEqual(v, n.lit)
}

func (n fIn) eval(g getter) bool {
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

func (n fFunc) eval(g getter) bool {
	v, ok := g(n.prop)
	if !ok || v.kind != pStr || v.s == "" {
		return false
	}
	return strFn(n.fn, v.s, n.lit.s)
}

func (n fAny) eval(g getter) bool {
	v, ok := g(n.prop)
	if !ok {
		return false
	}
	if v.kind == pLicenses {
		for _, l := range v.lic {
			if strings.EqualFold(l.SkuID, n.lit.s) {
				return true
			}
		}
		return false
	}
	for _, s := range v.ss {
		if strFn(n.op, s, n.lit.s) {
			return true
		}
	}
	return false
}

func (n fCount) eval(g getter) bool {
	v, ok := g(n.prop)
	if !ok {
		return false
	}
	c := len(v.ss)
	if v.kind == pLicenses {
		c = len(v.lic)
	}
	switch n.op {
	case "eq":
		return c == n.n
	case "ne":
		return c != n.n
	case "gt":
		return c > n.n
	case "ge":
		return c >= n.n
	case "lt":
		return c < n.n
	case "le":
		return c <= n.n
	}
	return false
}

// filterSpec is a parsed $filter: the expression, whether it needs the
// advanced query parameters, and the first operator that does.
type filterSpec struct {
	root     fnode
	advanced string // "" or the operator that needs advanced queries
	props    []string
}

type lexer struct {
	s   string
	pos int
}

type token struct {
	kind string // ident, string, number, punct, eof
	text string
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.s) && l.s[l.pos] == ' ' {
		l.pos++
	}
	if l.pos >= len(l.s) {
		return token{kind: "eof"}, nil
	}
	c := l.s[l.pos]
	switch {
	case c == '(' || c == ')' || c == ',' || c == ':' || c == '/':
		l.pos++
		return token{"punct", string(c)}, nil
	case c == '\'':
		var b strings.Builder
		l.pos++
		for {
			if l.pos >= len(l.s) {
				return token{}, fmt.Errorf("unterminated string literal")
			}
			if l.s[l.pos] == '\'' {
				if l.pos+1 < len(l.s) && l.s[l.pos+1] == '\'' {
					b.WriteByte('\'')
					l.pos += 2
					continue
				}
				l.pos++
				return token{"string", b.String()}, nil
			}
			b.WriteByte(l.s[l.pos])
			l.pos++
		}
	}
	start := l.pos
	for l.pos < len(l.s) {
		r, size := utf8.DecodeRuneInString(l.s[l.pos:])
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '$' || r == '-' || r == '.') {
			break
		}
		l.pos += size
	}
	if l.pos == start {
		return token{}, fmt.Errorf("unexpected character %q", c)
	}
	return token{"ident", l.s[start:l.pos]}, nil
}

type fparser struct {
	lex  lexer
	tok  token
	spec *filterSpec
}

func (p *fparser) advance() error {
	t, err := p.lex.next()
	p.tok = t
	return err
}

func (p *fparser) isWord(w string) bool {
	return p.tok.kind == "ident" && strings.EqualFold(p.tok.text, w)
}

func (p *fparser) expect(punct string) error {
	if p.tok.kind != "punct" || p.tok.text != punct {
		return fmt.Errorf("expected '%s'", punct)
	}
	return p.advance()
}

func parseFilter(s string) (*filterSpec, error) {
	p := &fparser{lex: lexer{s: s}, spec: &filterSpec{}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != "eof" {
		return nil, fmt.Errorf("unexpected '%s'", p.tok.text)
	}
	p.spec.root = n
	return p.spec, nil
}

func (p *fparser) needsAdvanced(op string) {
	if p.spec.advanced == "" {
		p.spec.advanced = op
	}
}

func (p *fparser) parseOr() (fnode, error) {
	a, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		b, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		a = fOr{a, b}
	}
	return a, nil
}

func (p *fparser) parseAnd() (fnode, error) {
	a, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		b, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		a = fAnd{a, b}
	}
	return a, nil
}

func (p *fparser) parseUnary() (fnode, error) {
	if p.isWord("not") {
		p.needsAdvanced("not")
		if err := p.advance(); err != nil {
			return nil, err
		}
		a, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return fNot{a}, nil
	}
	if p.tok.kind == "punct" && p.tok.text == "(" {
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

func (p *fparser) literal() (flit, error) {
	t := p.tok
	if err := p.advance(); err != nil {
		return flit{}, err
	}
	switch {
	case t.kind == "string":
		return flit{isStr: true, s: t.text}, nil
	case t.kind == "ident" && strings.EqualFold(t.text, "null"):
		return flit{null: true}, nil
	case t.kind == "ident" && strings.EqualFold(t.text, "true"):
		return flit{isB: true, b: true}, nil
	case t.kind == "ident" && strings.EqualFold(t.text, "false"):
		return flit{isB: true}, nil
	case t.kind == "ident":
		return flit{s: t.text}, nil // GUIDs and numbers are unquoted
	}
	return flit{}, fmt.Errorf("expected a literal")
}

func (p *fparser) ident() (string, error) {
	if p.tok.kind != "ident" {
		return "", fmt.Errorf("expected a property name")
	}
	s := p.tok.text
	return s, p.advance()
}

func (p *fparser) parsePrimary() (fnode, error) {
	name, err := p.ident()
	if err != nil {
		return nil, err
	}
	lname := strings.ToLower(name)
	if (lname == "startswith" || lname == "endswith") && p.tok.kind == "punct" && p.tok.text == "(" {
		if lname == "endswith" {
			p.needsAdvanced("endsWith")
		}
		p.advance()
		prop, err := p.ident()
		if err != nil {
			return nil, err
		}
		p.spec.props = append(p.spec.props, prop)
		if err := p.expect(","); err != nil {
			return nil, err
		}
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		return fFunc{fn: lname, prop: prop, lit: lit}, p.expect(")")
	}
	p.spec.props = append(p.spec.props, name)
	if p.tok.kind == "punct" && p.tok.text == "/" {
		p.advance()
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
			var n int
			if _, err := fmt.Sscanf(lit.s, "%d", &n); err != nil {
				return nil, fmt.Errorf("expected a number after %s", op)
			}
			return fCount{prop: name, op: strings.ToLower(op), n: n}, nil
		case "any":
			return p.parseAny(name)
		}
		return nil, fmt.Errorf("unsupported path segment '%s'", sub)
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
		return fCmp{prop: name, op: lop, lit: lit}, nil
	case "in":
		if err := p.expect("("); err != nil {
			return nil, err
		}
		var lits []flit
		for {
			lit, err := p.literal()
			if err != nil {
				return nil, err
			}
			lits = append(lits, lit)
			if p.tok.kind == "punct" && p.tok.text == "," {
				p.advance()
				continue
			}
			break
		}
		return fIn{prop: name, lits: lits}, p.expect(")")
	}
	return nil, fmt.Errorf("unsupported operator '%s'", op)
}

// parseAny parses the lambda after "prop/any": (x:x eq 'v'),
// (x:startsWith(x,'v')), (x:x/skuId eq GUID).
func (p *fparser) parseAny(prop string) (fnode, error) {
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
	n := fAny{prop: prop}
	lh := strings.ToLower(head)
	switch {
	case (lh == "startswith" || lh == "endswith") && p.tok.text == "(":
		if lh == "endswith" {
			p.needsAdvanced("endsWith")
		}
		p.advance()
		if _, err := p.ident(); err != nil {
			return nil, err
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		if n.lit, err = p.literal(); err != nil {
			return nil, err
		}
		n.op = lh
		if err := p.expect(")"); err != nil {
			return nil, err
		}
	case head == v:
		if p.tok.text == "/" {
			p.advance()
			if n.field, err = p.ident(); err != nil {
				return nil, err
			}
		}
		op, err := p.ident()
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(op, "eq") {
			return nil, fmt.Errorf("unsupported operator '%s' in any()", op)
		}
		n.op = "eq"
		if n.lit, err = p.literal(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unsupported lambda expression")
	}
	return n, p.expect(")")
}

// ---- $search ----

type sclause struct {
	prop, text string
}

type searchSpec struct {
	// or of ands
	groups [][]sclause
}

// parseSearch parses `"displayName:foo" AND "mail:bar" OR "..."`.
func parseSearch(s string) (*searchSpec, error) {
	spec := &searchSpec{groups: [][]sclause{nil}}
	rest := strings.TrimSpace(s)
	expectClause := true
	for rest != "" {
		if expectClause {
			if rest[0] != '"' {
				return nil, fmt.Errorf("a $search clause must be quoted: \"property:value\"")
			}
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated $search clause")
			}
			clause := rest[1 : end+1]
			rest = strings.TrimSpace(rest[end+2:])
			prop, text, ok := strings.Cut(clause, ":")
			if !ok || prop == "" {
				return nil, fmt.Errorf("a $search clause needs a property: \"property:value\"")
			}
			g := &spec.groups[len(spec.groups)-1]
			*g = append(*g, sclause{prop: strings.TrimSpace(prop), text: strings.TrimSpace(text)})
			expectClause = false
			continue
		}
		word, after, _ := strings.Cut(rest, " ")
		rest = strings.TrimSpace(after)
		switch strings.ToUpper(word) {
		case "AND":
		case "OR":
			spec.groups = append(spec.groups, nil)
		default:
			return nil, fmt.Errorf("expected AND or OR in $search, found '%s'", word)
		}
		expectClause = true
	}
	if expectClause {
		return nil, fmt.Errorf("$search ends without a clause")
	}
	return spec, nil
}

func (s *searchSpec) match(get getter) bool {
	for _, g := range s.groups {
		all := true
		for _, c := range g {
			if !c.match(get) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (c sclause) match(get getter) bool {
	v, ok := get(c.prop)
	if !ok {
		return false
	}
	values := v.ss
	if v.kind == pStr {
		values = []string{v.s}
	}
	lp := strings.ToLower(c.prop)
	for _, val := range values {
		if val == "" {
			continue
		}
		if lp == "displayname" || lp == "description" {
			if tokensMatch(searchTokens(val), searchTokens(c.text)) {
				return true
			}
		} else if strings.HasPrefix(strings.ToLower(val), strings.ToLower(c.text)) {
			return true
		}
	}
	return false
}

// tokensMatch reports whether every query token is a prefix of some value
// token, in any order.
func tokensMatch(value, query []string) bool {
	if len(query) == 0 {
		return true
	}
	for _, q := range query {
		found := false
		for _, v := range value {
			if strings.HasPrefix(v, q) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// searchTokens splits text as Graph's tokenized search does: on spaces and
// symbols, on a change from lower to upper case, and between letters and
// digits; tokens are compared in lower case. Words joined only by symbols
// also match joined ("hello.world" gives helloworld too).
func searchTokens(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	var prev rune
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if len(cur) > 0 && (unicode.IsLower(prev) && unicode.IsUpper(r) || unicode.IsDigit(prev) != unicode.IsDigit(r)) {
				flush()
			}
			cur = append(cur, r)
		default:
			flush()
		}
		prev = r
	}
	flush()
	// Words joined by symbols only ("hello.world", "o'brien") also match
	// as one token.
	for _, field := range strings.Fields(s) {
		var joined []rune
		for _, r := range field {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				joined = append(joined, r)
			}
		}
		if j := strings.ToLower(string(joined)); j != "" {
			out = append(out, j)
		}
	}
	return out
}
