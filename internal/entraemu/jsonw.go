package entraemu

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// The emulator writes its JSON by hand, in a fixed property order, because
// encoding/json cannot keep Graph's order for dynamic property sets and
// escapes <, > and & where Graph does not. Pages of 999 users are written
// thousands of times in a benchmark, so this also keeps allocation low.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
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

func appendStringOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

func appendBool(b []byte, v bool) []byte {
	return strconv.AppendBool(b, v)
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// graphTime is how Graph writes DateTimeOffset values: UTC, whole seconds.
func graphTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func appendTimeOrNull(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	return appendString(b, graphTime(t))
}

// obj writes one JSON object, adding commas between members.
type obj struct {
	b     []byte
	count int
}

func (o *obj) begin(b []byte) {
	o.b = append(b, '{')
	o.count = 0
}

// key writes the member name (and the comma before it when needed); the
// caller appends the value to o.b.
func (o *obj) key(name string) {
	if o.count > 0 {
		o.b = append(o.b, ',')
	}
	o.count++
	o.b = appendString(o.b, name)
	o.b = append(o.b, ':')
}

func (o *obj) str(name, v string) {
	o.key(name)
	o.b = appendString(o.b, v)
}

func (o *obj) raw(name string, v []byte) {
	o.key(name)
	o.b = append(o.b, v...)
}

func (o *obj) end() []byte {
	return append(o.b, '}')
}

// mustJSON marshals v, which is always a value of a type this package
// controls; a failure is a programming error.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("entraemu: marshal: " + err.Error())
	}
	return b
}
