package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/slipstream-cd/slipstream/internal/serve"
)

// listen opens the serving socket; tests replace it to use a loopback port.
var listen serve.Listen = serve.ListenTCP

func knownFunctions() string {
	if names := serve.Names(); len(names) > 0 {
		return strings.Join(names, ", ")
	}
	return "(none yet)"
}

func serveHelp() string {
	return `Serves one slipstream function the way Knative expects:
  POST /            CloudEvents (binary or structured JSON); replies with the follow-up event
  POST /webhooks/*  the function's raw webhooks (intake: registries; rollback: Alertmanager)
  GET  /healthz     liveness
  GET  /readyz      readiness (503 while draining)
  GET  /metrics     Prometheus metrics

Listens on $PORT (default 8080) and logs JSON to standard error. SIGTERM drains
in-flight requests within SLIPSTREAM_SHUTDOWN_GRACE, then exits 0.
Settings: docs/operations.md.

Functions: ` + knownFunctions() + `

Exit codes: 0 stopped cleanly, 1 bad settings or serving failed, 2 usage error.`
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, _ := findCommand("serve")
	rest, code, ok := parseFlags(c, args, stdout, stderr, nil)
	if !ok {
		return code
	}
	if len(rest) != 1 {
		fmt.Fprintf(stderr, "slipstream serve: expected one function name, got %d arguments; known functions: %s\n", len(rest), knownFunctions())
		return exitUsage
	}
	err := serve.Run(ctx, rest[0], listen, stderr)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, serve.ErrUnknownFunction):
		fmt.Fprintf(stderr, "slipstream serve: %v; known functions: %s\n", err, knownFunctions())
		return exitUsage
	}
	fmt.Fprintf(stderr, "slipstream serve %s: %v\n", rest[0], err)
	return exitError
}
