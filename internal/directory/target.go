package directory

import "time"

// TargetKind names a kind of directory dirsync writes to.
type TargetKind string

// Target kinds dirsync knows.
const (
	TargetEntra TargetKind = "entra"
)

// Target is a directory an account provisions into: an Entra ID tenant
// that receives the users and groups of the account's Active Directory
// sources (the job of Azure AD Connect). It is a source's mirror image.
type Target struct {
	ID        string     `json:"id"`
	AccountID string     `json:"account_id"`
	Name      string     `json:"name"`
	Kind      TargetKind `json:"kind"`
	// Config is the connection's settings, as JSON, without secrets.
	Config []byte `json:"config"`
	// Secret is the write app's credential, sealed: never returned or logged.
	Secret []byte `json:"-"`
	// Settings are the export's options as JSON (see package provision):
	// the sources that feed it, staging mode, the deletion threshold,
	// attribute flows, the schedule.
	Settings  []byte    `json:"settings,omitempty"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}
