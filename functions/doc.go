// Package functions knows slipstream's functions by name and serves one of
// them: it loads the shared settings, builds the function from its own
// settings, and runs it on the function host until the context ends.
//
// What comes in: a function name and the environment. What goes out: a
// serving function, or an error — ErrUnknownFunction for a name it does not
// know, a *config.Error naming the variable for bad settings (before anything
// listens), or the host's error when serving fails.
//
// Each function package (intake, promote, rollout, rollback) has a builder
// here that reads its settings and wires its adapters. Combine serves them all
// from one handler (the all-in-one root function). Function packages never
// import each other; they meet only here.
package functions
