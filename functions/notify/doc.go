// Package notify tells people about promotions and rollbacks in their chat:
// a Trigger on rollout.promoted and rollout.rolledback delivers each event,
// and notify posts one message to a webhook — Slack or Google Chat incoming
// webhooks, a Microsoft Teams Workflows webhook (an Adaptive Card), or any
// endpoint taking JSON.
//
// What comes in: broker deliveries of dev.slipstream.rollout.promoted.v1 and
// dev.slipstream.rollout.rolledback.v1 at POST /, with the broker's OIDC
// token as for every function. What goes out: one POST per event to the
// configured URL. Text is a pure function of the event (Text), shaped per
// format (Payload); what a sender controls (an alert's name and labels, the
// reason) is cut to a bounded length, stripped of control characters and
// escaped so it cannot mention a channel or forge a link.
//
// Delivery: the broker delivers at least once, so a message may be posted
// twice; a webhook that answers 5xx, 429 or does not answer in time is
// retried by the broker (503 or 429 here); one that answers another 4xx
// (a revoked or wrong URL) will not take it later either: the event is
// acknowledged, logged as an error and counted as rejected.
package notify
