// Package broker is an embedded Knative Eventing broker for local runs
// (`slipstream dev`, `make demo`) and tests: the same routing a cluster does,
// in one process.
//
// What comes in: CloudEvents posted to its ingress (binary or structured;
// 202 when accepted, 400 when not a valid CloudEvent, 405 for other
// methods), or published in process. What goes out: each event delivered to
// the subscriber of every Trigger whose filter matches — filters evaluated
// with Knative's own code (legacy filter.attributes and the filters dialects:
// exact, prefix, suffix, all, any, not, cesql) — with the Trigger's delivery
// spec, else the Broker's (retries, linear or exponential backoff, per-attempt
// timeout, dead-letter sink). A reply event re-enters the broker with its TTL
// decremented (knativebrokerttl, 255 at first), as Knative's broker does, so a
// reply loop dies out.
//
// With WithTokens, deliveries are authenticated as Eventing's
// authentication-oidc feature does: a Trigger whose subscriber has an
// audience sends "Authorization: Bearer <token>" minted for the Trigger's
// identity (Identity: the ServiceAccount Eventing makes for it) and that
// audience; Subscribers says what each subscriber must verify.
//
// Delivery is asynchronous and at least once; Close waits for what is in flight.
package broker
