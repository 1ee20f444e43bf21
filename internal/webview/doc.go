// Package webview is the live web page of slipstream's rollouts: for each
// managed Knative Service its phase and step, the traffic split and how the
// candidate's share moved over time (a chart), why it is where it is (the
// alert behind a rollback), and the config repository's commit history with
// links. `slipstream dashboard` serves it from a cluster (your kubeconfig),
// `slipstream dev` beside its simulated pipeline.
//
// Server polls a Source (the Knative Services, the commits) every interval,
// keeps each Service's history (History: bounded in points and Services),
// and serves the page, its state as JSON, and the state again on every
// change as Server-Sent Events. The page is static (embedded), writes data
// into the page only as text, and the server answers only GETs whose Host is
// the one it listens on (no DNS rebinding into your cluster's state) with a
// strict Content-Security-Policy; live connections are bounded.
package webview
