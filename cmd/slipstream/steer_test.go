package main

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipstream-cd/slipstream/policy"
)

// TestSteer drives statusCluster's hello (Progressing, step 1 of 4) and cart
// (Promoted, in shop) through the commands, each reading what the one before set.
func TestSteer(t *testing.T) {
	cs := statusCluster(t)
	annotations := func(ns, name string) map[string]string {
		t.Helper()
		s, err := cs.ServingV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s.Annotations
	}
	steps := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr []string
		key, want      string // the annotation afterwards ("" absent)
	}{
		{name: "pause", args: []string{"pause", "hello"}, stdout: []string{"demo/hello: pause set. Next: rollout holds hello-00002 at step 1/4 (10%)", "slipstream status -w -n demo hello"}, key: policy.AnnotationPaused, want: "true"},
		{name: "pause again", args: []string{"pause", "hello"}, stdout: []string{"nothing to change: already paused"}, key: policy.AnnotationPaused, want: "true"},
		{name: "promote while paused", args: []string{"promote", "hello"}, stdout: []string{"promote set", "once resumed (slipstream resume hello)"}, key: policy.AnnotationPromote, want: "now"},
		{name: "resume", args: []string{"resume", "hello"}, stdout: []string{"resume set. Next: rollout resumes hello-00002"}, key: policy.AnnotationPaused},
		{name: "resume again", args: []string{"resume", "hello"}, code: exitError, stderr: []string{"slipstream resume: refused: demo/hello: not paused (phase Progressing"}},
		{name: "abort with a reason, flags after the name", args: []string{"abort", "hello", "--reason", "p99 doubled", "-n", "demo"}, stdout: []string{"abort set. Next: rollout sends all traffic back to hello-00001"}, key: policy.AnnotationAbort, want: "p99 doubled"},
		{name: "a Service with no rollout in progress", args: []string{"pause", "-n", "shop", "cart"}, code: exitError, stderr: []string{"refused: shop/cart: no rollout in progress to pause (phase Promoted)"}},
		{name: "an unmanaged Service", args: []string{"abort", "plain"}, code: exitError, stderr: []string{"demo/plain: not managed by slipstream"}},
		{name: "a missing Service", args: []string{"promote", "nope"}, code: exitError, stderr: []string{`slipstream promote: demo/nope: services.serving.knative.dev "nope" not found`}},
		{name: "no Service", args: []string{"pause"}, code: exitUsage, stderr: []string{"takes one Service name"}},
		{name: "two Services", args: []string{"pause", "a", "b"}, code: exitUsage, stderr: []string{`takes one Service name, got ["a" "b"]`}},
		{name: "a bad name", args: []string{"pause", "Hello!"}, code: exitUsage, stderr: []string{`"Hello!" is not a Knative Service name`}},
		{name: "a bad namespace", args: []string{"pause", "-n", "Shop", "cart"}, code: exitUsage, stderr: []string{`-n "Shop" is not a namespace name`}},
		{name: "--reason belongs to abort", args: []string{"pause", "hello", "--reason", "x"}, code: exitUsage, stderr: []string{"flag provided but not defined: -reason"}},
		{name: "help", args: []string{"abort", "--help"}, stdout: []string{"Usage: slipstream abort [-n namespace] <service>", "-reason", "-kubeconfig", "nothing is set"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			checkRun(t, s.args, s.code, s.stdout, s.stderr, nil)
			if s.key == "" {
				return
			}
			if got, ok := annotations("demo", "hello")[s.key]; got != s.want || ok != (s.want != "") {
				t.Errorf("%s = %q (present %v), want %q", s.key, got, ok, s.want)
			}
		})
	}
	checkRun(t, []string{"help"}, exitOK, []string{"promote       skip a rollout's remaining steps", "resume        let a paused rollout go on"}, nil, nil)
}

// TestAsAKubectlPlugin: installed as kubectl-slipstream, usage names the
// command as kubectl runs it.
func TestAsAKubectlPlugin(t *testing.T) {
	old := prog
	prog = "kubectl slipstream"
	t.Cleanup(func() { prog = old })
	checkRun(t, []string{"pause", "--help"}, exitOK, []string{"Usage: kubectl slipstream pause [-n namespace] <service>"}, nil, nil)
	checkRun(t, []string{"help"}, exitOK, []string{"kubectl slipstream <command> [arguments]", "Run 'kubectl slipstream <command> --help'"}, nil, nil)
}
