// Package e2e holds tests that run whole syncs through real parts: the
// emulated Entra ID tenant over HTTPS, the Entra connector with Microsoft's
// auth library, the engine, and the SQLite store. It has no code of its own.
package e2e
