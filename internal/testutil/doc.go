// Package testutil holds real in-process servers that several functions'
// tests share. It is imported by tests only.
package testutil
