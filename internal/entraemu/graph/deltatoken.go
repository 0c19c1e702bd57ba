package graph

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/dirsync/dirsync/internal/entraemu/jsonw"
	"github.com/dirsync/dirsync/internal/entraemu/model"
)

// deltaState is what a delta or skip token carries: the round's position,
// the first request's $select and $filter, the emulator instance and the
// delta epoch. Tokens are opaque to clients, and MACed so they cannot be
// forged.
type deltaState struct {
	Inst    string   `json:"i"`
	Epoch   uint32   `json:"e"`
	Kind    string   `json:"k"` // users or groups
	Sel     string   `json:"s,omitempty"`
	Members bool     `json:"mb,omitempty"`
	IDs     []string `json:"f,omitempty"`
	Snap    bool     `json:"n,omitempty"`
	From    uint64   `json:"a"`           // snapshot: the round's start; else changes after this
	To      uint64   `json:"b,omitempty"` // incremental pages: the round's end
	Cursor  string   `json:"c,omitempty"` // last object id done (or in progress, with MCursor)
	MCursor string   `json:"m,omitempty"` // last member id done of object Cursor
	Issued  int64    `json:"t"`
	Round   int64    `json:"r"`
}

func (a *API) encodeToken(st *deltaState) string {
	payload := jsonw.Marshal(st)
	mac := hmac.New(sha256.New, a.deltaKey)
	mac.Write(payload)
	return base64.RawURLEncoding.EncodeToString(append(payload, mac.Sum(nil)[:16]...))
}

var errSyncStateNotFound = &model.Error{Status: 410, Code: "syncStateNotFound", Message: "The sync state for this delta token was not found. Restart with a full synchronization."}

// decodeToken returns the state, or the error Graph would answer.
func (a *API) decodeToken(tok string) (*deltaState, *model.Error) {
	invalid := model.BadRequest("The delta token or skip token is not valid.")
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(tok, "="))
	if err != nil || len(raw) < 17 {
		return nil, invalid
	}
	payload, sum := raw[:len(raw)-16], raw[len(raw)-16:]
	var st deltaState
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, invalid
	}
	if st.Inst != a.instance {
		// A token from an earlier run of the emulator: its state is gone.
		return nil, errSyncStateNotFound
	}
	mac := hmac.New(sha256.New, a.deltaKey)
	mac.Write(payload)
	if !hmac.Equal(sum, mac.Sum(nil)[:16]) {
		return nil, invalid
	}
	return &st, nil
}
