package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/steer"
)

// steerHelp is the help of each steering command.
var steerHelp = map[steer.Command]string{
	steer.Promote: `Skips the remaining steps of the Service's rollout: the candidate gets
all the traffic once Ready and becomes the stable revision. Sets
slipstream.dev/promote: "now" on the live Service.`,
	steer.Abort: `Rolls the Service's candidate back now: all traffic to the stable
revision, the candidate's digest quarantined, Git reverted by promote. Sets
slipstream.dev/abort: "<reason>" on the live Service.`,
	steer.Pause: `Holds the Service's rollout where it is (phase Paused) until resumed.
Sets slipstream.dev/paused: "true" on the live Service.`,
	steer.Resume: `Lets a paused rollout go on (the step's pause starts again), whether a
person paused it or its analysis stayed inconclusive. Removes
slipstream.dev/paused, or sets it to "false" for a hold by the analysis.`,
}

const steerHelpTail = `

The command acts only on the rollout in progress when it runs: it is refused,
saying why, when the phase does not allow it, and if the Service changes to
another candidate before the write lands, nothing is set. rollout removes the
control when that rollout ends. It uses your kubeconfig as 'slipstream
status' does (--kubeconfig, --context, -n); you need permission to patch
Knative Services there. docs/status.md has more.`

func steerCommand(cmd steer.Command, summary string) command {
	return command{name: string(cmd), args: "[-n namespace] <service>", summary: summary, help: steerHelp[cmd] + steerHelpTail,
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return runSteer(ctx, cmd, args, stdout, stderr)
		}}
}

// kubeFlags are the kubeconfig flags the cluster commands share.
type kubeFlags struct{ namespace, kubeconfig, kubecontext string }

func (k *kubeFlags) define(fs *flag.FlagSet) {
	for _, n := range []string{"n", "namespace"} {
		fs.StringVar(&k.namespace, n, k.namespace, "namespace (default: the kubeconfig context's)")
	}
	fs.StringVar(&k.kubeconfig, "kubeconfig", k.kubeconfig, "kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
	fs.StringVar(&k.kubecontext, "context", k.kubecontext, "kubeconfig context (default: the current one)")
}

// problem says what is wrong with the flags ("" when nothing is).
func (k *kubeFlags) problem() string {
	if k.namespace != "" && !eventing.IsNamespace(k.namespace) {
		return fmt.Sprintf("-n %q is not a namespace name", k.namespace)
	}
	return ""
}

// scopeFlags are the flags of the commands that read one namespace or all.
type scopeFlags struct {
	kubeFlags
	all bool
}

func (s *scopeFlags) define(fs *flag.FlagSet) {
	s.kubeFlags.define(fs)
	for _, n := range []string{"A", "all-namespaces"} {
		fs.BoolVar(&s.all, n, s.all, "every namespace")
	}
}

func (s *scopeFlags) problem() string {
	if s.all && s.namespace != "" {
		return "-A and -n contradict each other: every namespace, or one"
	}
	return s.kubeFlags.problem()
}

// connect reads the kubeconfig: the serving client, and the namespace (-n,
// else the context's).
func (k *kubeFlags) connect() (servingclient.Interface, string, error) {
	serving, ctxNamespace, err := servingFor(k.kubeconfig, k.kubecontext)
	if err != nil || k.namespace != "" {
		return serving, k.namespace, err
	}
	return serving, ctxNamespace, nil
}

// connect is kubeFlags' with every namespace for -A.
func (s *scopeFlags) connect() (servingclient.Interface, string, error) {
	serving, namespace, err := s.kubeFlags.connect()
	if s.all {
		namespace = metav1.NamespaceAll
	}
	return serving, namespace, err
}

// parseAround parses flags before, between and after the arguments (abort
// hello -n prod): define's defaults are the values so far, so each pass
// keeps what the ones before it parsed.
func parseAround(c command, args []string, stdout, stderr io.Writer, define func(*flag.FlagSet)) ([]string, int, bool) {
	var positional []string
	for {
		rest, code, ok := parseFlags(c, args, stdout, stderr, define)
		if !ok {
			return nil, code, false
		}
		if len(rest) == 0 {
			return positional, exitOK, true
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
}

func runSteer(ctx context.Context, cmd steer.Command, args []string, stdout, stderr io.Writer) int {
	c, _ := findCommand(string(cmd))
	var k kubeFlags
	reason := "slipstream abort"
	rest, code, ok := parseAround(c, args, stdout, stderr, func(fs *flag.FlagSet) {
		k.define(fs)
		if cmd == steer.Abort {
			fs.StringVar(&reason, "reason", reason, "why: recorded in the rollout state, the rollback's Event and the Git commit")
		}
	})
	if !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "slipstream %s: "+format+"\n", append([]any{cmd}, a...)...)
		return code
	}
	switch {
	case len(rest) != 1:
		return fail(exitUsage, "takes one Service name, got %q", rest)
	case len(validation.IsDNS1035Label(rest[0])) > 0:
		return fail(exitUsage, "%q is not a Knative Service name", rest[0])
	case k.problem() != "":
		return fail(exitUsage, "%s", k.problem())
	}
	serving, namespace, err := k.connect()
	if err != nil {
		return fail(exitError, "reading the kubeconfig: %v", err)
	}
	k.namespace = namespace
	a, err := steer.Apply(ctx, serving, k.namespace, rest[0], cmd, reason)
	switch {
	case errors.Is(err, steer.ErrRefused):
		return fail(exitError, "%v", err)
	case err != nil:
		return fail(exitError, "%s/%s: %v", k.namespace, rest[0], err)
	case !a.Changes():
		fmt.Fprintf(stdout, "%s/%s: nothing to change: %s\n", k.namespace, rest[0], a.Next)
	default:
		fmt.Fprintf(stdout, "%s/%s: %s set. Next: %s.\nFollow it with: slipstream status -w -n %s %s\n", k.namespace, rest[0], cmd, a.Next, k.namespace, rest[0])
	}
	return exitOK
}
