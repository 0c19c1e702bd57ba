package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
)

// This file holds what dirsync keeps to provision into a target (an Entra
// ID tenant): the targets themselves, the target's objects as last read
// (so that a cycle reads only Graph's delta), the links between the
// account's objects and the cloud objects dirsync created or matched, the
// sync errors of the last cycle, and the export runs with their plans.
// Reader and Tx embed TargetReader and TargetTx. The store interprets
// none of it: the rules are package provision's and package manage's.

// TargetObject is one cloud object as the target last reported it.
type TargetObject struct {
	// Kind is "user" or "group".
	Kind    string
	CloudID string
	// Data is the object's properties as the provision package keeps them.
	Data json.RawMessage
}

// TargetLink ties an object of the account's directory, by its anchor, to
// the cloud object dirsync created or matched for it. A link survives
// renames and moves: the anchor never changes.
type TargetLink struct {
	Kind string `json:"kind"` // "user" or "group"
	// Anchor is the source anchor: a user's onPremisesImmutableId, a
	// group's source object id.
	Anchor    string    `json:"anchor"`
	CloudID   string    `json:"cloud_id"`
	CreatedAt time.Time `json:"created_at"`
}

// TargetError is one object's export error from the last cycle it was
// seen in (Azure AD Connect's sync errors).
type TargetError struct {
	Kind      string    `json:"kind"`
	Anchor    string    `json:"anchor"`
	Object    string    `json:"object"` // the object's name, for people
	Attribute string    `json:"attribute,omitempty"`
	Value     string    `json:"value,omitempty"`
	Code      string    `json:"code"`    // the Graph error code, or dirsync's own
	Message   string    `json:"message"` // the Graph error message
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// ExportRun is one export cycle of a target: its plan and what became of
// each step.
type ExportRun struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	TargetID  string `json:"target_id"`
	// Mode is "delta" or "full".
	Mode    string `json:"mode"`
	Staging bool   `json:"staging"`
	// Outcome is running, succeeded, partial (some objects failed),
	// staged (planned only), stopped (a safety limit) or failed.
	Outcome    string    `json:"outcome"`
	Reason     string    `json:"reason,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Summary counts and Plan lists the steps, as package provision writes them.
	Summary json.RawMessage `json:"summary,omitempty"`
	Plan    json.RawMessage `json:"plan,omitempty"`
}

// TargetReader reads what TargetTx writes.
type TargetReader interface {
	// Target finds a target of the account by name or id.
	Target(ctx context.Context, accountID, nameOrID string) (directory.Target, error)
	Targets(ctx context.Context, accountID string) ([]directory.Target, error)
	// TargetState returns the target's saved cursors; empty when none.
	TargetState(ctx context.Context, targetID string) (string, error)
	// TargetObjects lists the target's cached objects of a kind, by cloud id.
	TargetObjects(ctx context.Context, targetID, kind string) ([]TargetObject, error)
	// TargetLinks lists the target's links, by kind then anchor.
	TargetLinks(ctx context.Context, targetID string) ([]TargetLink, error)
	// TargetErrors lists the target's current sync errors, by kind then object.
	TargetErrors(ctx context.Context, targetID string) ([]TargetError, error)
	ExportRun(ctx context.Context, accountID, id string) (ExportRun, error)
	// ExportRuns lists a target's runs, newest first.
	ExportRuns(ctx context.Context, targetID string, limit int) ([]ExportRun, error)
	// ExportRunPage lists a target's runs as ExportRuns does, a page at
	// a time: after is the Next of the previous page.
	ExportRunPage(ctx context.Context, targetID, after string, limit int) (Page[ExportRun], error)
}

// TargetTx writes what the provisioning keeps.
type TargetTx interface {
	CreateTarget(ctx context.Context, t *directory.Target) error // sets ID and times
	UpdateTarget(ctx context.Context, t directory.Target) error
	// DeleteTarget removes the target with its objects, links, errors,
	// runs and state. Nothing in the cloud changes.
	DeleteTarget(ctx context.Context, accountID, id string) error
	SetTargetState(ctx context.Context, targetID, state string) error
	// PutTargetObjects creates or replaces cached objects.
	PutTargetObjects(ctx context.Context, targetID string, objs []TargetObject) error
	// DeleteTargetObjects removes cached objects by cloud id.
	DeleteTargetObjects(ctx context.Context, targetID, kind string, cloudIDs []string) error
	// ClearTargetObjects removes every cached object and the saved state.
	ClearTargetObjects(ctx context.Context, targetID string) error
	// SetTargetLink creates or replaces the link of (Kind, Anchor).
	SetTargetLink(ctx context.Context, targetID string, l TargetLink) error
	DeleteTargetLink(ctx context.Context, targetID, kind, anchor string) error
	// ReplaceTargetErrors makes the target's errors exactly errs.
	ReplaceTargetErrors(ctx context.Context, targetID string, errs []TargetError) error
	CreateExportRun(ctx context.Context, r *ExportRun) error // sets ID
	UpdateExportRun(ctx context.Context, r ExportRun) error
}
