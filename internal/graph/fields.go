package graph

import (
	"encoding/json"
	"slices"
	"strings"
)

// scanFields lists the property names of the JSON object b as fieldsOf
// does, by scanning its top level: each name, then its value skipped
// (strings, nested objects and arrays, literals). b must be valid JSON:
// the scan does not check what it skips. ok is false for anything
// but an object it reads to its end, which fieldsOf then decodes instead.
// A name with an escape or a byte beyond ASCII is decoded by encoding/json,
// so that it reads as the map's key would (escapes resolved, invalid UTF-8
// replaced).
func scanFields(b []byte) (fields []string, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	fields = make([]string, 0, 16)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return fields, skipSpace(b, i+1) == len(b)
	}
	for {
		end, plain := stringEnd(b, i)
		if end < 0 {
			return nil, false
		}
		name := string(b[i+1 : end-1])
		if !plain {
			if json.Unmarshal(b[i:end], &name) != nil {
				return nil, false
			}
		}
		if !strings.Contains(name, "@") {
			fields = append(fields, name)
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		if i = skipValue(b, skipSpace(b, i+1)); i < 0 {
			return nil, false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return nil, false
		}
		if b[i] == '}' {
			break
		}
		if b[i] != ',' {
			return nil, false
		}
		i = skipSpace(b, i+1)
	}
	if skipSpace(b, i+1) != len(b) {
		return nil, false
	}
	slices.Sort(fields)
	return slices.Compact(fields), true
}

// skipSpace is the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd is the index just after the JSON string that starts at i, or
// -1; plain says it has no escape and no byte beyond ASCII.
func stringEnd(b []byte, i int) (end int, plain bool) {
	if i >= len(b) || b[i] != '"' {
		return -1, false
	}
	plain = true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '\\':
			plain = false
			j++ // the escaped byte (\u's digits are plain bytes)
		case c == '"':
			return j + 1, plain
		case c >= 0x80:
			plain = false
		}
	}
	return -1, false
}

// skipValue is the index just after the JSON value that starts at i, or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, _ := stringEnd(b, i)
				if end < 0 {
					return -1
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	// A number, true, false or null: up to the next delimiter.
	start := i
	for i < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[i])) {
		i++
	}
	if i == start {
		return -1
	}
	return i
}
