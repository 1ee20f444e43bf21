// Package issuer is the local pipeline's stand-in for a cluster's
// ServiceAccount token issuer: the key that Knative Eventing's OIDC
// delivery has the cluster sign a Trigger's tokens with. The embedded
// broker mints each delivery's token here (`slipstream dev`, `make demo`),
// and the functions verify it exactly as they verify a cluster's: the
// issuer's OpenID discovery document and JWKS are served over HTTP, at
// Kubernetes' paths (/.well-known/openid-configuration, /openid/v1/jwks).
//
// The key is an ECDSA P-256 key made at start (ES256), never written down:
// tokens from an earlier run do not verify.
package issuer
