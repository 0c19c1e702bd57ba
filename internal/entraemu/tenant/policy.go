package tenant

import (
	"strings"
	"unicode/utf8"

	"github.com/dirsync/dirsync/internal/entraemu/model"
)

// Entra's rules for what a user or group may hold, in one place for the
// admin methods and the Graph writes: "Microsoft Entra password policies
// and account restrictions" (UPN characters and lengths, password
// complexity) and the errors "Create user" and "Create group" answer.

// upnLocalAllowed are the characters a UPN's local part may hold besides
// ASCII letters and digits.
const upnLocalAllowed = "'.-_!#^~"

// checkUPNForm refuses a UPN Entra refuses: an @, a local part of at most
// 64 characters from A-Z a-z 0-9 ' . - _ ! # ^ ~ that neither starts nor
// ends with a period nor holds two in a row, and a domain of at most 48.
func checkUPNForm(upn string) error {
	invalid := model.BadRequest("Invalid value specified for property 'userPrincipalName' of resource 'User'.")
	local, domain, ok := strings.Cut(upn, "@")
	if !ok || local == "" || domain == "" || len(local) > 64 || len(domain) > 48 || strings.Contains(domain, "@") {
		return invalid
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return invalid
	}
	for _, c := range local {
		if !isASCIIAlnum(c) && !strings.ContainsRune(upnLocalAllowed, c) {
			return invalid
		}
	}
	return nil
}

func isASCIIAlnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// mailNicknameForbidden are the characters a mail nickname may not hold
// (Exchange's alias rules), besides non-ASCII ones.
const mailNicknameForbidden = "@()\\[]\";:<>, "

// checkNicknameForm refuses a mail nickname Graph refuses: empty, longer
// than 64, non-ASCII, with a forbidden character, or starting or ending
// with a period.
func checkNicknameForm(nick, resource string) error {
	bad := nick == "" || len(nick) > 64 || nick[0] == '.' || nick[len(nick)-1] == '.' || strings.ContainsAny(nick, mailNicknameForbidden)
	for _, c := range nick {
		bad = bad || c >= utf8.RuneSelf || c < ' '
	}
	if bad {
		return model.BadRequest("Invalid value specified for property 'mailNickname' of resource '%s'.", resource)
	}
	return nil
}

// checkDisplayName refuses an empty display name or one over 256
// characters.
func checkDisplayName(name, resource string) error {
	if name == "" || utf8.RuneCountInString(name) > 256 {
		return model.BadRequest("Invalid value specified for property 'displayName' of resource '%s'.", resource)
	}
	return nil
}

// ErrPasswordComplexity is Graph's answer to a password Entra's policy
// refuses.
var ErrPasswordComplexity = model.BadRequest("The specified password does not comply with password complexity requirements. Please provide a different password.")

// passwordSymbols are the symbols Entra's password policy allows.
const passwordSymbols = "@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<> "

// CheckPassword applies Entra's password policy: 8 to 256 characters, from
// letters, digits and the allowed symbols, with three of lower case, upper
// case, digits and symbols, and without the user's UPN local part. strong
// is false for a user whose passwordPolicies say DisableStrongPassword:
// then length and characters still count, the classes do not.
func CheckPassword(password, upn string, strong bool) error {
	n := utf8.RuneCountInString(password)
	if n < 8 || n > 256 {
		return ErrPasswordComplexity
	}
	var lower, upper, digit, symbol bool
	for _, c := range password {
		switch {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= '0' && c <= '9':
			digit = true
		case strings.ContainsRune(passwordSymbols, c):
			symbol = true
		default:
			return ErrPasswordComplexity
		}
	}
	classes := 0
	for _, has := range []bool{lower, upper, digit, symbol} {
		if has {
			classes++
		}
	}
	local, _, _ := strings.Cut(upn, "@")
	if strong && classes < 3 || len(local) >= 3 && strings.Contains(strings.ToLower(password), strings.ToLower(local)) {
		return ErrPasswordComplexity
	}
	return nil
}

// mailRecipient reports whether a group's mail nickname must be unique:
// Microsoft 365 and mail-enabled groups are Exchange recipients; Entra lets
// security groups share one (microsoft-graph-docs issues 14716, 21142).
func mailRecipient(g *model.Group) bool { return g.MailEnabled || g.IsUnified() }

// nicknameOwner returns the object holding a mail nickname, if any.
func (d *Directory) nicknameOwner(nick string) (string, bool) {
	id, ok := d.nicknames[strings.ToLower(nick)]
	return id, ok
}

func (d *Directory) indexNickname(nick, id string) {
	if nick != "" {
		if _, taken := d.nicknames[strings.ToLower(nick)]; !taken {
			d.nicknames[strings.ToLower(nick)] = id
		}
	}
}

func (d *Directory) unindexNickname(nick, id string) {
	if key := strings.ToLower(nick); nick != "" && d.nicknames[key] == id {
		delete(d.nicknames, key)
	}
}

// checkNicknameFree refuses a mail nickname another recipient holds.
func (d *Directory) checkNicknameFree(nick, self string) error {
	if id, taken := d.nicknameOwner(nick); taken && id != self {
		return model.Conflict("mailNickname")
	}
	return nil
}

// uniqueNickname returns nick, or nick with the lowest number appended
// that no recipient holds, as the admin portals derive an alias.
func (d *Directory) uniqueNickname(nick string) string {
	if _, taken := d.nicknameOwner(nick); !taken {
		return nick
	}
	for i := 2; ; i++ {
		if c := nick + itoa(i); !d.hasNickname(c) {
			return c
		}
	}
}

func (d *Directory) hasNickname(nick string) bool {
	_, taken := d.nicknameOwner(nick)
	return taken
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for i > 0 || n == len(b) {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}
