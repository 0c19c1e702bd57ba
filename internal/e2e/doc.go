// Package e2e holds tests that run whole syncs through real parts: the
// emulated Entra ID tenant over HTTPS with the Entra connector and
// Microsoft's auth library, a real Samba AD domain controller on loopback
// with the LDAP connector, the engine, the SQLite store, and the dirsync
// command as a process (the kill test). It has no code of its own.
package e2e
