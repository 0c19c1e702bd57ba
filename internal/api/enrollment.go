package api

import (
	"net/http"
	"strings"

	"github.com/dirsync/dirsync/internal/manage"
)

// The enrollment cycle and the mail log (issue 15): the pending list, the
// template, the application's confirmation and token check, resend, and
// every mail with its outcome. Every rule is manage's (enrollment.go,
// notify.go).

// enrollmentRoutes are the routes of this file, for Routes.
func (s *Server) enrollmentRoutes(r func(method, pattern string, act manage.Action, h handlerFunc) Route) []Route {
	return []Route{
		r("GET", "/enrollments", manage.ActRead, s.listEnrollments).paged("status"),
		r("GET", "/enrollments/settings", manage.ActRead, s.getEnrollmentSettings),
		r("PATCH", "/enrollments/settings", manage.ActManageMail, s.updateEnrollmentSettings),
		r("POST", "/enrollments/verify", manage.ActEnroll, s.verifyEnrollment),
		r("GET", "/users/{id}/enrollment", manage.ActRead, s.getUserEnrollment),
		r("POST", "/users/{id}/enrollment", manage.ActEnroll, s.confirmEnrollment),
		r("POST", "/users/{id}/enrollment/resend", manage.ActEnroll, s.resendEnrollment),
		r("GET", "/mail", manage.ActRead, s.listMail).paged("kind", "state", "user"),
		r("POST", "/mail/test", manage.ActManageMail, s.testMail),
	}
}

func (s *Server) listEnrollments(w http.ResponseWriter, r *request) error {
	after, err := cursorParam(r, "after")
	if err != nil {
		return err
	}
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	var statuses []string
	for _, v := range r.URL.Query()["status"] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				statuses = append(statuses, p)
			}
		}
	}
	page, err := s.Manager.Enrollments(r.Context(), r.actor, manage.EnrollmentQuery{Statuses: statuses, After: after, Limit: limit})
	if err != nil {
		return err
	}
	return writePage(w, r, "enrollments", page.Items, page.Next, nil)
}

func (s *Server) getEnrollmentSettings(w http.ResponseWriter, r *request) error {
	es, err := s.Manager.EnrollmentSettings(r.Context(), r.actor)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, es)
}

func (s *Server) updateEnrollmentSettings(w http.ResponseWriter, r *request) error {
	var body struct {
		Subject   *string   `json:"subject"`
		Text      *string   `json:"text"`
		HTML      *string   `json:"html"`
		Link      *string   `json:"link"`
		Validity  *string   `json:"validity"`
		Reminders *[]string `json:"reminders"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	es, err := s.Manager.SetEnrollmentSettings(r.Context(), r.actor, manage.EnrollmentInput{Subject: body.Subject, Text: body.Text,
		HTML: body.HTML, Link: body.Link, Validity: body.Validity, Reminders: body.Reminders})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, es)
}

// tokenBody is the body that carries an enrollment link's token.
type tokenBody struct {
	Token string `json:"token"`
}

func (s *Server) verifyEnrollment(w http.ResponseWriter, r *request) error {
	var body tokenBody
	if err := decode(r, &body); err != nil {
		return err
	}
	e, err := s.Manager.VerifyEnrollmentToken(r.Context(), r.actor, body.Token)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}

func (s *Server) getUserEnrollment(w http.ResponseWriter, r *request) error {
	e, err := s.Manager.UserEnrollment(r.Context(), r.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}

// confirmEnrollment takes the link's token in the body, or no body (or
// {}) to confirm by the user's id alone.
func (s *Server) confirmEnrollment(w http.ResponseWriter, r *request) error {
	var body tokenBody
	if r.ContentLength != 0 {
		if err := decode(r, &body); err != nil {
			return err
		}
	}
	e, err := s.Manager.ConfirmEnrollment(r.Context(), r.actor, r.PathValue("id"), body.Token)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}

func (s *Server) resendEnrollment(w http.ResponseWriter, r *request) error {
	e, err := s.Manager.ResendEnrollment(r.Context(), r.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, e)
}

func (s *Server) listMail(w http.ResponseWriter, r *request) error {
	after, err := cursorParam(r, "after")
	if err != nil {
		return err
	}
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := s.Manager.Mails(r.Context(), r.actor, manage.MailQuery{Kind: q.Get("kind"), State: q.Get("state"),
		User: q.Get("user"), After: after, Limit: limit})
	if err != nil {
		return err
	}
	return writePage(w, r, "mails", page.Items, page.Next, nil)
}

func (s *Server) testMail(w http.ResponseWriter, r *request) error {
	var body struct {
		To string `json:"to"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	m, err := s.Manager.SendTestMail(r.Context(), r.actor, body.To)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, m)
}
