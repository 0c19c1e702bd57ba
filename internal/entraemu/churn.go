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

func (s *Server) serveChurn(w http.ResponseWriter, r *http.Request) {
	secret := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if r.Method != http.MethodPost || subtle.ConstantTimeCompare([]byte(secret), []byte(s.t.DefaultApp().Secret)) != 1 {
		http.Error(w, "POST with the client secret of the credentials file as bearer", http.StatusUnauthorized)
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
