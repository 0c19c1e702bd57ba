// Package jsonw writes the emulator's JSON by hand, in a fixed property
// order, because encoding/json cannot keep Graph's order for dynamic
// property sets and escapes <, > and & where Graph does not. Pages of 999
// users are written thousands of times in a benchmark, so this also keeps
// allocation low.
package jsonw

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendStringOrNull appends s, or null for "".
func AppendStringOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return AppendString(b, s)
}

// AppendBool appends true or false.
func AppendBool(b []byte, v bool) []byte {
	return strconv.AppendBool(b, v)
}

// AppendStrings appends a JSON array of strings.
func AppendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, s)
	}
	return append(b, ']')
}

// Time is how Graph writes DateTimeOffset values: UTC, whole seconds.
func Time(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// AppendTimeOrNull appends t as Graph writes it, or null for the zero time.
func AppendTimeOrNull(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	return AppendString(b, Time(t))
}

// Object writes one JSON object, adding commas between members.
type Object struct {
	B     []byte
	count int
}

// Begin starts an object at the end of b.
func (o *Object) Begin(b []byte) {
	o.B = append(b, '{')
	o.count = 0
}

// Key writes the member name (and the comma before it when needed); the
// caller appends the value to o.B.
func (o *Object) Key(name string) {
	if o.count > 0 {
		o.B = append(o.B, ',')
	}
	o.count++
	o.B = AppendString(o.B, name)
	o.B = append(o.B, ':')
}

// Str writes a member with a string value.
func (o *Object) Str(name, v string) {
	o.Key(name)
	o.B = AppendString(o.B, v)
}

// Raw writes a member whose value is already JSON.
func (o *Object) Raw(name string, v []byte) {
	o.Key(name)
	o.B = append(o.B, v...)
}

// End closes the object and returns the buffer.
func (o *Object) End() []byte {
	return append(o.B, '}')
}

// Marshal marshals v, which is always a value of a type this package
// controls; a failure is a programming error.
func Marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("entraemu: marshal: " + err.Error())
	}
	return b
}
