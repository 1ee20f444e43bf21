package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/slipstream-cd/slipstream/internal/steer"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // bad settings, or serving failed
	exitUsage = 2 // unknown command or function, bad flags
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// prog is how usage names the command: "kubectl slipstream" when kubectl
// runs it as the plugin kubectl-slipstream.
var prog = "slipstream"

type command struct {
	name    string
	args    string
	summary string
	help    string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{name: "serve", args: "<function>", summary: "serve one function over HTTP on $PORT", help: serveHelp(), run: runServe},
		{name: "demo", summary: "tell the whole story on this machine, in under a minute", help: demoHelp, run: runDemo},
		{name: "dev", args: "[flags]", summary: "run the whole pipeline on this machine until interrupted", help: devHelp, run: runDev},
		{name: "status", args: "[-n namespace | -A] [-o table|json|yaml] [-w] [service]", summary: "show where each managed Service's rollout is", help: statusHelp, run: runStatus},
		{name: "dashboard", args: "[-n namespace | -A] [--listen addr] [--repo dir]", summary: "serve a live web page of the rollouts", help: dashboardHelp, run: runDashboard},
		steerCommand(steer.Promote, "skip a rollout's remaining steps"),
		steerCommand(steer.Abort, "roll a rollout's candidate back now"),
		steerCommand(steer.Pause, "hold a rollout where it is"),
		steerCommand(steer.Resume, "let a paused rollout go on"),
		{name: "retry", args: "[-n namespace] [--repo dir] <service>", summary: "roll out again what the last rollback rolled back (a Git commit)", help: retryHelp, run: runRetry},
		{name: "unquarantine", args: "[-n namespace] [--repo dir] <service> <digest>", summary: "allow a quarantined digest again (a Git commit)", help: unquarantineHelp, run: runUnquarantine},
		{name: "version", summary: "print the version", help: "Prints slipstream's version, Go version and platform.", run: printVersion},
	}
}

const topHelp = `slipstream: progressive delivery for Knative, made of small serverless functions.

Usage:
  %[1]s <command> [arguments]

Commands:
%[2]s
Run '%[1]s <command> --help' for more about a command.
Settings come from SLIPSTREAM_* environment variables (docs/operations.md).
`

// run is the whole command line; it returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			if c, ok := findCommand(args[1]); ok {
				commandUsage(stdout, c)
				return exitOK
			}
		}
		usage(stdout)
		return exitOK
	}
	c, ok := findCommand(args[0])
	if !ok {
		fmt.Fprintf(stderr, "slipstream: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func findCommand(name string) (command, bool) {
	i := slices.IndexFunc(commands(), func(c command) bool { return c.name == name })
	if i < 0 {
		return command{}, false
	}
	return commands()[i], true
}

func usage(w io.Writer) {
	var b strings.Builder
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, topHelp, prog, b.String())
}

func commandUsage(w io.Writer, c command) {
	fmt.Fprintf(w, "Usage: %s %s %s\n\n%s\n", prog, c.name, c.args, c.help)
}

// parseFlags parses a command's flags (define adds them; it may be nil);
// --help prints the command's help and its flags. It returns the remaining
// arguments, or an exit code when the caller should stop.
func parseFlags(c command, args []string, stdout, stderr io.Writer, define func(*flag.FlagSet)) ([]string, int, bool) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if define != nil {
		define(fs)
	}
	usage := func(w io.Writer) {
		commandUsage(w, c)
		if define != nil {
			fmt.Fprintln(w, "\nFlags:")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return nil, exitOK, false
		}
		fmt.Fprintf(stderr, "slipstream %s: %v\n\n", c.name, err)
		usage(stderr)
		return nil, exitUsage, false
	}
	return fs.Args(), exitOK, true
}

func printVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	c, _ := findCommand("version")
	rest, code, ok := parseFlags(c, args, stdout, stderr, nil)
	if !ok {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "slipstream version: takes no arguments, got %q\n", rest)
		return exitUsage
	}
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Fprintf(stdout, "slipstream %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}
