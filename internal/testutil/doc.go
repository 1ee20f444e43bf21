// Package testutil holds what several packages' tests share: real
// in-process servers (a bare Git repository, a CloudEvents sink), the one
// set of shared settings tests run with (Shared), one HTTP POST (Post), and a builder of live
// Knative Services with options (Service). It is imported by tests only.
package testutil
