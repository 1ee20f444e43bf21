package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/slipstream-cd/slipstream/functions/promote"
	"github.com/slipstream-cd/slipstream/internal/gitrepo"
	"github.com/slipstream-cd/slipstream/policy"
)

const gitEditTail = `

The edit is promote's own (comments and layout kept) made in your clone of
the config repository (--repo, default the current folder) and committed
there, never pushed: review it (git show), push it, and your GitOps tool
syncs it. A quarantine is a decision about trust, so it changes in Git,
reviewed like any change, not by an annotation on the live Service.
docs/status.md has more.`

const retryHelp = `Rolls out again the candidate the Service's last rollback rolled back
(an alert, a failed analysis, an abort): its digest leaves the quarantine
and the image is pinned as a new candidate beside the stable revision, as a
push of it would be, so the rollout starts again from step 1. The cluster
must show that rollback (phase RolledBack), and your clone must record it.` + gitEditTail

const unquarantineHelp = `Takes a digest out of the Service's slipstream.dev/quarantine list, so
the next push of it is rolled out. (To roll out the last rolled-back
candidate at once, use 'slipstream retry'.) Needs no cluster when -n
names the namespace.` + gitEditTail

// gitTimeout bounds each git command the edits run.
const gitTimeout = time.Minute

// editFlags are the flags of the commands that edit a clone.
type editFlags struct {
	kubeFlags
	repo, paths string
}

func (e *editFlags) define(fs *flag.FlagSet) {
	e.kubeFlags.define(fs)
	fs.StringVar(&e.repo, "repo", e.repo, "a clone of the config repository (any folder inside it)")
	fs.StringVar(&e.paths, "paths", e.paths, "comma-separated folders of the clone holding manifests, as promote's SLIPSTREAM_PROMOTE_PATHS")
}

// gitEditNow is the clock of the edits (tests fix it).
var gitEditNow = time.Now

func runRetry(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runGitEdit(ctx, "retry", 1, args, stdout, stderr)
}

func runUnquarantine(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runGitEdit(ctx, "unquarantine", 2, args, stdout, stderr)
}

func runGitEdit(ctx context.Context, name string, nargs int, args []string, stdout, stderr io.Writer) int {
	c, _ := findCommand(name)
	e := editFlags{repo: ".", paths: "."}
	rest, code, ok := parseAround(c, args, stdout, stderr, e.define)
	if !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "slipstream %s: "+format+"\n", append([]any{name}, a...)...)
		return code
	}
	paths := strings.Split(e.paths, ",")
	switch {
	case len(rest) != nargs:
		return fail(exitUsage, "takes %s, got %q", c.args[strings.Index(c.args, "<"):], rest)
	case len(validation.IsDNS1035Label(rest[0])) > 0:
		return fail(exitUsage, "%q is not a Knative Service name", rest[0])
	case e.problem() != "":
		return fail(exitUsage, "%s", e.problem())
	}
	var rolledBack string
	if name == "retry" || e.namespace == "" {
		serving, namespace, err := e.connect()
		if err != nil {
			return fail(exitError, "reading the kubeconfig (or give -n): %v", err)
		}
		e.namespace = namespace
		if name == "retry" {
			svc, err := serving.ServingV1().Services(e.namespace).Get(ctx, rest[0], metav1.GetOptions{})
			if err != nil {
				return fail(exitError, "%s/%s: %v", e.namespace, rest[0], err)
			}
			st, err := policy.LiveState(svc.Annotations)
			if err != nil {
				return fail(exitError, "%s/%s: %v", e.namespace, rest[0], err)
			}
			if st.Phase != policy.RolledBack {
				return fail(exitError, "refused: %s/%s: the cluster shows no rollback to retry (phase %q): retry rolls out again what a rollback rolled back", e.namespace, rest[0], st.Phase)
			}
			rolledBack = st.Candidate
		}
	}
	root, err := git(ctx, e.repo, nil, "rev-parse", "--show-toplevel")
	if err != nil {
		return fail(exitError, "--repo %q is not in a Git clone: %v", e.repo, err)
	}
	root = strings.TrimSpace(root)
	var change gitrepo.Change
	if name == "retry" {
		change, err = promote.Retry(gitrepo.Dir(root), paths, e.namespace, rest[0], rolledBack, gitEditNow().UTC())
	} else {
		change, err = promote.Unquarantine(gitrepo.Dir(root), paths, e.namespace, rest[0], rest[1])
	}
	if err != nil {
		if errors.Is(err, promote.ErrSteer) {
			return fail(exitError, "refused: %s", strings.TrimPrefix(err.Error(), promote.ErrSteer.Error()+": "))
		}
		return fail(exitError, "%v", err)
	}
	hash, err := commitIn(ctx, root, change)
	if err != nil {
		return fail(exitError, "%v", err)
	}
	subject, _, _ := strings.Cut(change.Message, "\n")
	next := "the next push of " + rest[len(rest)-1] + " is rolled out"
	if name == "retry" {
		next = "rollout starts the candidate again from step 1"
	}
	fmt.Fprintf(stdout, "Committed %s in %s: %s\nNext: review it (git show %s), push it (git push); once your GitOps tool syncs it, %s.\n",
		hash, root, subject, hash, next)
	return exitOK
}

// commitIn writes a change into the clone at root and commits those files
// only; it refuses files with changes of their own not committed yet.
func commitIn(ctx context.Context, root string, c gitrepo.Change) (string, error) {
	files := make([]string, 0, len(c.Files))
	for f := range c.Files {
		files = append(files, f)
	}
	sort.Strings(files)
	dirty, err := git(ctx, root, nil, append([]string{"status", "--porcelain", "--"}, files...)...)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(dirty) != "" {
		return "", fmt.Errorf("refused: the clone has changes not committed to the files this edits; commit or stash them first:\n%s", dirty)
	}
	dir := gitrepo.Dir(root)
	before := map[string][]byte{}
	for _, f := range files {
		if b, err := dir.Read(f); err == nil {
			before[f] = b
		}
	}
	if err := dir.Write(c.Files); err != nil {
		return "", err
	}
	_, err = git(ctx, root, nil, append([]string{"add", "--"}, files...)...)
	if err == nil {
		_, err = git(ctx, root, strings.NewReader(c.Message), append([]string{"commit", "--quiet", "--file=-", "--"}, files...)...)
	}
	if err != nil {
		// Nothing half done: the files as they were, unstaged.
		_ = dir.Write(before)
		_, _ = git(ctx, root, nil, append([]string{"reset", "--quiet", "--"}, files...)...)
		return "", err
	}
	hash, err := git(ctx, root, nil, "rev-parse", "--short", "HEAD")
	return strings.TrimSpace(hash), err
}

// git runs git in dir, bounded in time (gitrepo.Run).
func git(ctx context.Context, dir string, stdin io.Reader, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	return gitrepo.Run(ctx, dir, stdin, args...)
}
