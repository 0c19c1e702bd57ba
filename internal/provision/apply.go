package provision

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/graph"
	"github.com/dirsync/dirsync/internal/store"
)

// Graph's write budget for one app in one tenant, as Microsoft documents
// it for directory writes: 3,000 requests per 150 seconds, each request
// of a $batch counted.
const (
	WriteBudget       = 3000
	WriteBudgetWindow = 150 * time.Second
)

// budget paces writes to stay within Graph's write budget, on the clock,
// so that a large export waits instead of being throttled; Retry-After
// still governs when Graph throttles anyway.
type budget struct {
	clk   clock.Clock
	limit int
	win   time.Duration
	sent  []time.Time // one per write, oldest first, within the window
}

func (b *budget) take(ctx context.Context, n int) error {
	for {
		now := b.clk.Now()
		for len(b.sent) > 0 && !b.sent[0].After(now.Add(-b.win)) {
			b.sent = b.sent[1:]
		}
		if len(b.sent)+n <= b.limit || len(b.sent) == 0 {
			for range n {
				b.sent = append(b.sent, now)
			}
			return nil
		}
		wait := b.sent[len(b.sent)+n-b.limit-1].Add(b.win).Sub(now)
		if err := clock.Sleep(ctx, b.clk, wait); err != nil {
			return err
		}
	}
}

// applier writes a plan's steps, batched, and records their outcomes.
type applier struct {
	t      *Tenant
	st     store.Store
	target string
	budget *budget
	// ids are the cloud ids of anchors, known or learned from creates.
	ids map[string]map[string]string
	// progress is told how many steps are done, of how many.
	progress func(done, total int)
	done     int
	total    int
}

// apply runs the plan's steps: users created and updated first, then
// groups, then members (which need both), then group and user deletions.
// Each step's outcome is set on it; one step's failure never stops the
// others. A failure of the whole request (the tenant unreachable past the
// retry budget, the credentials refused) stops the cycle with its error.
func (a *applier) apply(ctx context.Context, p *Plan) error {
	for _, phase := range [][]string{{OpCreateUser, OpUpdateUser}, {OpCreateGroup, OpUpdateGroup}, {OpAddMember}, {OpRemoveMember}, {OpDeleteGroup}, {OpDeleteUser}} {
		var idx []int
		for i, s := range p.Steps {
			if s.Op == phase[0] || (len(phase) > 1 && s.Op == phase[1]) {
				idx = append(idx, i)
			}
		}
		if phase[0] == OpAddMember {
			var err error
			if idx, err = a.bindMembers(ctx, p, idx); err != nil {
				return err
			}
		}
		for start := 0; start < len(idx); start += graph.MaxBatch {
			chunk := idx[start:min(start+graph.MaxBatch, len(idx))]
			if err := a.batch(ctx, p, chunk); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxBind is how many members one PATCH of a group may add
// (members@odata.bind).
const maxBind = 20

// bindMembers adds members the way Graph adds many at once: a PATCH of the
// group with up to 20 members@odata.bind, 20 such requests per $batch, so
// that a group of 1,000 members costs 50 writes, not 1,000. A PATCH Graph
// refuses adds none of its members (one already there refuses all): those
// steps are returned, to be sent one by one, each with its own outcome.
func (a *applier) bindMembers(ctx context.Context, p *Plan, idx []int) ([]int, error) {
	var chunks [][]int
	var singles []int
	byGroup := map[string][]int{}
	var order []string
	for _, i := range idx {
		s := &p.Steps[i]
		group := s.CloudID
		if group == "" {
			group = a.ids[kindGroup][s.groupOf]
		}
		member := s.MemberID
		if member == "" {
			member = a.ids[s.MemberKind][s.MemberAnchor]
		}
		if group == "" || member == "" {
			singles = append(singles, i) // fails with its reason in batch
			continue
		}
		s.CloudID, s.MemberID = group, member
		if byGroup[group] == nil {
			order = append(order, group)
		}
		byGroup[group] = append(byGroup[group], i)
	}
	for _, g := range order {
		for start := 0; start < len(byGroup[g]); start += maxBind {
			chunks = append(chunks, byGroup[g][start:min(start+maxBind, len(byGroup[g]))])
		}
	}
	for start := 0; start < len(chunks); start += graph.MaxBatch {
		batch := chunks[start:min(start+graph.MaxBatch, len(chunks))]
		var reqs []graph.BatchRequest
		for k, chunk := range batch {
			var refs []string
			for _, i := range chunk {
				refs = append(refs, a.t.client.BaseURL()+"/directoryObjects/"+p.Steps[i].MemberID)
			}
			body, _ := json.Marshal(map[string]any{"members@odata.bind": refs})
			reqs = append(reqs, graph.BatchRequest{ID: fmt.Sprint(k + 1), Method: http.MethodPatch, URL: "/groups/" + p.Steps[chunk[0]].CloudID,
				Headers: map[string]string{"Content-Type": "application/json"}, Body: body})
		}
		if err := a.budget.take(ctx, len(reqs)); err != nil {
			return nil, err
		}
		answers, err := a.t.client.BatchWrites(ctx, reqs)
		if err != nil {
			return nil, a.t.explain(err, "write to the tenant", PermGroups)
		}
		for k, chunk := range batch {
			if answers[k].Err() != nil {
				singles = append(singles, chunk...)
				continue
			}
			for _, i := range chunk {
				p.Steps[i].Outcome = OutcomeDone
			}
			a.done += len(chunk)
		}
		if a.progress != nil {
			a.progress(a.done, a.total)
		}
	}
	return singles, nil
}

// batch sends one $batch of steps and records what became of each.
func (a *applier) batch(ctx context.Context, p *Plan, chunk []int) error {
	var reqs []graph.BatchRequest
	var sent []int
	for _, i := range chunk {
		s := &p.Steps[i]
		req, err := a.request(s)
		if err != nil {
			s.Outcome, s.Code, s.Error = OutcomeFailed, "Unresolved", err.Error()
			continue
		}
		req.ID = fmt.Sprint(len(reqs) + 1)
		reqs = append(reqs, req)
		sent = append(sent, i)
	}
	if len(reqs) == 0 {
		return nil
	}
	if err := a.budget.take(ctx, len(reqs)); err != nil {
		return err
	}
	answers, err := a.t.client.BatchWrites(ctx, reqs)
	if err != nil {
		return a.t.explain(err, "write to the tenant", PermUsers+" and "+PermGroups)
	}
	var links []store.TargetLink
	var unlinks []store.TargetLink
	for k, i := range sent {
		s := &p.Steps[i]
		ans := answers[k]
		if aerr := ans.Err(); aerr != nil && !benign(s.Op, aerr) {
			fail(s, aerr)
			continue
		}
		s.Outcome = OutcomeDone
		switch s.Op {
		case OpCreateUser, OpCreateGroup:
			var created struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(ans.Body, &created)
			s.CloudID = strings.ToLower(created.ID)
			a.ids[s.Kind][s.Anchor] = s.CloudID
			links = append(links, store.TargetLink{Kind: s.Kind, Anchor: s.Anchor, CloudID: s.CloudID})
		case OpUpdateUser:
			if s.Match != "" {
				links = append(links, store.TargetLink{Kind: s.Kind, Anchor: s.Anchor, CloudID: s.CloudID})
			}
		case OpDeleteUser, OpDeleteGroup:
			unlinks = append(unlinks, store.TargetLink{Kind: s.Kind, Anchor: s.Anchor})
		}
	}
	a.done += len(chunk)
	if a.progress != nil {
		a.progress(a.done, a.total)
	}
	if len(links) == 0 && len(unlinks) == 0 {
		return nil
	}
	// Links are kept as soon as the tenant has the object, even when the
	// cycle is being cancelled: one that stops later never creates it twice.
	ctx = context.WithoutCancel(ctx)
	return a.st.Update(ctx, func(tx store.Tx) error {
		for _, l := range links {
			if err := tx.SetTargetLink(ctx, a.target, l); err != nil {
				return err
			}
		}
		for _, l := range unlinks {
			if err := tx.DeleteTargetLink(ctx, a.target, l.Kind, l.Anchor); err != nil {
				return err
			}
		}
		return nil
	})
}

// request turns a step into a Graph request.
func (a *applier) request(s *Step) (graph.BatchRequest, error) {
	body := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	hdr := map[string]string{"Content-Type": "application/json"}
	switch s.Op {
	case OpCreateUser:
		props := map[string]any{}
		for k, v := range s.want {
			props[k] = v
		}
		if l, ok := props["businessPhones"].([]string); ok && len(l) == 0 {
			delete(props, "businessPhones")
		}
		for k, v := range props {
			if str, ok := v.(string); ok && str == "" {
				delete(props, k) // Graph refuses empty strings on create for some properties
			}
		}
		props["passwordProfile"] = map[string]any{"password": newPassword(), "forceChangePasswordNextSignIn": true}
		return graph.BatchRequest{Method: http.MethodPost, URL: "/users", Headers: hdr, Body: body(props)}, nil
	case OpUpdateUser:
		props := map[string]any{}
		for k, v := range s.want {
			if str, ok := v.(string); ok && str == "" {
				props[k] = nil // clearing a property is writing null
				continue
			}
			props[k] = v
		}
		return graph.BatchRequest{Method: http.MethodPatch, URL: "/users/" + s.CloudID, Headers: hdr, Body: body(props)}, nil
	case OpDeleteUser:
		return graph.BatchRequest{Method: http.MethodDelete, URL: "/users/" + s.CloudID}, nil
	case OpCreateGroup:
		return graph.BatchRequest{Method: http.MethodPost, URL: "/groups", Headers: hdr, Body: body(s.want)}, nil
	case OpUpdateGroup:
		props := map[string]any{}
		for k, v := range s.want {
			if str, ok := v.(string); ok && str == "" {
				props[k] = nil
				continue
			}
			props[k] = v
		}
		return graph.BatchRequest{Method: http.MethodPatch, URL: "/groups/" + s.CloudID, Headers: hdr, Body: body(props)}, nil
	case OpDeleteGroup:
		return graph.BatchRequest{Method: http.MethodDelete, URL: "/groups/" + s.CloudID}, nil
	case OpAddMember, OpRemoveMember:
		group := s.CloudID
		if group == "" {
			group = a.ids[kindGroup][s.groupOf]
			s.CloudID = group
		}
		member := s.MemberID
		if member == "" {
			member = a.ids[s.MemberKind][s.MemberAnchor]
			s.MemberID = member
		}
		if group == "" || member == "" {
			return graph.BatchRequest{}, errors.New("the group or the member is not in the tenant (its own export failed)")
		}
		if s.Op == OpRemoveMember {
			return graph.BatchRequest{Method: http.MethodDelete, URL: "/groups/" + group + "/members/" + member + "/$ref"}, nil
		}
		ref := map[string]string{"@odata.id": a.t.client.BaseURL() + "/directoryObjects/" + member}
		return graph.BatchRequest{Method: http.MethodPost, URL: "/groups/" + group + "/members/$ref", Headers: hdr, Body: body(ref)}, nil
	}
	return graph.BatchRequest{}, fmt.Errorf("unknown step %q", s.Op)
}

// benign reports whether an error answer means the step's end is already
// reached: a member already there or already gone, an object already
// deleted.
func benign(op string, err error) bool {
	var ge *graph.Error
	if !errors.As(err, &ge) {
		return false
	}
	switch op {
	case OpAddMember:
		return ge.Status == http.StatusBadRequest && strings.Contains(ge.Message, "already exist")
	case OpRemoveMember, OpDeleteUser, OpDeleteGroup:
		return ge.Status == http.StatusNotFound
	}
	return false
}

var propertyRE = regexp.MustCompile(`property '?([A-Za-z]+)'?`)

// fail records a step's error: Graph's code and message, and the
// attribute and value it is about when the message names one.
func fail(s *Step, err error) {
	s.Outcome = OutcomeFailed
	s.Error = err.Error()
	var ge *graph.Error
	if errors.As(err, &ge) {
		s.Code, s.Error = ge.Code, ge.Message
		if ge.Code == "" {
			s.Code = http.StatusText(ge.Status)
		}
	}
	attr := ""
	if m := propertyRE.FindStringSubmatch(s.Error); m != nil {
		attr = m[1]
	} else if strings.Contains(s.Error, "userPrincipalName") {
		attr = "userPrincipalName"
	}
	if attr != "" && s.Attribute == "" {
		s.Attribute = attr
		if v, ok := s.want[attr]; ok {
			s.Value = fmt.Sprint(v)
		}
	}
}

// newPassword is a random password that meets Entra's policy: 16
// characters of the four classes, each class at least once.
func newPassword() string {
	classes := []string{"ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "!@#$%^&*-_=+?"}
	all := strings.Join(classes, "")
	pick := func(set string) byte {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			panic(err) // crypto/rand does not fail on supported systems
		}
		return set[n.Int64()]
	}
	b := make([]byte, 16)
	for i := range b {
		if i < len(classes) {
			b[i] = pick(classes[i])
		} else {
			b[i] = pick(all)
		}
	}
	// Shuffle, so the classes are not always in the first four places.
	for i := len(b) - 1; i > 0; i-- {
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		b[i], b[j.Int64()] = b[j.Int64()], b[i]
	}
	return string(b)
}
