package infra

import "embed"

// Files holds the manifests, so the local broker (`slipstream dev` and `make
// demo`) routes with the very Trigger objects a cluster gets.
//
//go:embed base/*.yaml overlays/*/*.yaml
var Files embed.FS
