package engine

import (
	"context"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/phone"
	"github.com/dirsync/dirsync/internal/store"
)

// A full run's apply holds the directory's write lock, and everything it
// does after the last page is read adds to the run's time. So, on a store
// that can (store.UserPreparer), the users a full run will surely create
// are prepared while the source is still read: each users batch, once
// staged, is decided (the scope rules, the import options) and handed to
// the store, which keeps those that no user of the directory meets (no
// link, no username, no email), each with its id and its change. The
// apply's first users step (applyPrepared) creates those still free when
// it runs, in a few set-based statements; everything else (updates,
// matches, conflicts, users out of scope or with a warning) goes through
// the users step as before.
//
// Only what cannot depend on the rest of the read is prepared: a group
// filter decides a user's scope from every membership, so a source with
// one prepares nothing, nor does a dry run (its plan is kept in memory).

// preparer returns the function the staging sink calls with each users
// batch, or nil when the run prepares nothing.
func (j *job) preparer() func(ctx context.Context, users []directory.SourceUser) error {
	p, ok := j.e.Store.(store.UserPreparer)
	if !ok || !p.CanPrepare() || j.opts.DryRun || !j.settings.Groups.All() {
		return nil
	}
	return func(ctx context.Context, users []directory.SourceUser) error {
		b := store.PrepareBatch{RunID: j.run.ID, AccountID: j.src.AccountID, SourceID: j.src.ID,
			Staged: make([]string, 0, len(users)), Users: make([]store.PreparedUser, 0, len(users))}
		for _, su := range users {
			b.Staged = append(b.Staged, su.ExternalID)
			if in, _, _ := j.settings.Decide(su, true); !in {
				continue
			}
			shaped, problems := j.settings.Shape(su, phone.Numbers{})
			if len(problems) > 0 {
				continue // its warnings are recorded by the users step
			}
			nu := directory.User{AccountID: j.src.AccountID, UserAttributes: shaped.UserAttributes, Enabled: shaped.Enabled,
				State: directory.StateFor(shaped.Enabled), Tags: j.settings.ApplyTags(nil),
				Sources: []directory.SourceLink{{SourceID: j.src.ID, Source: j.src.Name, ExternalID: su.ExternalID}}}
			b.Users = append(b.Users, store.PreparedUser{User: nu, ExternalID: su.ExternalID, Change: createdChange(nu, su.ExternalID)})
		}
		return p.PrepareUsers(ctx, b)
	}
}
