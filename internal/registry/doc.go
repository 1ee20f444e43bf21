// Package registry is the adapter to container registries: it resolves a tag
// to the digest it points at, with a HEAD request (falling back to GET when a
// registry omits Docker-Content-Digest), credentials from a Docker config
// file, and a timeout per request.
//
// What comes in: a tag reference (go-containerregistry name.Tag). What goes
// out: the manifest or index descriptor (digest, media type), or an error
// classified into ErrNotFound (the tag does not exist), ErrDenied (the
// registry refused our credentials) or ErrUnavailable (network, timeout, 5xx:
// worth retrying later). It never retries by itself and never logs.
package registry
