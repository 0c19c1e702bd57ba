package scope

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
)

// Action says what a rule does to the users it matches.
type Action string

// Rule actions.
const (
	Include Action = "include"
	Exclude Action = "exclude"
)

// Op is how a rule compares an attribute with its values.
type Op string

// Rule operators. Comparisons ignore case: directories hold "Sales" and
// "sales" alike, and domains and addresses are case-insensitive anyway.
const (
	Equals     Op = "equals"
	NotEquals  Op = "not_equals"
	Contains   Op = "contains"
	StartsWith Op = "starts_with"
	EndsWith   Op = "ends_with"
	In         Op = "in"
)

// ops lists the operators with their CLI spelling, longest symbols first so
// that "!=" is not read as "!" followed by "=".
type opSymbol struct {
	op     Op
	symbol string
}

var ops = []opSymbol{
	{NotEquals, "!="},
	{StartsWith, "^="},
	{EndsWith, "$="},
	{Equals, "="},
	{Contains, "~"},
	{In, "in"},
}

func (o Op) symbol() string {
	for _, x := range ops {
		if x.op == o {
			return x.symbol
		}
	}
	return string(o)
}

// phrase is the operator as it reads in a sentence.
func (o Op) phrase() string {
	switch o {
	case NotEquals:
		return "does not equal"
	case StartsWith:
		return "starts with"
	case EndsWith:
		return "ends with"
	case In:
		return "is one of"
	}
	return string(o)
}

// Rule includes or excludes the users whose attribute compares with Values.
//
// Attributes with several values (domain: the UPN's and the email's;
// license; proxy_address) match a positive operator when any of their
// values does; not_equals is the negation of equals, so it matches when
// none of them equals the value.
type Rule struct {
	Action    Action   `json:"action"`
	Attribute string   `json:"attribute"`
	Op        Op       `json:"op"`
	Values    []string `json:"values"`
}

// attribute reads one attribute of a source user, as the values a rule
// compares.
type attribute struct {
	name string
	doc  string
	get  func(u *directory.SourceUser) []string
	// boolean attributes take only true or false, with equals or not_equals.
	boolean bool
}

func one(s string) []string { return []string{s} }

// attributes are the attributes rules can test, in the order they are
// listed in messages: the user fields under their own names, and a few
// more (the UPN, the domain, one license or proxy address, the id).
var attributes = []attribute{
	{name: "upn", doc: "the user principal name as the source reports it", get: func(u *directory.SourceUser) []string { return one(u.Username) }},
	{name: string(directory.UserEmail), doc: "the primary email address", get: func(u *directory.SourceUser) []string { return one(u.Email) }},
	{name: "domain", doc: "the domain of the UPN and of the email", get: func(u *directory.SourceUser) []string { return domains(u) }},
	{name: string(directory.UserDisplayName), doc: "the display name", get: func(u *directory.SourceUser) []string { return one(u.DisplayName) }},
	{name: string(directory.UserGivenName), doc: "the first name", get: func(u *directory.SourceUser) []string { return one(u.GivenName) }},
	{name: string(directory.UserSurname), doc: "the last name", get: func(u *directory.SourceUser) []string { return one(u.Surname) }},
	{name: string(directory.UserDepartment), doc: "the department", get: func(u *directory.SourceUser) []string { return one(u.Department) }},
	{name: string(directory.UserJobTitle), doc: "the job title", get: func(u *directory.SourceUser) []string { return one(u.JobTitle) }},
	{name: string(directory.UserUserType), doc: "Member or Guest in Entra", get: func(u *directory.SourceUser) []string { return one(u.UserType) }},
	{name: string(directory.UserEnabled), doc: "true or false", boolean: true, get: func(u *directory.SourceUser) []string { return one(strconv.FormatBool(u.Enabled)) }},
	{name: "license", doc: "an assigned license's SKU id", get: func(u *directory.SourceUser) []string { return u.Licenses }},
	{name: "proxy_address", doc: "a proxy address such as smtp:alice@example.com", get: func(u *directory.SourceUser) []string { return u.ProxyAddresses }},
	{name: string(directory.UserAccountName), doc: "sAMAccountName", get: func(u *directory.SourceUser) []string { return one(u.AccountName) }},
	{name: string(directory.UserDN), doc: "the LDAP distinguished name; ends_with selects an OU", get: func(u *directory.SourceUser) []string { return one(u.DN) }},
	{name: "id", doc: "the source's external id", get: func(u *directory.SourceUser) []string { return one(u.ExternalID) }},
}

// aliases are other spellings ParseRule accepts, mapped to the attribute.
var aliases = map[string]string{
	"username":          "upn",
	"userprincipalname": "upn",
	"mail":              "email",
	"displayname":       "display_name",
	"givenname":         "given_name",
	"jobtitle":          "job_title",
	"usertype":          "user_type",
	"accountenabled":    "enabled",
	"samaccountname":    "account_name",
	"external_id":       "id",
}

// AttributeDoc names an attribute rules can test and says what it is.
type AttributeDoc struct {
	Name string
	Doc  string
}

// Attributes lists the attributes rules can test, for help texts.
func Attributes() []AttributeDoc {
	out := make([]AttributeDoc, len(attributes))
	for i, a := range attributes {
		out[i] = AttributeDoc{a.name, a.doc}
	}
	return out
}

func lookupAttribute(name string) (attribute, bool) {
	for _, a := range attributes {
		if a.name == name {
			return a, true
		}
	}
	return attribute{}, false
}

func attributeNames() string {
	names := make([]string, len(attributes))
	for i, a := range attributes {
		names[i] = a.name
	}
	return strings.Join(names, ", ")
}

// domains returns the distinct domains of the user's UPN and email.
func domains(u *directory.SourceUser) []string {
	var d []string
	for _, addr := range []string{u.Username, u.Email} {
		i := strings.LastIndexByte(addr, '@')
		if i < 0 {
			continue
		}
		dom := strings.ToLower(addr[i+1:])
		if dom != "" && !slices.Contains(d, dom) {
			d = append(d, dom)
		}
	}
	return d
}

// Matches reports whether the rule's condition holds for u, whatever its
// action.
func (r Rule) Matches(u directory.SourceUser) bool {
	a, ok := lookupAttribute(r.Attribute)
	if !ok {
		return false
	}
	got := a.get(&u)
	if r.Op == NotEquals {
		return !anyMatch(got, Equals, r.Values)
	}
	return anyMatch(got, r.Op, r.Values)
}

func anyMatch(got []string, op Op, values []string) bool {
	for _, g := range got {
		for _, v := range values {
			if compare(g, op, v) {
				return true
			}
		}
	}
	return false
}

func compare(got string, op Op, want string) bool {
	switch op {
	case Equals, In:
		return strings.EqualFold(got, want)
	case Contains:
		return strings.Contains(strings.ToLower(got), strings.ToLower(want))
	case StartsWith:
		return len(got) >= len(want) && strings.EqualFold(got[:len(want)], want)
	case EndsWith:
		return len(got) >= len(want) && strings.EqualFold(got[len(got)-len(want):], want)
	}
	return false
}

// Condition is the rule's test as a phrase, for reasons and descriptions:
// "user_type equals Guest", "domain is one of a.com, b.com".
func (r Rule) Condition() string {
	vals := make([]string, len(r.Values))
	for i, v := range r.Values {
		vals[i] = showValue(v)
	}
	return r.Attribute + " " + r.Op.phrase() + " " + strings.Join(vals, ", ")
}

// String is the rule in the CLI syntax ParseRule reads.
func (r Rule) String() string {
	head := string(r.Action) + " " + r.Attribute
	if r.Op == In {
		return head + " in " + strings.Join(r.Values, ",")
	}
	if len(r.Values) == 1 {
		return head + r.Op.symbol() + showValue(r.Values[0])
	}
	return head + r.Op.symbol() + strings.Join(r.Values, ",")
}

// showValue quotes a value whose edges would otherwise be lost.
func showValue(v string) string {
	if v == "" || strings.TrimSpace(v) != v || strings.HasPrefix(v, `"`) {
		return strconv.Quote(v)
	}
	return v
}

// ParseRule reads a rule in the CLI syntax: an action, an attribute, an
// operator and a value.
//
//	include department=Sales        equals
//	exclude user_type!=Member       not_equals
//	exclude job_title~intern        contains
//	include upn^=adm-               starts_with
//	include dn$=OU=Staff,DC=corp    ends_with
//	include domain in a.com,b.com   in (comma-separated)
//
// Comparisons ignore case. A value may be written in double quotes to keep
// leading or trailing spaces, or to test for an empty attribute:
// `exclude department=""`.
func ParseRule(text string) (Rule, error) {
	r, err := parseRule(text)
	if err != nil {
		return Rule{}, fmt.Errorf("scope: rule %q: %w", text, err)
	}
	if err := r.validate(); err != nil {
		return Rule{}, fmt.Errorf("scope: rule %q: %w", text, err)
	}
	return r, nil
}

func parseRule(text string) (Rule, error) {
	var r Rule
	action, rest, _ := strings.Cut(strings.TrimSpace(text), " ")
	switch Action(strings.ToLower(action)) {
	case Include, Exclude:
		r.Action = Action(strings.ToLower(action))
	case "":
		return r, errors.New(`empty; want "include|exclude ATTRIBUTE OP VALUE", e.g. "include department=Sales"`)
	default:
		return r, fmt.Errorf("unknown action %q; want include or exclude", action)
	}
	rest = strings.TrimSpace(rest)
	n := 0
	for n < len(rest) && isNameByte(rest[n]) {
		n++
	}
	if n == 0 {
		return r, errors.New(`missing attribute; want e.g. "include department=Sales"`)
	}
	r.Attribute = strings.ToLower(rest[:n])
	if canon, ok := aliases[r.Attribute]; ok {
		r.Attribute = canon
	}
	rest = strings.TrimLeft(rest[n:], " \t")
	for _, x := range ops {
		if !strings.HasPrefix(rest, x.symbol) {
			continue
		}
		val := rest[len(x.symbol):]
		if x.op == In {
			// "in" is a word: it needs a space after it, and an attribute
			// named "index" must not read as "in dex".
			if val == "" || (val[0] != ' ' && val[0] != '\t') {
				continue
			}
			r.Op = In
			for item := range strings.SplitSeq(val, ",") {
				item = strings.TrimSpace(item)
				if item == "" {
					return r, errors.New(`"in" needs a comma-separated list without empty items`)
				}
				r.Values = append(r.Values, item)
			}
			return r, nil
		}
		r.Op = x.op
		v, err := unquote(strings.TrimSpace(val))
		if err != nil {
			return r, err
		}
		r.Values = []string{v}
		return r, nil
	}
	if rest == "in" {
		return r, errors.New(`"in" needs a comma-separated list after it`)
	}
	if rest == "" {
		return r, fmt.Errorf("missing operator after %q; want one of = != ~ ^= $= in", r.Attribute)
	}
	return r, fmt.Errorf("unknown operator at %q; want one of = != ~ ^= $= in", rest)
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func unquote(v string) (string, error) {
	if !strings.HasPrefix(v, `"`) {
		return v, nil
	}
	s, err := strconv.Unquote(v)
	if err != nil {
		return "", fmt.Errorf("bad quoted value %s", v)
	}
	return s, nil
}

// validate checks one rule; messages name the rule's field.
func (r Rule) validate() error {
	var errs []error
	if r.Action != Include && r.Action != Exclude {
		errs = append(errs, fmt.Errorf("action: unknown action %q; want include or exclude", r.Action))
	}
	a, ok := lookupAttribute(r.Attribute)
	if !ok {
		errs = append(errs, fmt.Errorf("attribute: unknown attribute %q; known: %s", r.Attribute, attributeNames()))
	}
	knownOp := slices.ContainsFunc(ops, func(x opSymbol) bool { return x.op == r.Op })
	switch {
	case !knownOp:
		errs = append(errs, fmt.Errorf("op: unknown operator %q; want equals, not_equals, contains, starts_with, ends_with or in", r.Op))
	case ok && a.boolean && r.Op != Equals && r.Op != NotEquals:
		errs = append(errs, fmt.Errorf("op: %s takes only equals or not_equals, not %s", r.Attribute, r.Op))
	}
	switch {
	case len(r.Values) == 0:
		errs = append(errs, errors.New("values: none given"))
	case knownOp && r.Op != In && len(r.Values) > 1:
		errs = append(errs, fmt.Errorf("values: %s takes one value, got %d; use in for a list", r.Op, len(r.Values)))
	}
	for i, v := range r.Values {
		switch {
		case v == "" && (r.Op == Contains || r.Op == StartsWith || r.Op == EndsWith):
			// An empty needle matches every user: almost surely a mistake
			// that would put everyone in or out of scope.
			errs = append(errs, fmt.Errorf("values[%d]: empty, and %s an empty value matches everyone", i, r.Op))
		case r.Op == In && (strings.TrimSpace(v) == "" || strings.Contains(v, ",")):
			errs = append(errs, fmt.Errorf("values[%d]: %q: a value of in must be non-empty and hold no comma", i, v))
		case ok && a.boolean && !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false"):
			errs = append(errs, fmt.Errorf("values[%d]: %q: %s is true or false", i, v, r.Attribute))
		}
	}
	return errors.Join(errs...)
}
