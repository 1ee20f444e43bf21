// Command slipstream runs slipstream's functions: `slipstream serve <function>`
// serves one of them the way Knative expects; every function ships in this one
// binary so nodes cache a single image.
package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	if strings.HasPrefix(filepath.Base(os.Args[0]), "kubectl-slipstream") {
		prog = "kubectl slipstream" // installed as a kubectl plugin: say so in usage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
