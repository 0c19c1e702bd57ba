package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"time"
)

// sessionCookie holds the session token: HttpOnly (no script reads it),
// SameSite=Lax (not sent with another site's posts), Secure behind TLS.
const sessionCookie = "dirsync_session"

// csrfField is the hidden form field that carries the session's token.
const csrfField = "csrf"

func sessionToken(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

func setSessionCookie(w http.ResponseWriter, token string, expires time.Time, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", Expires: expires,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
}

func clearSessionCookie(w http.ResponseWriter, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
}

// csrfToken is the form token of a session: a hash of its secret token,
// so that it needs no storage of its own, changes with every session, and
// tells nothing of the session token (which only the HttpOnly cookie holds).
func csrfToken(sessionToken string) string {
	if sessionToken == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("dirsync console form token\x00" + sessionToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validCSRF reports whether the posted form carries the session's token.
func validCSRF(r *http.Request, want string) bool {
	got := r.PostFormValue(csrfField)
	if got == "" {
		got = r.Header.Get("X-CSRF-Token")
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
