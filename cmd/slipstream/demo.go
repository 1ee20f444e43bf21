package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/slipstream-cd/slipstream/local/demo"
)

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

const demoHelp = `Runs the whole pipeline on this machine and tells its story:
  push 1.0.0   first deploy
  push 1.1.0   stepped 10 → 25 → 50 → 100%, promoted
  push 1.2.0   bad: an alert rolls it back in the cluster, Git is reverted,
               the digest is quarantined
  push 1.2.0   again: refused, quarantined
then prints git log --oneline of the config repository and the time of each hop.

Everything is local: the four functions on loopback, the embedded broker
routing with infra/'s Triggers, an embedded registry, a bare Git repository,
and simulated Knative, GitOps sync, traffic and alerts.

Exit codes: 0 the story happened, 1 it did not (the error says where it stopped).`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, _ := findCommand("demo")
	rest, code, ok := parseFlags(c, args, stdout, stderr, nil)
	if !ok {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "slipstream demo: takes no arguments, got %q\n", rest)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	e, err := demo.Start(ctx, demo.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "slipstream demo: %v\n", err)
		return exitError
	}
	defer e.Close()
	vctx, stopView := context.WithCancel(ctx)
	view := demo.NewView(e, stdout, isTerminal(stdout))
	go view.Run(vctx)
	sum, err := demo.Story(ctx, e)
	stopView()
	if err != nil {
		fmt.Fprintf(stderr, "\nslipstream demo: the story did not happen: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "\nThe story took %s.\n\nEach hop:\n", sum.Took.Round(time.Millisecond))
	for _, h := range sum.Hops {
		fmt.Fprintf(stdout, "  %-62s %8s\n", h.What, h.Took.Round(time.Millisecond))
	}
	fmt.Fprintf(stdout, "\ngit log --oneline of the config repository (in a temporary folder, removed at exit):\n")
	for _, l := range sum.GitLog {
		fmt.Fprintln(stdout, "  "+l)
	}
	return exitOK
}

const devHelp = `Starts the whole pipeline on this machine and runs until interrupted,
printing every address: push images to the registry (crane, docker, ko)
and watch them roll out.

It uses the embedded broker, registry, config repository (a bare Git
repository in --state) and simulated Knative. Without --state the
repository is in a temporary folder removed at exit; with it, it stays,
and a later run needs a new or empty folder (an earlier run's repository
names images and addresses that are gone). --ports keeps the addresses
the same from run to run.`

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, _ := findCommand("dev")
	var state, gitURL, kubeconfig string
	var pause time.Duration
	var ports int
	rest, code, ok := parseFlags(c, args, stdout, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&ports, "ports", 0, fmt.Sprintf("first of %d fixed loopback ports (%s, in that order), the same every run; 0: free ports, new each run",
			demo.PortCount, strings.Join(demo.PortNames, ", ")))
		fs.StringVar(&state, "state", "", "folder for the local config repository (default: a new temporary folder)")
		fs.DurationVar(&pause, "pause", 5*time.Second, "pause of each rollout step")
		fs.StringVar(&gitURL, "git-url", "", "a real config repository instead of the local one")
		fs.StringVar(&kubeconfig, "kubeconfig", "", "a real cluster with Knative instead of the simulated one (the simulated sync, traffic and alerts are then off)")
	})
	if !ok {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "slipstream dev: takes no arguments, got %q\n", rest)
		return exitUsage
	}
	if err := demo.CheckPorts(ports); err != nil {
		fmt.Fprintf(stderr, "slipstream dev: --ports %v\n", err)
		return exitUsage
	}
	e, err := demo.Start(ctx, demo.Options{StateDir: state, Pause: pause, GitURL: gitURL, Kubeconfig: kubeconfig, Ports: ports})
	if err != nil {
		fmt.Fprintf(stderr, "slipstream dev: %v\n", err)
		return exitError
	}
	defer e.Close()
	fmt.Fprintf(stdout, `slipstream dev: running until interrupted
  dashboard  %s        (open it: the rollouts, live)
  registry   %s        (push to %s/team/hello:<tag>)
  repository %s
  broker     %s
  intake     %s
  promote    %s
  rollout    %s
  rollback   %s
An alert, as Alertmanager sends it (rolls a rollout in progress back):
  %s
`, e.Dashboard, e.Registry, e.Registry, e.Repo, e.Broker, e.Intake, e.Promote, e.Rollout, e.Rollback, e.AlertCurl())
	if e.Kubeconfig != "" {
		fmt.Fprintf(stdout, "slipstream's commands, on this simulated cluster:\n  %s status -w --kubeconfig %s\n  %s pause hello --kubeconfig %s\n",
			prog, e.Kubeconfig, prog, e.Kubeconfig)
	}
	demo.NewView(e, stdout, isTerminal(stdout)).Run(ctx)
	return exitOK
}
