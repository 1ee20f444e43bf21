// Package serve knows slipstream's functions by name and serves them: it
// loads the shared settings, builds a function from its own settings (each
// function package's FromEnv), and runs it on the function host until the
// context ends. Combine serves several from one handler (the all-in-one
// root function).
//
// What comes in: a function name and the environment. What goes out: a
// serving function, or an error — ErrUnknownFunction for a name it does not
// know, a *config.Error naming the variable for bad settings (before anything
// listens), or the host's error when serving fails.
//
// The table in serve.go is the one place that lists the functions: a new
// function is one folder under functions/ and one line there.
package serve
