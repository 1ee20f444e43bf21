// Package host serves one slipstream function over HTTP the way Knative
// expects a function to behave.
//
// What comes in: CloudEvents at POST / (binary or structured JSON mode) routed
// by type to the function's EventHandlers, raw webhooks at the function's
// routes, and GET /healthz, /readyz and /metrics. Where POST / takes the
// broker's deliveries (Function.FromBroker), each must carry Knative
// Eventing's OIDC token: signed by the cluster's ServiceAccount issuer
// (discovered from the apiserver, or SLIPSTREAM_OIDC_ISSUER) for the
// function's audience, from an allowed subject; Run refuses to start with
// nothing to verify them unless SLIPSTREAM_ALLOW_UNAUTHENTICATED_EVENTS.
// What goes out: the handler's reply event in the HTTP response (200, binary
// mode) or an empty 202; events sent to $K_SINK through a Sender, with the
// SinkBinding's OIDC token when one is mounted; a status code
// that follows the Knative Eventing data-plane contract. Reply builds a
// handler's follow-ups: the first is the reply, the others go to the Sender.
//
// Errors are mapped to status codes in one place (Classify): malformed input
// 400 (not retried), auth 401/403, too large 413, wrong media type 415,
// conflict 409, throttled 429, everything else 5xx (retried). A permanent
// refusal (ErrRefused: an event the function will never act on) is
// acknowledged with 200 and counted, so the broker does not retry it forever.
// Bodies are limited in size, panics become 500, and SIGTERM drains in-flight
// requests within the grace period before Run returns.
//
// The host does not retry a handler; at-least-once delivery comes from the
// broker or the webhook sender retrying on 5xx, so handlers are idempotent.
// Sender retries a failed send with exponential backoff, a bounded number of
// times, and then returns ErrUnavailable.
package host
