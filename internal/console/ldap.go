package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/connector/ldap"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// ldapForm is the Active Directory / LDAP wizard's fields (never the bind
// password, which is not shown again).
type ldapForm struct {
	Name, Description, URLs, BaseDN, BindDN string
	StartTLS, InsecureSkipVerify            bool
	// What the CLI's source add ldap takes too: the directory's flavor
	// (empty: detected), extra filters, UPN suffix rewrites (FROM=TO a
	// line).
	Flavor, UserFilter, GroupFilter, UPNSuffixMap string
	Error                                         string
}

// addLDAPSource adds an Active Directory or LDAP source from the wizard and
// opens its page with a connection test; its OUs are chosen next.
func (s *Server) addLDAPSource(w http.ResponseWriter, r *request) error {
	if err := r.ParseMultipartForm(maxUpload); err != nil && err != http.ErrNotMultipart {
		return badForm("the form could not be read: %v", err)
	}
	f := ldapForm{Name: strings.TrimSpace(r.FormValue("name")), Description: r.FormValue("description"),
		URLs: r.FormValue("urls"), BaseDN: strings.TrimSpace(r.FormValue("base_dn")), BindDN: strings.TrimSpace(r.FormValue("bind_dn")),
		StartTLS: r.FormValue("start_tls") == "on", InsecureSkipVerify: r.FormValue("insecure_skip_tls_verify") == "on",
		Flavor: r.FormValue("flavor"), UserFilter: strings.TrimSpace(r.FormValue("user_filter")),
		GroupFilter: strings.TrimSpace(r.FormValue("group_filter")), UPNSuffixMap: r.FormValue("upn_suffix_map")}
	caPEM, err := uploaded(r, "ldap_ca_file")
	if err != nil {
		return err
	}
	cfg := ldap.Config{BaseDN: f.BaseDN, BindDN: f.BindDN, StartTLS: f.StartTLS, CAPEM: caPEM, InsecureSkipVerify: f.InsecureSkipVerify,
		Flavor: f.Flavor, UserFilter: f.UserFilter, GroupFilter: f.GroupFilter}
	cfg.URLs = append(cfg.URLs, strings.Fields(f.URLs)...)
	cfg.UPNSuffixMap, err = manage.ParseUPNSuffixMap(strings.Split(f.UPNSuffixMap, "\n"))
	if err == nil {
		raw, _ := json.Marshal(cfg)
		var secret []byte
		if v := r.FormValue("bind_password"); v != "" {
			secret = []byte(v)
		}
		_, err = s.Manager.AddSource(r.Context(), r.actor, manage.SourceInput{Name: &f.Name, Description: &f.Description,
			Kind: directory.KindLDAP, Config: raw, Secret: secret})
	}
	if msg, status, ok := formError(err); ok {
		f.Error = msg
		return s.render(w, r, status, "source_new", &view{Title: "Add a source", Nav: "overview", Data: sourceNewData{Entra: entraForm{Cloud: "global"}, LDAP: f, Clouds: clouds}})
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/sources/"+url.PathEscape(f.Name)+"?test=1&done=added")
}

// ouData is one level of a source's OU tree with what is included and
// excluded (Azure AD Connect's domain and OU filtering).
type ouData struct {
	Source             manage.SourceView
	Level              manage.Containers
	Parent             string
	Include, Exclude   []string
	Error, BrowseError string
}

// Included and Excluded report whether an OU is chosen.
func (d *ouData) Included(dn string) bool { return slices.Contains(d.Include, dn) }
func (d *ouData) Excluded(dn string) bool { return slices.Contains(d.Exclude, dn) }

// Elsewhere are the chosen OUs this level does not show.
func (d *ouData) Elsewhere(list []string) []string {
	var out []string
	for _, dn := range list {
		if !slices.ContainsFunc(d.Level.Items, func(c manage.Container) bool { return strings.EqualFold(c.DN, dn) }) {
			out = append(out, dn)
		}
	}
	return out
}

func (s *Server) ouPage(w http.ResponseWriter, r *request) error {
	return s.renderOUs(w, r, http.StatusOK, "")
}

func (s *Server) renderOUs(w http.ResponseWriter, r *request, status int, formErr string) error {
	v, err := s.Manager.Source(r.Context(), r.actor, r.PathValue("source"))
	if err != nil {
		return err
	}
	var cfg ldap.Config
	if err := json.Unmarshal(v.Config, &cfg); err != nil {
		return err
	}
	dn := r.URL.Query().Get("dn")
	d := &ouData{Source: v, Include: cfg.IncludeOUs, Exclude: cfg.ExcludeOUs, Error: formErr}
	d.Level, err = s.Manager.BrowseContainers(r.Context(), r.actor, v.ID, dn)
	if msg, _, ok := formError(err); ok {
		d.BrowseError = msg
	} else if err != nil {
		return err
	}
	if dn != "" && !strings.EqualFold(dn, cfg.BaseDN) {
		if _, parent, ok := strings.Cut(dn, ","); ok {
			d.Parent = parent
		}
	}
	if d.Level.DN == "" {
		d.Level.DN = cfg.BaseDN
	}
	return s.render(w, r, status, "ous", &view{Title: "OUs of " + v.Name, Nav: "overview", Data: d})
}

// setOUs saves the OU filter: what this level's checkboxes say, and what
// was chosen on other levels (posted as kept).
func (s *Server) setOUs(w http.ResponseWriter, r *request) error {
	v, err := s.Manager.Source(r.Context(), r.actor, r.PathValue("source"))
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(v.Config, &cfg); err != nil {
		return err
	}
	f := r.PostForm
	include := append(slices.Clone(f["keep_include"]), f["include"]...)
	exclude := append(slices.Clone(f["keep_exclude"]), f["exclude"]...)
	for _, dn := range include {
		if slices.Contains(exclude, dn) {
			return s.renderOUs(w, r, http.StatusBadRequest, "An OU cannot be both included and excluded: "+dn)
		}
	}
	cfg["include_ous"], cfg["exclude_ous"] = include, exclude
	raw, _ := json.Marshal(cfg)
	if _, err := s.Manager.UpdateSource(r.Context(), r.actor, v.ID, manage.SourceInput{Config: raw}); err != nil {
		if msg, status, ok := formError(err); ok {
			return s.renderOUs(w, r, status, msg)
		}
		return err
	}
	return redirect(w, r, "/sources/"+url.PathEscape(v.Name)+"/ous?"+url.Values{"dn": {f.Get("dn")}, "done": {"ous"}}.Encode())
}
