package model

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"strings"
)

const hexDigits = "0123456789abcdef"

// NewGUID returns a version 4 GUID drawn from rng, in Graph's lower-case
// form, so that generated tenants are the same for the same seed.
func NewGUID(rng *mrand.Rand) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rng.Uint64())
	return versioned(b)
}

// RandomGUID returns a version 4 GUID from the system's random source.
func RandomGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("entraemu: random: " + err.Error())
	}
	return versioned(b)
}

func versioned(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return FormatGUID(b)
}

// FormatGUID writes 16 bytes as a lower-case GUID.
func FormatGUID(b [16]byte) string {
	out := make([]byte, 36)
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hexDigits[c>>4], hexDigits[c&0xf]
		j += 2
	}
	return string(out)
}

// IsGUID reports whether s is a GUID in its 36-character form.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// NormID puts a GUID in Graph's lower case; other keys (UPNs) are kept.
func NormID(id string) string {
	if IsGUID(id) {
		return strings.ToLower(id)
	}
	return id
}

// SIDFromGUID is the security identifier Entra gives a cloud group:
// S-1-12-1 followed by the object id as four 32-bit numbers.
func SIDFromGUID(id string) string {
	var b [16]byte
	h := strings.ReplaceAll(id, "-", "")
	for i := 0; i < 16 && 2*i+1 < len(h); i++ {
		var v byte
		fmt.Sscanf(h[2*i:2*i+2], "%02x", &v)
		b[i] = v
	}
	// The GUID's first three fields are little-endian in its binary form.
	b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
	return fmt.Sprintf("S-1-12-1-%d-%d-%d-%d",
		binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint32(b[4:]),
		binary.LittleEndian.Uint32(b[8:]), binary.LittleEndian.Uint32(b[12:]))
}

// Nickname makes a mail nickname from a display name: ASCII letters and
// digits only.
func Nickname(s string) string {
	var b strings.Builder
	for _, r := range FoldASCII(s) {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "group"
	}
	return b.String()
}

// FoldASCII replaces common Latin letters with diacritics by their base
// letter, for mail nicknames.
func FoldASCII(s string) string {
	return asciiFolder.Replace(s)
}

var asciiFolder = strings.NewReplacer(
	"à", "a", "á", "a", "â", "a", "ã", "a", "ä", "a", "å", "a", "æ", "ae", "ç", "c", "è", "e", "é", "e",
	"ê", "e", "ë", "e", "ì", "i", "í", "i", "î", "i", "ï", "i", "ñ", "n", "ò", "o", "ó", "o", "ô", "o",
	"õ", "o", "ö", "o", "ø", "o", "ù", "u", "ú", "u", "û", "u", "ü", "u", "ý", "y", "ÿ", "y", "ß", "ss",
	"À", "A", "Á", "A", "Â", "A", "Ä", "A", "Å", "A", "Ç", "C", "É", "E", "È", "E", "Ö", "O", "Ø", "O",
	"Ü", "U", "Ó", "O", "Ú", "U", "Í", "I", "ł", "l", "Ł", "L", "ę", "e", "ą", "a", "ś", "s", "ż", "z",
	"ź", "z", "ć", "c", "ń", "n", "ř", "r", "š", "s", "č", "c", "ž", "z", "ğ", "g", "ş", "s", "Ş", "S",
	"ı", "i", "ễ", "e", "ă", "a", "đ", "d",
)
