// Command build builds the peers the e2e tier runs into the cache (see
// package peers): `go run ./e2e/peers/build` from the repository root.
package main

import (
	"fmt"
	"os"

	"github.com/slipstream-cd/slipstream/e2e/peers"
)

func main() {
	root, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := peers.Build(root, peers.Cache(root), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
