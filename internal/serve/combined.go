package serve

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/functions/intake"
	"github.com/slipstream-cd/slipstream/internal/host"
)

// Combined serves several functions from one HTTP handler: the all-in-one
// deployment (the module's root function for Knative Functions).
type Combined struct {
	handler http.Handler
	ready   []func(context.Context) error
}

// Combine builds the named functions (the four of the pipeline when names is
// empty; notify only when named) from
// the environment and routes to them: raw webhooks by path, CloudEvents at /
// by type. Broker events at / need the broker's OIDC token as in the
// separate functions (Combine refuses to start when nothing would verify
// them); intake's own CloudEvents format, which has other credentials, is
// left out of /; its webhook formats are served as usual.
func Combine(ctx context.Context, names []string, logs io.Writer) (*Combined, error) {
	if len(names) == 0 {
		for _, n := range Names() {
			if !optional[n] {
				names = append(names, n)
			}
		}
	}
	var shared config.Shared
	if err := config.Load(config.Prefix, &shared); err != nil {
		return nil, err
	}
	h, err := host.New("slipstream", shared, host.NewLogger(logs, shared.LogLevel, shared.LogFormat))
	if err != nil {
		return nil, err
	}
	all := host.Function{Name: "slipstream", FromBroker: true, Events: map[string]host.EventHandler{}, Webhooks: map[string]host.WebhookHandler{}}
	headers := map[string]func(string, *http.Request) error{}
	bodies := map[string]func(string, *http.Request, []byte) error{}
	c := &Combined{}
	for _, name := range names {
		build, ok := builders[name]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownFunction, name)
		}
		fn, err := build(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for route, wh := range fn.Webhooks {
			all.Webhooks[route] = wh
			headers[route], bodies[route] = fn.AuthorizeHeaders, fn.AuthorizeBody
		}
		if name == intake.Name {
			if len(fn.Events) > 0 {
				h.Logger().Warn("all-in-one: intake's CloudEvents format is not served at /; use a webhook format")
			}
		} else {
			for typ, eh := range fn.Events {
				if _, dup := all.Events[typ]; dup {
					return nil, fmt.Errorf("event type %s is handled by two functions", typ)
				}
				all.Events[typ] = eh
			}
		}
		if fn.Ready != nil {
			c.ready = append(c.ready, fn.Ready)
		}
		all.Collectors = append(all.Collectors, fn.Collectors...)
	}
	// Each webhook route keeps its own function's checks.
	all.AuthorizeHeaders = func(route string, r *http.Request) error {
		if a := headers[route]; a != nil && strings.HasPrefix(route, "/webhooks/") {
			return a(route, r)
		}
		return nil
	}
	all.AuthorizeBody = func(route string, r *http.Request, body []byte) error {
		if a := bodies[route]; a != nil && strings.HasPrefix(route, "/webhooks/") {
			return a(route, r, body)
		}
		return nil
	}
	if err := h.CheckDeliveries(all); err != nil {
		return nil, err
	}
	c.handler = h.Handler(all)
	return c, nil
}

// ServeHTTP implements http.Handler.
func (c *Combined) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

// Ready reports whether every function is ready.
func (c *Combined) Ready(ctx context.Context) error {
	for _, r := range c.ready {
		if err := r(ctx); err != nil {
			return err
		}
	}
	return nil
}
