package manage

import (
	"context"
	"errors"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// DefaultAccount is the account the command line works in when none is
// named; it is created on first use.
const DefaultAccount = "default"

// Operator returns the actor of the person running dirsync on the
// deployment's database (the command line): the owner of the account
// named (DefaultAccount when empty, created on first use). Any other
// account must exist: a typo must not start a new customer.
func (m *Manager) Operator(ctx context.Context, account string) (Actor, error) {
	name := strings.TrimSpace(account)
	if name == "" {
		name = DefaultAccount
	}
	acc, err := m.d.Store.Account(ctx, name)
	if errors.Is(err, store.ErrNotFound) && name == DefaultAccount {
		acc = directory.Account{Name: name}
		err = m.d.Store.Update(ctx, func(tx store.Tx) error { return tx.CreateAccount(ctx, &acc) })
		if errors.Is(err, store.ErrAlreadyExists) { // created meanwhile by another process
			acc, err = m.d.Store.Account(ctx, name)
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, notFound("account %q does not exist (create it with: dirsync account create %s)", name, name)
	}
	if err != nil {
		return Actor{}, err
	}
	return Actor{AccountID: acc.ID, AccountName: acc.Name, Role: RoleOwner, Via: ViaCLI, Name: "command line", Operator: true}, nil
}

// DeploymentOperator is the operator acting on the deployment as a whole
// (listing and creating accounts), in no account.
func DeploymentOperator() Actor {
	return Actor{Role: RoleOwner, Via: ViaCLI, Name: "command line", Operator: true}
}

// Account returns the actor's account.
func (m *Manager) Account(ctx context.Context, actor Actor) (directory.Account, error) {
	if err := actor.require(ActRead); err != nil {
		return directory.Account{}, err
	}
	return m.d.Store.Account(ctx, actor.AccountID)
}

// Accounts lists the accounts the actor sees: every account for the
// operator, its own for anyone else.
func (m *Manager) Accounts(ctx context.Context, actor Actor) ([]directory.Account, error) {
	if !actor.Operator {
		acc, err := m.Account(ctx, actor)
		if err != nil {
			return nil, err
		}
		return []directory.Account{acc}, nil
	}
	accs, err := m.d.Store.Accounts(ctx)
	if accs == nil {
		accs = []directory.Account{}
	}
	return accs, err
}

// CreateAccount creates an account: one customer organization. Only the
// operator may.
func (m *Manager) CreateAccount(ctx context.Context, actor Actor, name string) (directory.Account, error) {
	if !actor.Operator {
		return directory.Account{}, newError(Forbidden, "only the deployment's operator (the command line) may create accounts")
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return directory.Account{}, invalid("name", "the account name is empty")
	}
	acc := directory.Account{Name: name}
	err := m.d.Store.Update(ctx, func(tx store.Tx) error { return tx.CreateAccount(ctx, &acc) })
	if errors.Is(err, store.ErrAlreadyExists) {
		return acc, &Error{Kind: Conflict, Code: CodeAlreadyExists, Field: "name", Message: "account " + name + " already exists", Err: err}
	}
	return acc, err
}
