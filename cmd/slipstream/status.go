package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/slipstream-cd/slipstream/internal/status"
)

const statusHelp = `Shows every Knative Service slipstream manages (those with a
slipstream.dev/rollout state): its phase, step n/m, stable and candidate
revisions with their images (tag@short digest), the traffic Knative routes,
the time to the next step, the last analysis and the reason.

It reads the cluster with your kubeconfig ($KUBECONFIG, else ~/.kube/config;
--kubeconfig and --context choose another), in the current context's
namespace unless -n or -A says otherwise. Installed as kubectl-slipstream,
it is also 'kubectl slipstream status'. docs/status.md explains each column.`

// servingFor connects to the cluster of a kubeconfig (tests replace it): the
// serving client and the context's namespace.
var servingFor = func(kubeconfig, kubecontext string) (servingclient.Interface, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubecontext})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", err
	}
	// The webhook's warnings about a Service's spec (Knative's on security
	// defaults) are not what a person asked about; kubectl shows them on
	// kubectl apply, where they belong.
	cfg.WarningHandler = rest.NoWarnings{}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", err
	}
	cs, err := servingclient.NewForConfig(cfg)
	return cs, ns, err
}

// statusNow is the clock of `status` (tests fix it).
var statusNow = time.Now

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, _ := findCommand("status")
	var k scopeFlags
	output := "table"
	var watch bool
	rest, code, ok := parseAround(c, args, stdout, stderr, func(fs *flag.FlagSet) {
		k.define(fs)
		fs.StringVar(&output, "o", output, "output: table, json or yaml")
		fs.BoolVar(&watch, "w", watch, "keep watching: print again on every change (until interrupted)")
	})
	if !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "slipstream status: "+format+"\n", a...)
		return exitUsage
	}
	switch {
	case len(rest) > 1:
		return fail("takes at most one Service name, got %q", rest)
	case output != "table" && output != "json" && output != "yaml":
		return fail("-o %q: must be table, json or yaml", output)
	case k.problem() != "":
		return fail("%s", k.problem())
	case k.all && len(rest) == 1:
		return fail("a Service name needs one namespace, not -A")
	}
	serving, namespace, err := k.connect()
	if err != nil {
		fmt.Fprintf(stderr, "slipstream status: reading the kubeconfig: %v\n", err)
		return exitError
	}
	name := ""
	if len(rest) == 1 {
		name = rest[0]
	}
	var seen, shown string // the resourceVersion and the output last shown
	show := func() error {
		services, rv, err := status.List(ctx, serving, namespace, name)
		if err != nil {
			return err
		}
		seen = rv
		var b bytes.Buffer
		if err := render(&b, output, status.Rows(services), statusNow()); err != nil {
			return err
		}
		if b.String() == shown { // a change to a Service that is not shown, or to nothing shown
			return nil
		}
		if shown != "" {
			fmt.Fprintln(stdout)
		}
		shown = b.String()
		_, err = stdout.Write(b.Bytes())
		return err
	}
	if err := show(); err != nil {
		fmt.Fprintf(stderr, "slipstream status: %v\n", err)
		return exitError
	}
	if !watch {
		return exitOK
	}
	for {
		last := time.Now()
		if err := status.WaitForChange(ctx, serving, namespace, name, seen); err != nil {
			if ctx.Err() != nil {
				return exitOK // interrupted: the end of a watch
			}
			fmt.Fprintf(stderr, "slipstream status: watching: %v\n", err)
			return exitError
		}
		// At most one print a second, whatever the watch does (a storm of
		// changes, or an error it keeps ending with).
		select {
		case <-time.After(time.Until(last.Add(statusMinGap))):
		case <-ctx.Done():
			return exitOK
		}
		if err := show(); err != nil {
			fmt.Fprintf(stderr, "slipstream status: %v\n", err)
			return exitError
		}
	}
}

// statusMinGap is the least time between two prints of `status -w`.
var statusMinGap = time.Second

// render writes rows as the output asks.
func render(w io.Writer, output string, rows []status.Row, now time.Time) error {
	var b []byte
	var err error
	switch output {
	case "json":
		b, err = status.JSON(rows)
	case "yaml":
		b, err = status.YAML(rows)
	default:
		if len(rows) == 0 {
			b = []byte("No Knative Services managed by slipstream here (none has a slipstream.dev/rollout annotation).\n")
		} else {
			b = []byte(status.Table(rows, now))
		}
	}
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
