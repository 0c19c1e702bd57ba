package manage

import (
	"context"

	"github.com/dirsync/dirsync/internal/connector"
)

// Container is a node of a source's directory tree (an LDAP OU).
type Container = connector.Container

// MaxContainers is how many containers one level of the tree lists.
const MaxContainers = 1000

// Containers is one level of a source's directory tree.
type Containers struct {
	// DN is the container listed (the base DN when none was named).
	DN    string
	Items []Container
	// More says the level holds more than MaxContainers containers.
	More bool
}

// BrowseContainers lists the containers directly under dn in the source's
// directory (under its base DN when dn is empty), live, for the tree of
// OUs an administrator includes or excludes.
func (m *Manager) BrowseContainers(ctx context.Context, actor Actor, key, dn string) (Containers, error) {
	if err := actor.require(ActManageSources); err != nil {
		return Containers{}, err
	}
	src, err := m.findSource(ctx, m.d.Store, actor, key)
	if err != nil {
		return Containers{}, err
	}
	conn, err := m.connect(src)
	if err != nil {
		return Containers{}, err
	}
	b, ok := conn.(connector.ContainerBrowser)
	if !ok {
		return Containers{}, newError(Unsupported, "source %s (%s) has no tree of OUs to browse", src.Name, src.Kind)
	}
	items, more, err := b.Containers(ctx, dn, MaxContainers)
	if err != nil {
		if connector.KindOf(err) == connector.KindInvalid {
			return Containers{}, invalid("dn", "%s", connectorMessage(err)).with(err)
		}
		return Containers{}, &Error{Kind: SourceFailed, Message: "source " + src.Name + ": " + connectorMessage(err), Err: err}
	}
	if items == nil {
		items = []Container{}
	}
	return Containers{DN: dn, Items: items, More: more}, nil
}
