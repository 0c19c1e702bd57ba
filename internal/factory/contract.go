package factory

import (
	"context"
	"fmt"
)

// contractor is a store with contract migrations (sqlstore): what it
// takes away waits until an operator says no replica needs it any more.
type contractor interface {
	PendingContracts(ctx context.Context) ([]string, error)
	Contract(ctx context.Context) ([]string, error)
}

// PendingContracts names the contract migrations the database has not
// applied yet.
func PendingContracts(ctx context.Context, p *Parts) ([]string, error) {
	c, ok := p.Store.(contractor)
	if !ok {
		return nil, nil
	}
	return c.PendingContracts(ctx)
}

// Contract applies the pending contract migrations and names them: only
// once every replica runs this release (README, Deploying).
func Contract(ctx context.Context, p *Parts) ([]string, error) {
	c, ok := p.Store.(contractor)
	if !ok {
		return nil, fmt.Errorf("the store %T has no contract migrations", p.Store)
	}
	return c.Contract(ctx)
}
