package sqlstore

import (
	"errors"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// benchUsers and benchGroups size the benchmark's tenant.
var (
	benchUsers  = flag.Int("bench.users", 100_000, "users in BenchmarkApply100k's tenant")
	benchGroups = flag.Int("bench.groups", 500, "groups in BenchmarkApply100k's tenant")
)

const (
	stagePage = 1000 // what a connector hands the engine at a time
	applyPage = 1000
)

// BenchmarkApply100k stages a 100,000-user tenant (with every user in one
// of 500 groups) and applies it as the engine does: one transaction paging
// through the staged users, UserByLink then CreateUser and Link (first
// run) or UpdateUser (second run) for each, the unstaged pass, and
// SyncMemberships (the second run moves every user to another group, so it
// removes and adds 100,000 memberships). One op is one whole run; the stage
// and apply seconds of each are reported as metrics.
//
//	go test ./internal/store/sqlstore -run '^$' -bench Apply100k -benchtime 1x -benchmem
func BenchmarkApply100k(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchApply(b, func() *Store { return newSQLite(b) }) })
	b.Run("postgres", func(b *testing.B) { benchApply(b, func() *Store { return newPostgres(b) }) })
}

func benchApply(b *testing.B, open func() *Store) {
	for _, phase := range []string{"create", "update"} {
		b.Run(phase, func(b *testing.B) {
			var stage, apply time.Duration
			for range b.N {
				b.StopTimer()
				s := open()
				acc, src := benchSetup(b, s)
				if phase == "update" {
					// A first run fills the directory; the measured one
					// then updates every user.
					runOnce(b, s, acc, src, 0)
				}
				b.StartTimer()
				st, ap := runOnce(b, s, acc, src, 1)
				stage += st
				apply += ap
			}
			b.ReportMetric(stage.Seconds()/float64(b.N), "stage-s/op")
			b.ReportMetric(apply.Seconds()/float64(b.N), "apply-s/op")
		})
	}
}

func benchSetup(b testing.TB, s *Store) (directory.Account, directory.Source) {
	ctx := b.Context()
	acc := directory.Account{Name: "bench"}
	src := directory.Source{Name: "entra", Kind: directory.KindEntra}
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccount(ctx, &acc); err != nil {
			return err
		}
		src.AccountID = acc.ID
		return tx.CreateSource(ctx, &src)
	})
	if err != nil {
		b.Fatal(err)
	}
	return acc, src
}

// runOnce stages and applies the tenant; gen changes the attributes so a
// second run updates every user.
func runOnce(b *testing.B, s *Store, acc directory.Account, src directory.Source, gen int) (stage, apply time.Duration) {
	ctx := b.Context()
	run := directory.Run{AccountID: acc.ID, SourceID: src.ID, Source: src.Name, Kind: directory.RunFull}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateRun(ctx, &run) }); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	users := make([]directory.SourceUser, 0, stagePage)
	ms := make([]directory.SourceMembership, 0, stagePage)
	for i := range *benchUsers {
		ext := fmt.Sprintf("%08x-0000-4000-8000-%012x", i*7919%*benchUsers, i)
		users = append(users, directory.SourceUser{ExternalID: ext, Enabled: true, UserAttributes: directory.UserAttributes{
			Username: fmt.Sprintf("user%06d@example.com", i), Email: fmt.Sprintf("user%06d@example.com", i),
			DisplayName: fmt.Sprintf("User %d", i), GivenName: "User", Surname: fmt.Sprint(i),
			Department: fmt.Sprintf("Dept %d.%d", i%50, gen), JobTitle: "Engineer",
			BusinessPhones: []string{"+14155550100"}, Licenses: []string{"c42b9cae-ea4f-4ab7-9717-81576235ccac"},
			ProxyAddresses: []string{fmt.Sprintf("SMTP:user%06d@example.com", i)}, UserType: "Member",
		}})
		// Each run moves every user to the next group: the second run
		// removes and adds every membership.
		ms = append(ms, directory.SourceMembership{GroupExternalID: fmt.Sprintf("g%04d", (i+gen)%*benchGroups),
			MemberExternalID: ext, MemberKind: directory.MemberUser})
		if len(users) == stagePage || i == *benchUsers-1 {
			if err := s.StageUsers(ctx, run.ID, users); err != nil {
				b.Fatal(err)
			}
			if err := s.StageMemberships(ctx, run.ID, ms); err != nil {
				b.Fatal(err)
			}
			users, ms = users[:0], ms[:0]
		}
	}
	var groups []directory.SourceGroup
	for g := range *benchGroups {
		groups = append(groups, directory.SourceGroup{ExternalID: fmt.Sprintf("g%04d", g),
			GroupAttributes: directory.GroupAttributes{Name: fmt.Sprintf("Group %d", g), SecurityEnabled: true}})
	}
	if err := s.StageGroups(ctx, run.ID, groups); err != nil {
		b.Fatal(err)
	}
	stage = time.Since(start)

	start = time.Now()
	var created, updated int
	err := s.Update(ctx, func(tx store.Tx) error {
		created, updated = 0, 0
		after := ""
		for {
			page, err := tx.StagedUsers(ctx, run.ID, after, applyPage)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			for _, su := range page {
				u, err := tx.UserByLink(ctx, src.ID, su.ExternalID)
				switch {
				case errors.Is(err, store.ErrNotFound):
					u = directory.User{AccountID: acc.ID, UserAttributes: su.UserAttributes, Enabled: su.Enabled}
					if err := tx.CreateUser(ctx, &u); err != nil {
						return err
					}
					if err := tx.Link(ctx, directory.MemberUser, u.ID, directory.SourceLink{SourceID: src.ID, ExternalID: su.ExternalID}); err != nil {
						return err
					}
					created++
				case err != nil:
					return err
				default:
					if len(directory.DiffUsers(u.UserAttributes, su.UserAttributes)) > 0 {
						u.UserAttributes = su.UserAttributes
						if err := tx.UpdateUser(ctx, u); err != nil {
							return err
						}
						updated++
					}
				}
			}
			after = page[len(page)-1].ExternalID
		}
		sgs, err := tx.StagedGroups(ctx, run.ID, "", 0)
		if err != nil {
			return err
		}
		for _, sg := range sgs {
			if _, err := tx.GroupByLink(ctx, src.ID, sg.ExternalID); errors.Is(err, store.ErrNotFound) {
				g := directory.Group{AccountID: acc.ID, GroupAttributes: sg.GroupAttributes}
				if err := tx.CreateGroup(ctx, &g); err != nil {
					return err
				}
				if err := tx.Link(ctx, directory.MemberGroup, g.ID, directory.SourceLink{SourceID: src.ID, ExternalID: sg.ExternalID}); err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
		}
		after = ""
		for {
			page, err := tx.UnstagedUsers(ctx, src.ID, run.ID, after, applyPage)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			after = page[len(page)-1].ID
		}
		return tx.SyncMemberships(ctx, src.ID, run.ID, store.Reach{}, func(bool, []store.Membership) error { return nil })
	})
	if err != nil {
		b.Fatal(err)
	}
	apply = time.Since(start)
	if created+updated != *benchUsers {
		b.Fatalf("created %d, updated %d of %d", created, updated, *benchUsers)
	}
	if err := s.DropStage(ctx, run.ID); err != nil {
		b.Fatal(err)
	}
	return stage, apply
}
