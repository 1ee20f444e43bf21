// Package steer is what `slipstream pause|resume|promote|abort <service>`
// set on a managed Knative Service: the manual controls rollout honours
// (policy.AnnotationPaused, AnnotationPromote, AnnotationAbort; see
// docs/rollouts.md, "Manual control").
//
// Decide is pure: from a command and the live Service it returns the
// annotations to set and remove and what happens next, or refuses, naming
// why, when the rollout's phase does not allow the command. Apply reads the
// Service, decides and patches it bound to the rollout it read: the patch
// carries the resourceVersion it decided from, and after a conflict it
// decides again only while the same candidate is rolling out, so a command
// meant for one candidate never lands on the next.
package steer
