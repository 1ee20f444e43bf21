// Package infra holds no Go code of its own: its folder has the Kubernetes and
// Knative manifests that install slipstream (base/ and overlays/), and its
// tests prove them — every document parses into its Go type and passes
// Knative's SetDefaults and Validate, kustomize builds every overlay, every
// event type has a consuming Trigger, every Trigger's subscriber audience and
// identity are what the Service it points at verifies, and func.yaml matches
// its schema.
package infra
