package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/registry"
	"github.com/slipstream-cd/slipstream/internal/webauth"
)

// Name is the function's name.
const Name = "intake"

// Intake turns registry webhooks into image.pushed events.
type Intake struct {
	cfg config.Intake
	// routes are the enabled formats by route: /webhooks/<name>, and / for
	// the format that sends CloudEvents.
	routes  map[string]format
	allowed allowlist
	send    Sender
	resolve DigestResolver
	sent    *recent
	now     func() time.Time
}

// Option configures an Intake.
type Option func(*Intake)

// WithClock sets the clock used for event times and the dedup window. Default time.Now.
func WithClock(now func() time.Time) Option { return func(in *Intake) { in.now = now } }

// New returns an Intake for validated settings, sending with send and
// resolving digests with resolve.
func New(cfg config.Intake, send Sender, resolve DigestResolver, opts ...Option) (*Intake, error) {
	if err := config.Join(cfg.Validate(), cfg.ValidateFormats(Formats())); err != nil {
		return nil, err
	}
	allowed, err := newAllowlist(cfg.AllowedRegistries)
	if err != nil {
		return nil, err
	}
	in := &Intake{cfg: cfg, routes: map[string]format{}, allowed: allowed, send: send, resolve: resolve, now: time.Now}
	for _, o := range opts {
		o(in)
	}
	if in.send == nil || in.resolve == nil || in.now == nil {
		return nil, errors.New("intake: a sender, a resolver and a clock are required")
	}
	for _, name := range cfg.Formats {
		f, _ := formatNamed(name)
		route := "/webhooks/" + f.name
		if f.parse == nil {
			route = "/"
		}
		in.routes[route] = f
	}
	in.sent = newRecent(cfg.DedupWindow, cfg.DedupMax, in.now)
	return in, nil
}

// Unauthenticated lists the enabled formats that accept requests without credentials.
func (in *Intake) Unauthenticated() []string {
	var out []string
	for _, f := range in.cfg.Formats {
		if !in.cfg.Auth[f].Configured() {
			out = append(out, f)
		}
	}
	return out
}

// Function returns the routes of the enabled formats for the host.
func (in *Intake) Function() host.Function {
	fn := host.Function{Name: Name, Webhooks: map[string]host.WebhookHandler{}, AuthorizeHeaders: in.authorizeHeaders, AuthorizeBody: in.authorizeBody}
	for route, f := range in.routes {
		if f.parse != nil {
			fn.Webhooks[route] = in.webhook(f.name, f.parse)
			continue
		}
		fn.Events = map[string]host.EventHandler{}
		for typ, parse := range f.events {
			fn.Events[typ] = in.event(f.name, parse)
		}
	}
	return fn
}

// authorizeHeaders checks a request's token, before its body is read, with
// the credentials of the format its route serves.
func (in *Intake) authorizeHeaders(route string, r *http.Request) error {
	f, ok := in.routes[route]
	if !ok {
		return fmt.Errorf("%w: no format is served at %s", host.ErrUnauthorized, route)
	}
	return webauth.CheckHeaders(in.cfg.Auth[f.name], f.signature, r)
}

// authorizeBody checks a format's HMAC signature of the raw body.
func (in *Intake) authorizeBody(route string, r *http.Request, body []byte) error {
	f, ok := in.routes[route]
	if !ok {
		return fmt.Errorf("%w: no format is served at %s", host.ErrUnauthorized, route)
	}
	return webauth.CheckBody(in.cfg.Auth[f.name], f.signature, r, body)
}

// webhook serves one raw webhook format.
func (in *Intake) webhook(format string, parse parser) host.WebhookHandler {
	return func(ctx context.Context, r *http.Request, body []byte) (host.Response, error) {
		if ct := r.Header.Get("Content-Type"); ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
				return host.Response{}, fmt.Errorf("%w: content type %q; send JSON (application/json)", host.ErrUnsupportedMediaType, ct)
			}
		}
		rep, err := parse(body, r.Header)
		if err != nil {
			return host.Response{}, err
		}
		return in.process(ctx, format, rep)
	}
}

// event serves one CloudEvent type at POST /; an event with nothing to act on
// is acknowledged as refused.
func (in *Intake) event(format string, parse eventParser) host.EventHandler {
	return func(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
		rep, err := parse(e)
		if err != nil {
			return nil, err
		}
		resp, err := in.process(ctx, format, rep)
		if err == nil && resp.Status == http.StatusOK {
			return nil, fmt.Errorf("%w: %s", host.ErrRefused, resp.Message)
		}
		return nil, err
	}
}

// process checks, resolves and sends the pushes of one request.
func (in *Intake) process(ctx context.Context, format string, rep report) (host.Response, error) {
	log := host.Logger(ctx)
	pushes, err := decide(rep, in.allowed)
	if err != nil {
		return host.Response{}, err
	}
	if len(pushes) == 0 {
		return host.Response{Status: http.StatusOK, Message: "ignored: " + strings.Join(rep.Ignored, "; ")}, nil
	}
	type outgoing struct {
		event cloudevents.Event
		image string
	}
	events := make([]outgoing, 0, len(pushes))
	for _, p := range pushes {
		if p.Digest == "" {
			desc, err := in.resolve.Resolve(ctx, p.Ref)
			if err != nil {
				return host.Response{}, resolveError(p.Ref.String(), err)
			}
			p.Digest = desc.Digest.String()
			if p.MediaType == "" {
				p.MediaType = string(desc.MediaType)
			}
		}
		d, err := eventing.NewImagePushed(p.Ref.Name()+"@"+p.Digest, format, p.MediaType, p.PushedAt)
		if err != nil {
			return host.Response{}, malformed(p.Field, "%v", err)
		}
		e, err := eventing.New(Name, d, in.now())
		if err != nil {
			return host.Response{}, malformed(p.Field, "%v", err)
		}
		events = append(events, outgoing{e, d.Image})
	}

	var sent, dups, failed []string
	var firstErr error
	for _, o := range events {
		e, image := o.event, o.image
		release, dup, err := in.sent.claim(ctx, e.ID())
		switch {
		case err != nil:
			failed = append(failed, image)
			firstErr = cmpErr(firstErr, err)
			continue
		case dup:
			dups = append(dups, image)
			log.Info("image push already sent", "image", image, "ce.id", e.ID())
			continue
		}
		err = in.send.Send(ctx, e)
		release(err == nil)
		if err != nil {
			failed = append(failed, image)
			firstErr = cmpErr(firstErr, err)
			continue
		}
		sent = append(sent, image)
		log.Info("image push sent", "image", image, "ce.id", e.ID())
	}
	msg := summary(sent, dups, rep.Ignored)
	if len(failed) > 0 {
		return host.Response{}, fmt.Errorf("%w: not sent: %s (%v); %s", host.ErrUnavailable, strings.Join(failed, ", "), firstErr, msg)
	}
	return host.Response{Status: http.StatusAccepted, Message: msg}, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func summary(sent, dups, ignored []string) string {
	var parts []string
	if len(sent) > 0 {
		parts = append(parts, "sent "+strings.Join(sent, ", "))
	}
	if len(dups) > 0 {
		parts = append(parts, "already sent "+strings.Join(dups, ", "))
	}
	if len(ignored) > 0 {
		parts = append(parts, "ignored: "+strings.Join(ignored, "; "))
	}
	return strings.Join(parts, "; ")
}

// resolveError maps a registry look-up failure to the answer: a tag the
// registry does not have is the sender's mistake (400); a registry that is
// down or refuses our credentials is worth a retry later (503).
func resolveError(ref string, err error) error {
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return fmt.Errorf("%w: %s: the registry has no such tag", host.ErrMalformed, ref)
	case errors.Is(err, registry.ErrDenied):
		return fmt.Errorf("%w: %s: the registry refused intake's credentials (SLIPSTREAM_INTAKE_DOCKER_CONFIG_FILE)", host.ErrUnavailable, ref)
	}
	return fmt.Errorf("%w: resolving %s: %v", host.ErrUnavailable, ref, err)
}

// LogUnauthenticated warns, once at start-up, about formats open to anyone.
func (in *Intake) LogUnauthenticated(log *slog.Logger) {
	for _, f := range in.Unauthenticated() {
		log.Warn("webhook format accepts unauthenticated requests", "format", f, "setting", config.FormatPrefix(f)+"_ALLOW_UNAUTHENTICATED")
	}
}
