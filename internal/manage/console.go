package manage

// The admin console's people: console users (an email, a role, an
// argon2id password hash), their server-side sessions, one-time sign-in
// links, and the lockout of an address after repeated failed sign-ins.
// Everything is kept in the store, so any replica of the service answers
// any request, and revoking a session or changing a role takes effect at
// the next request.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/dirsync/dirsync/internal/store"
)

// Console session and sign-in policy.
const (
	// SessionIdle ends a session nobody used for this long.
	SessionIdle = 8 * time.Hour
	// SessionMax ends every session this long after its sign-in.
	SessionMax = 7 * 24 * time.Hour
	// sessionTouch is how stale a session's last-seen time may get before
	// a request writes it again: one write a minute, not one per request.
	sessionTouch = time.Minute
	// SetupLinkTTL is how long the link that creates an account's first
	// owner stays valid; UserLinkTTL a sign-in link for an existing user.
	SetupLinkTTL = 24 * time.Hour
	UserLinkTTL  = time.Hour
	// Failed sign-ins: maxFailures within failureWindow lock the address
	// for lockout.
	maxFailures   = 5
	failureWindow = 15 * time.Minute
	lockout       = 15 * time.Minute
	// Passwords: NIST SP 800-63B asks for 8 at least; 12 is today's usual
	// floor for administrators. The maximum bounds the hashing work.
	MinPasswordLength = 12
	maxPasswordLength = 1024
	// SessionCookieTokenPrefix starts every session token and sign-in link
	// token, so that secret scanners find them.
	sessionTokenPrefix = "dss_"
	linkTokenPrefix    = "dsl_"
)

// CodeLockedOut refines Unauthenticated: the address is locked after too
// many failed sign-ins.
const CodeLockedOut = "locked_out"

// passwordParams are OWASP's argon2id parameters (19 MiB, 2 passes, one
// lane): strong, and cheap enough that a burst of sign-ins cannot exhaust
// a small server's memory.
var passwordParams = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// dummyHash is compared against when an address is unknown, so that a
// sign-in takes as long whether the address exists or not.
var dummyHash, _ = argon2id.CreateHash("dirsync: no such console user", passwordParams)

// ConsoleUser is a console user as front ends show it: never its hash.
type ConsoleUser struct {
	ID           string
	Email        string
	Role         Role
	HasPassword  bool
	CreatedAt    time.Time
	LastSignInAt time.Time
}

func consoleUserView(u store.ConsoleUser) ConsoleUser {
	return ConsoleUser{ID: u.ID, Email: u.Email, Role: Role(u.Role), HasPassword: u.PasswordHash != "",
		CreatedAt: u.CreatedAt, LastSignInAt: u.LastSignInAt}
}

// ConsoleUserInput creates a console user.
type ConsoleUserInput struct {
	Email string
	Role  string
	// Password is optional: without one the user signs in first with a
	// one-time link (IssueSignInLink) and sets a password then.
	Password []byte
}

// checkEmail reads an email address the way the console compares them.
func checkEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", invalid("email", "the email address is required")
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" || len(email) > 254 {
		return "", invalid("email", "%q is not an email address such as alice@example.com", email)
	}
	return email, nil
}

// checkPassword checks a new password against the policy.
func checkPassword(pw []byte, email string) error {
	n := len([]rune(string(pw)))
	switch {
	case n < MinPasswordLength:
		return invalid("password", "the password is too short: use at least %d characters (a passphrase of a few words is easy to remember)", MinPasswordLength)
	case len(pw) > maxPasswordLength:
		return invalid("password", "the password is longer than %d bytes", maxPasswordLength)
	case strings.EqualFold(strings.TrimSpace(string(pw)), email):
		return invalid("password", "the password must not be the email address")
	}
	return nil
}

func hashPassword(pw []byte) (string, error) {
	h, err := argon2id.CreateHash(string(pw), passwordParams)
	if err != nil {
		return "", fmt.Errorf("manage: hash password: %w", err)
	}
	return h, nil
}

// ConsoleUsers lists the account's console users.
func (m *Manager) ConsoleUsers(ctx context.Context, actor Actor) ([]ConsoleUser, error) {
	if err := actor.require(ActManageConsole); err != nil {
		return nil, err
	}
	us, err := m.d.Store.ConsoleUsers(ctx, actor.AccountID)
	out := make([]ConsoleUser, len(us))
	for i, u := range us {
		out[i] = consoleUserView(u)
	}
	return out, err
}

// CreateConsoleUser adds a console user to the actor's account. An email
// signs in one user in the whole deployment.
func (m *Manager) CreateConsoleUser(ctx context.Context, actor Actor, in ConsoleUserInput) (ConsoleUser, error) {
	if err := actor.require(ActManageConsole); err != nil {
		return ConsoleUser{}, err
	}
	email, err := checkEmail(in.Email)
	if err != nil {
		return ConsoleUser{}, err
	}
	role, err := ParseRole(in.Role)
	if err != nil {
		return ConsoleUser{}, err
	}
	u := store.ConsoleUser{AccountID: actor.AccountID, Email: email, Role: string(role)}
	if in.Password != nil {
		if err := checkPassword(in.Password, email); err != nil {
			return ConsoleUser{}, err
		}
		if u.PasswordHash, err = hashPassword(in.Password); err != nil {
			return ConsoleUser{}, err
		}
		u.PasswordChangedAt = m.now()
	}
	err = m.d.Store.Update(ctx, func(tx store.Tx) error { return tx.CreateConsoleUser(ctx, &u) })
	if errors.Is(err, store.ErrAlreadyExists) {
		return ConsoleUser{}, &Error{Kind: Conflict, Code: CodeAlreadyExists, Field: "email", Message: fmt.Sprintf("%s already has a console user (an address signs in to one account)", email), Err: err}
	}
	return consoleUserView(u), err
}

func (m *Manager) findConsoleUser(ctx context.Context, rd store.Reader, actor Actor, key string) (store.ConsoleUser, error) {
	key = strings.TrimSpace(key)
	u, err := rd.ConsoleUser(ctx, actor.AccountID, key)
	if errors.Is(err, store.ErrNotFound) {
		if u, err = rd.ConsoleUserByEmail(ctx, key); err == nil && u.AccountID != actor.AccountID {
			err = store.ErrNotFound
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return u, notFound("account %s has no console user %q", actor.AccountName, key).with(err)
	}
	return u, err
}

// lastOwner refuses a change that would leave the account without an
// owner who can sign in to the console.
func lastOwner(ctx context.Context, tx store.Tx, u store.ConsoleUser) error {
	if Role(u.Role) != RoleOwner {
		return nil
	}
	us, err := tx.ConsoleUsers(ctx, u.AccountID)
	if err != nil {
		return err
	}
	for _, o := range us {
		if o.ID != u.ID && Role(o.Role) == RoleOwner {
			return nil
		}
	}
	return conflict("last_owner", "%s is the account's last owner: make another user owner first", u.Email)
}

// SetConsoleUserRole changes a console user's role; it applies at the
// user's next request. The last owner stays an owner.
func (m *Manager) SetConsoleUserRole(ctx context.Context, actor Actor, key, role string) (ConsoleUser, error) {
	if err := actor.require(ActManageConsole); err != nil {
		return ConsoleUser{}, err
	}
	r, err := ParseRole(role)
	if err != nil {
		return ConsoleUser{}, err
	}
	var u store.ConsoleUser
	err = m.d.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		if u, err = m.findConsoleUser(ctx, tx, actor, key); err != nil {
			return err
		}
		if r != RoleOwner {
			if err := lastOwner(ctx, tx, u); err != nil {
				return err
			}
		}
		u.Role = string(r)
		return tx.UpdateConsoleUser(ctx, u)
	})
	return consoleUserView(u), err
}

// RemoveConsoleUser removes a console user and ends its sessions at once.
// The last owner stays.
func (m *Manager) RemoveConsoleUser(ctx context.Context, actor Actor, key string) (ConsoleUser, error) {
	if err := actor.require(ActManageConsole); err != nil {
		return ConsoleUser{}, err
	}
	var u store.ConsoleUser
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		if u, err = m.findConsoleUser(ctx, tx, actor, key); err != nil {
			return err
		}
		if err := lastOwner(ctx, tx, u); err != nil {
			return err
		}
		return tx.DeleteConsoleUser(ctx, actor.AccountID, u.ID)
	})
	return consoleUserView(u), err
}

// ChangePassword sets the signed-in console user's password: the current
// one is required when there is one. Every other session of the user ends.
func (m *Manager) ChangePassword(ctx context.Context, actor Actor, current, next []byte) error {
	if actor.UserID == "" {
		return newError(Forbidden, "only a console user has a password to change")
	}
	return m.d.Store.Update(ctx, func(tx store.Tx) error {
		u, err := tx.ConsoleUser(ctx, actor.AccountID, actor.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return newError(Unauthenticated, "your console user no longer exists")
		}
		if err != nil {
			return err
		}
		if u.PasswordHash != "" {
			if ok, _ := argon2id.ComparePasswordAndHash(string(current), u.PasswordHash); !ok {
				return invalid("current_password", "the current password is wrong")
			}
		}
		if err := checkPassword(next, u.Email); err != nil {
			return err
		}
		if u.PasswordHash, err = hashPassword(next); err != nil {
			return err
		}
		u.PasswordChangedAt = m.now()
		if err := tx.UpdateConsoleUser(ctx, u); err != nil {
			return err
		}
		return m.revokeOthers(ctx, tx, actor)
	})
}

// revokeOthers ends the user's sessions but the actor's own.
func (m *Manager) revokeOthers(ctx context.Context, tx store.Tx, actor Actor) error {
	ss, err := tx.ConsoleSessions(ctx, actor.UserID)
	if err != nil {
		return err
	}
	for _, s := range ss {
		if s.ID != actor.SessionID && s.RevokedAt.IsZero() {
			if err := tx.RevokeConsoleSessions(ctx, actor.UserID, s.ID, m.now()); err != nil {
				return err
			}
		}
	}
	return nil
}

// randomToken is 256 random bits with a prefix.
func randomToken(prefix string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("manage: random token: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// SignInLink is a one-time sign-in link's token, shown once.
type SignInLink struct {
	Token string
	// Setup says the link creates the account's first owner.
	Setup     bool
	Email     string
	ExpiresAt time.Time
}

// ConsoleNeedsSetup reports whether the actor's account has no console
// user yet: the service then prints a setup link.
func (m *Manager) ConsoleNeedsSetup(ctx context.Context, actor Actor) (bool, error) {
	if err := actor.require(ActRead); err != nil {
		return false, err
	}
	us, err := m.d.Store.ConsoleUsers(ctx, actor.AccountID)
	return len(us) == 0, err
}

// IssueSignInLink makes a one-time sign-in link for the console user with
// the email (a forgotten password, a new colleague without one), or, with
// an empty email, for an account without console users, the link that
// creates its first owner. The operator (the command line: dirsync serve,
// dirsync demo, dirsync admin link) and owners may.
func (m *Manager) IssueSignInLink(ctx context.Context, actor Actor, email string) (SignInLink, error) {
	if err := actor.require(ActManageConsole); err != nil {
		return SignInLink{}, err
	}
	tok, err := randomToken(linkTokenPrefix)
	if err != nil {
		return SignInLink{}, err
	}
	now := m.now()
	l := store.SignInLink{Hash: hashToken(tok), AccountID: actor.AccountID, CreatedAt: now}
	out := SignInLink{Token: tok}
	err = m.d.Store.Update(ctx, func(tx store.Tx) error {
		if strings.TrimSpace(email) == "" {
			us, err := tx.ConsoleUsers(ctx, actor.AccountID)
			if err != nil {
				return err
			}
			if len(us) > 0 {
				return invalid("email", "account %s has console users already: name the user the link signs in", actor.AccountName)
			}
			out.Setup, l.ExpiresAt = true, now.Add(SetupLinkTTL)
			return tx.CreateSignInLink(ctx, l)
		}
		u, err := m.findConsoleUser(ctx, tx, actor, email)
		if err != nil {
			return err
		}
		out.Email, l.UserID, l.ExpiresAt = u.Email, u.ID, now.Add(UserLinkTTL)
		return tx.CreateSignInLink(ctx, l)
	})
	out.ExpiresAt = l.ExpiresAt
	return out, err
}

// LinkInfo is what a sign-in link is for, shown before it is used.
type LinkInfo struct {
	Setup       bool
	Email       string
	AccountName string
	ExpiresAt   time.Time
}

// linkOf finds a link that can still be used.
func (m *Manager) linkOf(ctx context.Context, rd store.Reader, token string) (store.SignInLink, error) {
	l, err := rd.SignInLink(ctx, hashToken(strings.TrimSpace(token)))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return l, newError(Unauthenticated, "this sign-in link is not valid: ask an owner for a new one (dirsync admin link EMAIL)")
	case err != nil:
		return l, err
	case !l.UsedAt.IsZero():
		return l, newError(Unauthenticated, "this sign-in link was used already: a link signs in once; ask an owner for a new one (dirsync admin link EMAIL)")
	case !m.now().Before(l.ExpiresAt):
		return l, newError(Unauthenticated, "this sign-in link has expired: ask an owner for a new one (dirsync admin link EMAIL)")
	}
	return l, nil
}

// PeekSignInLink says what a link is for, without using it: a page shown
// on GET must not spend the link (mail scanners and link previews open
// links too).
func (m *Manager) PeekSignInLink(ctx context.Context, token string) (LinkInfo, error) {
	l, err := m.linkOf(ctx, m.d.Store, token)
	if err != nil {
		return LinkInfo{}, err
	}
	acc, err := m.d.Store.Account(ctx, l.AccountID)
	if err != nil {
		return LinkInfo{}, err
	}
	info := LinkInfo{Setup: l.UserID == "", AccountName: acc.Name, ExpiresAt: l.ExpiresAt}
	if l.UserID != "" {
		u, err := m.d.Store.ConsoleUser(ctx, l.AccountID, l.UserID)
		if err != nil {
			return LinkInfo{}, newError(Unauthenticated, "this sign-in link's user no longer exists")
		}
		info.Email = u.Email
	}
	return info, nil
}

// NewSession is a session as created: its token goes into the browser's
// cookie and is never shown again.
type NewSession struct {
	Token   string
	Session store.ConsoleSession
	Actor   Actor
}

// Setup is the first owner's email and password, given with a setup link.
type Setup struct {
	Email    string
	Password []byte
}

// RedeemSignInLink uses a one-time link and signs its user in. A setup
// link needs setup: it creates the account's first owner with it (only
// while the account has no console user).
func (m *Manager) RedeemSignInLink(ctx context.Context, token string, setup *Setup, client string) (NewSession, error) {
	var ns NewSession
	var u store.ConsoleUser
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		l, err := m.linkOf(ctx, tx, token)
		if err != nil {
			return err
		}
		if l.UserID == "" {
			if setup == nil {
				return invalid("email", "this link creates the first owner: give an email address and a password")
			}
			us, err := tx.ConsoleUsers(ctx, l.AccountID)
			if err != nil {
				return err
			}
			if len(us) > 0 {
				return newError(Unauthenticated, "this account has console users already: sign in with your email and password")
			}
			email, err := checkEmail(setup.Email)
			if err != nil {
				return err
			}
			if err := checkPassword(setup.Password, email); err != nil {
				return err
			}
			u = store.ConsoleUser{AccountID: l.AccountID, Email: email, Role: string(RoleOwner), PasswordChangedAt: m.now()}
			if u.PasswordHash, err = hashPassword(setup.Password); err != nil {
				return err
			}
			if err := tx.CreateConsoleUser(ctx, &u); err != nil {
				if errors.Is(err, store.ErrAlreadyExists) {
					return &Error{Kind: Conflict, Code: CodeAlreadyExists, Field: "email", Message: email + " already has a console user (an address signs in to one account)", Err: err}
				}
				return err
			}
		} else if u, err = tx.ConsoleUser(ctx, l.AccountID, l.UserID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return newError(Unauthenticated, "this sign-in link's user no longer exists")
			}
			return err
		}
		used, err := tx.UseSignInLink(ctx, l.Hash, m.now())
		if err != nil {
			return err
		}
		if !used {
			return newError(Unauthenticated, "this sign-in link was used already: a link signs in once")
		}
		ns, err = m.startSession(ctx, tx, u, client)
		return err
	})
	return ns, err
}

// startSession records a new session of u and its sign-in.
func (m *Manager) startSession(ctx context.Context, tx store.Tx, u store.ConsoleUser, client string) (NewSession, error) {
	tok, err := randomToken(sessionTokenPrefix)
	if err != nil {
		return NewSession{}, err
	}
	now := m.now()
	if len(client) > 200 {
		client = client[:200]
	}
	s := store.ConsoleSession{Hash: hashToken(tok), UserID: u.ID, AccountID: u.AccountID, Client: client,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(SessionMax)}
	if err := tx.CreateConsoleSession(ctx, &s); err != nil {
		return NewSession{}, err
	}
	u.LastSignInAt = now
	if err := tx.UpdateConsoleUser(ctx, u); err != nil {
		return NewSession{}, err
	}
	acc, err := tx.Account(ctx, u.AccountID)
	if err != nil {
		return NewSession{}, err
	}
	return NewSession{Token: tok, Session: s, Actor: consoleActor(acc.ID, acc.Name, u, s.ID)}, nil
}

func consoleActor(accountID, accountName string, u store.ConsoleUser, sessionID string) Actor {
	return Actor{AccountID: accountID, AccountName: accountName, Role: Role(u.Role), Via: ViaConsole, Name: u.Email,
		UserID: u.ID, SessionID: sessionID}
}

// SignIn checks an email and password and starts a session. Wrong
// credentials say only that they are wrong (not which); the maxFailures-th
// failure within failureWindow locks the address out for lockout, known or
// not, and already answers with the lockout's message, which says until
// when. Locks are kept in the
// store, so every replica honours them.
func (m *Manager) SignIn(ctx context.Context, email string, password []byte, client string) (NewSession, error) {
	email = strings.TrimSpace(email)
	if email == "" || len(password) == 0 {
		return NewSession{}, invalid("email", "give your email address and your password")
	}
	if len(password) > maxPasswordLength {
		password = password[:maxPasswordLength] // no hash is that long: this fails, but not slowly
	}
	k := strings.ToLower(email)
	now := m.now()
	att, err := m.d.Store.SignInAttempts(ctx, k)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return NewSession{}, err
	}
	if now.Before(att.LockedUntil) {
		return NewSession{}, lockedOut(att.LockedUntil.Sub(now))
	}
	u, err := m.d.Store.ConsoleUserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return NewSession{}, err
	}
	hash := u.PasswordHash
	if hash == "" {
		hash = dummyHash
	}
	ok, herr := argon2id.ComparePasswordAndHash(string(password), hash)
	ok = ok && herr == nil && u.PasswordHash != ""
	var (
		ns     NewSession
		locked bool // this failure locked the address
	)
	err = m.d.Store.Update(ctx, func(tx store.Tx) error {
		att, err := tx.SignInAttempts(ctx, k)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if ok {
			if att.Failures > 0 {
				if err := tx.SetSignInAttempts(ctx, store.SignInAttempts{EmailKey: k, WindowStart: now}); err != nil {
					return err
				}
			}
			ns, err = m.startSession(ctx, tx, u, client)
			return err
		}
		if att.EmailKey == "" || now.Sub(att.WindowStart) > failureWindow {
			att = store.SignInAttempts{EmailKey: k, WindowStart: now}
		}
		att.Failures++
		if locked = att.Failures >= maxFailures; locked {
			att.LockedUntil = now.Add(lockout)
		}
		return tx.SetSignInAttempts(ctx, att)
	})
	if err != nil {
		return NewSession{}, err
	}
	if !ok {
		m.d.Logger.Info("console sign-in failed", "email", email, "locked", locked)
		if locked {
			// The failure that locks says so: the next try is refused anyway.
			return NewSession{}, lockedOut(lockout)
		}
		return NewSession{}, &Error{Kind: Unauthenticated, Code: "wrong_credentials", Field: "password",
			Message: fmt.Sprintf("the email address or the password is wrong (after %d failed tries the address is locked for %d minutes)", maxFailures, int(lockout.Minutes()))}
	}
	return ns, nil
}

func lockedOut(left time.Duration) *Error {
	mins := int((left + time.Minute - 1) / time.Minute)
	unit := "minutes"
	if mins == 1 {
		unit = "minute"
	}
	return &Error{Kind: Unauthenticated, Code: CodeLockedOut, Field: "email",
		Message: fmt.Sprintf("too many failed sign-ins for this address: it is locked for %d more %s; try again then, or ask an owner for a one-time sign-in link", mins, unit)}
}

// ConsoleSession returns the actor of a session token (the console's
// cookie): refused when unknown, revoked, idle for SessionIdle or older
// than SessionMax, or when its user is gone. Its role is the user's role
// now, so a change applies at once.
func (m *Manager) ConsoleSession(ctx context.Context, token string) (Actor, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return Actor{}, newError(Unauthenticated, "sign in to continue")
	}
	s, err := m.d.Store.ConsoleSessionByHash(ctx, hashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, newError(Unauthenticated, "your session is not valid: sign in again")
	}
	if err != nil {
		return Actor{}, err
	}
	now := m.now()
	switch {
	case !s.RevokedAt.IsZero():
		return Actor{}, newError(Unauthenticated, "you were signed out: sign in again")
	case !now.Before(s.ExpiresAt) || now.Sub(s.LastSeenAt) >= SessionIdle:
		return Actor{}, newError(Unauthenticated, "your session has expired: sign in again")
	}
	u, err := m.d.Store.ConsoleUser(ctx, s.AccountID, s.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, newError(Unauthenticated, "your console user no longer exists")
	}
	if err != nil {
		return Actor{}, err
	}
	acc, err := m.d.Store.Account(ctx, s.AccountID)
	if err != nil {
		return Actor{}, err
	}
	if now.Sub(s.LastSeenAt) >= sessionTouch {
		if err := m.d.Store.Update(ctx, func(tx store.Tx) error { return tx.TouchConsoleSession(ctx, s.ID, now) }); err != nil {
			m.d.Logger.Warn("console session: record activity", "err", err)
		}
	}
	return consoleActor(acc.ID, acc.Name, u, s.ID), nil
}

// SignOut ends the session of the token; an unknown token is fine.
func (m *Manager) SignOut(ctx context.Context, token string) error {
	s, err := m.d.Store.ConsoleSessionByHash(ctx, hashToken(strings.TrimSpace(token)))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return m.d.Store.Update(ctx, func(tx store.Tx) error { return tx.RevokeConsoleSessions(ctx, s.UserID, s.ID, m.now()) })
}

// SignOutEverywhere ends every session of the actor's console user, its
// own included.
func (m *Manager) SignOutEverywhere(ctx context.Context, actor Actor) error {
	if actor.UserID == "" {
		return newError(Forbidden, "only a console user has sessions")
	}
	return m.d.Store.Update(ctx, func(tx store.Tx) error { return tx.RevokeConsoleSessions(ctx, actor.UserID, "", m.now()) })
}

// ConsoleSessions lists the actor's own sessions that are still valid.
func (m *Manager) ConsoleSessions(ctx context.Context, actor Actor) ([]store.ConsoleSession, error) {
	if actor.UserID == "" {
		return nil, newError(Forbidden, "only a console user has sessions")
	}
	ss, err := m.d.Store.ConsoleSessions(ctx, actor.UserID)
	if err != nil {
		return nil, err
	}
	now := m.now()
	out := ss[:0]
	for _, s := range ss {
		if s.RevokedAt.IsZero() && now.Before(s.ExpiresAt) && now.Sub(s.LastSeenAt) < SessionIdle {
			s.Hash = ""
			out = append(out, s)
		}
	}
	return out, nil
}
