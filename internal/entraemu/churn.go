package entraemu

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
)

// churnPath is the emulator's own endpoint (not Graph's) that changes a share
// of the tenant at once, for benchmarks of incremental syncs against an
// emulator in another process. It takes the client secret of the app in the
// credentials file as its bearer, so only who holds that file can call it.
const churnPath = "/_emulator/churn"

// statsPath is the emulator's own endpoint that reports its request
// counters (Stats), for a benchmark in another process to count the pages
// a sync read. It takes the same bearer as churnPath.
const statsPath = "/_emulator/stats"

// Churn is what a call to Churn changed.
type Churn struct {
	UsersChanged   int `json:"users_changed"`
	MembersAdded   int `json:"members_added"`
	MembersRemoved int `json:"members_removed"`
}

// Churn changes userPercent of the users (a new department and job title)
// and adds and removes memberPercent of the direct user memberships, as a
// busy hour of an organization would. It is deterministic for a seed.
func (t *Tenant) Churn(seed uint64, userPercent, memberPercent float64) (Churn, error) {
	rng := rand.New(rand.NewPCG(seed, 1))
	users, groups := t.Users(), t.Groups()
	var c Churn
	if len(users) == 0 || len(groups) == 0 {
		return c, nil
	}
	nUsers := int(float64(len(users)) * userPercent / 100)
	for _, i := range rng.Perm(len(users))[:nUsers] {
		if _, err := t.UpdateUser(users[i].ID, func(u *User) {
			u.Department = fmt.Sprintf("Churn %d", rng.IntN(50))
			u.JobTitle = "Reorganized"
		}); err != nil {
			return c, err
		}
		c.UsersChanged++
	}
	total := 0
	for _, g := range groups {
		total += len(t.DirectMembers(g.ID))
	}
	nMembers := int(float64(total) * memberPercent / 100)
	for c.MembersAdded+c.MembersRemoved < nMembers {
		g := groups[rng.IntN(len(groups))]
		if rng.IntN(2) == 0 {
			ms := t.DirectMembers(g.ID)
			if len(ms) == 0 {
				continue
			}
			if t.RemoveMember(g.ID, ms[rng.IntN(len(ms))].ID) == nil {
				c.MembersRemoved++
			}
			continue
		}
		if t.AddMember(g.ID, users[rng.IntN(len(users))].ID) == nil {
			c.MembersAdded++
		}
	}
	return c, nil
}

// ownBearer reports whether r carries the default app's client secret as
// its bearer, the key to the emulator's own endpoints, and answers 401 when
// it does not (or the method is not method).
func (s *Server) ownBearer(w http.ResponseWriter, r *http.Request, method string) bool {
	secret := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if r.Method != method || subtle.ConstantTimeCompare([]byte(secret), []byte(s.t.DefaultApp().Secret)) != 1 {
		http.Error(w, method+" with the client secret of the credentials file as bearer", http.StatusUnauthorized)
		return false
	}
	return true
}

// serveStats answers the request counters as JSON.
func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	if !s.ownBearer(w, r, http.MethodGet) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s.t.Stats())
}

func (s *Server) serveChurn(w http.ResponseWriter, r *http.Request) {
	if !s.ownBearer(w, r, http.MethodPost) {
		return
	}
	var req struct {
		Seed          uint64  `json:"seed"`
		UserPercent   float64 `json:"user_percent"`
		MemberPercent float64 `json:"member_percent"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c, err := s.t.Churn(req.Seed, req.UserPercent, req.MemberPercent)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(c)
}
