// Package deadletters is the Broker's dead-letter sink: an event every
// delivery retry failed for ends here, and is logged with what a person
// needs to act on it — its type, id, source, subject, where it was going
// and what that answered (Knative's knativeerrordest, knativeerrorcode and
// knativeerrordata extensions), each cut to a bounded length — and counted
// by type (slipstream's catalog, or "other": the labels stay bounded).
//
// It is slipstream's own binary (`slipstream serve dead-letters`), so ko
// pins its image by digest as it pins the functions'. It takes the Broker's
// deliveries with their OIDC token like every function, and acknowledges
// each (202): a dead letter is never sent on. Never part of the all-in-one
// handler (its catch-all would take the other functions' unknown types).
package deadletters
