// Package slipstream is the module's root function for Knative Functions
// (`func build` / `func deploy` with the func.yaml beside it): one Knative
// Service that runs every slipstream function, for small clusters. It routes
// raw webhooks by path and CloudEvents by type to the same handlers as
// `slipstream serve`, configured from the same SLIPSTREAM_* environment.
//
// It follows func's instanced HTTP signature: New() returns a value with
// Handle(http.ResponseWriter, *http.Request) and the Start, Stop, Ready and
// Alive hooks.
package slipstream

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync"

	"github.com/slipstream-cd/slipstream/internal/serve"
)

// Function is the all-in-one function.
type Function struct {
	mu       sync.RWMutex
	combined *serve.Combined
}

// New returns the function; Start configures it.
func New() *Function { return &Function{} }

// Start builds every function from the environment. func passes the
// environment in cfg; it is applied before the settings are read.
func (f *Function) Start(ctx context.Context, cfg map[string]string) error {
	for k, v := range cfg {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	c, err := serve.Combine(ctx, nil, os.Stderr)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.combined = c
	f.mu.Unlock()
	return nil
}

// Stop lets in-flight requests finish; func's server drains them.
func (f *Function) Stop(context.Context) error { return nil }

// Ready reports whether every function can serve.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	f.mu.RLock()
	c := f.combined
	f.mu.RUnlock()
	if c == nil {
		return false, errors.New("not started")
	}
	if err := c.Ready(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// Alive reports that the process is alive.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }

// Handle serves one request.
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) {
	f.mu.RLock()
	c := f.combined
	f.mu.RUnlock()
	if c == nil {
		http.Error(w, `{"status":"not_ready","message":"the function has not started"}`, http.StatusServiceUnavailable)
		return
	}
	c.ServeHTTP(w, r)
}
