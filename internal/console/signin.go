package console

import (
	"net/http"

	"github.com/dirsync/dirsync/internal/manage"
)

// signInForm is the sign-in page's data.
type signInForm struct {
	Email string
	Next  string
	Error string
	// Locked says the address is locked out: the page says until when
	// and offers no form field to try again with.
	Locked bool
}

func (s *Server) signInPage(w http.ResponseWriter, r *request) error {
	next := localNext(r.URL.Query().Get("next"))
	if r.actor.UserID != "" {
		return redirect(w, r, next)
	}
	return s.render(w, r, http.StatusOK, "signin", &view{Title: "Sign in", Data: signInForm{Next: next}})
}

func (s *Server) signIn(w http.ResponseWriter, r *request) error {
	email, next := r.PostFormValue("email"), localNext(r.PostFormValue("next"))
	ns, err := s.Manager.SignIn(r.Context(), email, []byte(r.PostFormValue("password")), r.UserAgent())
	if err != nil {
		me := manage.AsError(err)
		if me == nil {
			return err
		}
		status := kindStatus[me.Kind]
		if me.Code == manage.CodeLockedOut {
			status = http.StatusTooManyRequests
		}
		return s.render(w, r, status, "signin", &view{Title: "Sign in",
			Data: signInForm{Email: email, Next: next, Error: me.Message, Locked: me.Code == manage.CodeLockedOut}})
	}
	setSessionCookie(w, ns.Token, ns.Session.ExpiresAt, s.secure(r.Request))
	return redirect(w, r, next)
}

// linkForm is the one-time link page's data.
type linkForm struct {
	Token string
	Info  manage.LinkInfo
	Email string
	Error string
	// Dead says the link cannot be used (unknown, used, expired).
	Dead bool
}

// linkPage says what a one-time link is for without using it: link
// scanners and previews open links too.
func (s *Server) linkPage(w http.ResponseWriter, r *request) error {
	tok := r.PathValue("token")
	info, err := s.Manager.PeekSignInLink(r.Context(), tok)
	if err != nil {
		me := manage.AsError(err)
		if me == nil {
			return err
		}
		return s.render(w, r, kindStatus[me.Kind], "link", &view{Title: "Sign-in link", Data: linkForm{Dead: true, Error: me.Message}})
	}
	return s.render(w, r, http.StatusOK, "link", &view{Title: "Sign-in link", Data: linkForm{Token: tok, Info: info}})
}

// redeemLink uses the link: the first owner's email and password for a
// setup link, a press of the button for a user's link.
func (s *Server) redeemLink(w http.ResponseWriter, r *request) error {
	tok := r.PathValue("token")
	info, err := s.Manager.PeekSignInLink(r.Context(), tok)
	var setup *manage.Setup
	if err == nil && info.Setup {
		setup = &manage.Setup{Email: r.PostFormValue("email"), Password: []byte(r.PostFormValue("password"))}
		if r.PostFormValue("password") != r.PostFormValue("confirm") {
			return s.render(w, r, http.StatusBadRequest, "link", &view{Title: "Sign-in link",
				Data: linkForm{Token: tok, Info: info, Email: setup.Email, Error: "The two passwords differ: type the same password twice."}})
		}
	}
	if err == nil {
		var ns manage.NewSession
		if ns, err = s.Manager.RedeemSignInLink(r.Context(), tok, setup, r.UserAgent()); err == nil {
			setSessionCookie(w, ns.Token, ns.Session.ExpiresAt, s.secure(r.Request))
			if info.Setup {
				return redirect(w, r, "/?done=welcome")
			}
			return redirect(w, r, "/account?done=link")
		}
	}
	me := manage.AsError(err)
	if me == nil {
		return err
	}
	f := linkForm{Token: tok, Info: info, Error: me.Message, Dead: me.Kind == manage.Unauthenticated}
	if setup != nil {
		f.Email = setup.Email
	}
	return s.render(w, r, kindStatus[me.Kind], "link", &view{Title: "Sign-in link", Data: f})
}

// signOut ends this browser's session.
func (s *Server) signOut(w http.ResponseWriter, r *request) error {
	if r.actor.UserID != "" && !validCSRF(r.Request, r.csrf) {
		return &Error{Status: http.StatusForbidden, Message: "This sign-out did not come from this console's page; you are still signed in."}
	}
	if err := s.Manager.SignOut(r.Context(), sessionToken(r.Request)); err != nil {
		return err
	}
	clearSessionCookie(w, s.secure(r.Request))
	return redirect(w, r, "/signin?done=signedout")
}

// signOutEverywhere ends every session of the user, this one included.
func (s *Server) signOutEverywhere(w http.ResponseWriter, r *request) error {
	if err := s.Manager.SignOutEverywhere(r.Context(), r.actor); err != nil {
		return err
	}
	clearSessionCookie(w, s.secure(r.Request))
	return redirect(w, r, "/signin?done=everywhere")
}

// accountPage is the signed-in user's own page: password and sessions.
func (s *Server) accountPage(w http.ResponseWriter, r *request) error {
	sessions, err := s.Manager.ConsoleSessions(r.Context(), r.actor)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "account", &view{Title: "Your account", Nav: "account", Data: accountData{Sessions: sessions, Current: r.actor.SessionID}})
}

type accountData struct {
	Sessions any
	Current  string
	Error    string
}

func (s *Server) changePassword(w http.ResponseWriter, r *request) error {
	next := r.PostFormValue("new_password")
	err := error(nil)
	if next != r.PostFormValue("confirm") {
		err = &Error{Status: http.StatusBadRequest, Message: "The two new passwords differ: type the same password twice."}
	} else {
		err = s.Manager.ChangePassword(r.Context(), r.actor, []byte(r.PostFormValue("current_password")), []byte(next))
	}
	if err == nil {
		return redirect(w, r, "/account?done=password")
	}
	msg, status := "", 0
	if me := manage.AsError(err); me != nil {
		msg, status = me.Message, kindStatus[me.Kind]
	} else if ce, ok := err.(*Error); ok {
		msg, status = ce.Message, ce.Status
	} else {
		return err
	}
	sessions, serr := s.Manager.ConsoleSessions(r.Context(), r.actor)
	if serr != nil {
		return serr
	}
	return s.render(w, r, status, "account", &view{Title: "Your account", Nav: "account",
		Data: accountData{Sessions: sessions, Current: r.actor.SessionID, Error: msg}})
}
