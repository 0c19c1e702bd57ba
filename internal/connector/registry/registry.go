// Package registry maps each kind of source to the connector that reads it.
//
// The map is explicit, as dex does it: no init-time registration, so the
// list of what dirsync can read is this one file.
package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/connector/ldap"
	"github.com/dirsync/dirsync/internal/directory"
)

// Options are what every connector may be given.
type Options struct {
	Logger *slog.Logger
	// Clock is the connectors' time: retry budgets and waits, a secret's
	// expiry, accountExpires. The system clock when nil.
	Clock clock.Clock
}

type opener func(config, secret []byte, opts Options) (connector.Connector, error)

var kinds = map[directory.SourceKind]opener{
	directory.KindEntra: func(config, secret []byte, opts Options) (connector.Connector, error) {
		var cfg entra.Config
		if err := decode(config, &cfg); err != nil {
			return nil, err
		}
		return entra.Open(cfg, secret, entra.Options{Logger: opts.Logger, Clock: opts.Clock})
	},
	directory.KindLDAP: func(config, secret []byte, opts Options) (connector.Connector, error) {
		var cfg ldap.Config
		if err := decode(config, &cfg); err != nil {
			return nil, err
		}
		return ldap.Open(cfg, secret, ldap.Options{Logger: opts.Logger, Clock: opts.Clock})
	},
}

// Kinds lists the kinds of source dirsync can read, sorted.
func Kinds() []directory.SourceKind { return slices.Sorted(maps.Keys(kinds)) }

// Open returns the connector for a source. secret is the source's opened
// (unsealed) credential.
func Open(src directory.Source, secret []byte, opts Options) (connector.Connector, error) {
	open, ok := kinds[src.Kind]
	if !ok {
		return nil, fmt.Errorf("source %s: unknown kind %q", src.Name, src.Kind)
	}
	c, err := open(src.Config, secret, opts)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src.Name, err)
	}
	return c, nil
}

// decode reads a connector's settings, refusing fields it does not know so
// that a misspelt setting is an error rather than silently ignored.
func decode(config []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	return nil
}
