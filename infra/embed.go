package infra

import (
	"embed"
	"io/fs"
)

// Files holds the manifests, so the local broker (`slipstream dev` and `make
// demo`) routes with the very Trigger objects a cluster gets.
//
//go:embed base/*.yaml overlays/*/*.yaml
var Files embed.FS

// Base returns the content of every manifest file of base/, in name order.
func Base() ([][]byte, error) {
	files, err := fs.Glob(Files, "base/*.yaml")
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(files))
	for _, f := range files {
		b, err := fs.ReadFile(Files, f)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
