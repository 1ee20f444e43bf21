package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/local/sim"
	"github.com/slipstream-cd/slipstream/policy"
)

// Hop is one measured stretch of the story.
type Hop struct {
	What string
	Took time.Duration
}

// Summary is what the story showed.
type Summary struct {
	Hops    []Hop
	Traffic []string // the live traffic states of the 1.1.0 rollout, in order
	GitLog  []string // git log --oneline of the config repository
	Took    time.Duration
}

// Story runs the scripted demo on a started Env and fails when the story did
// not happen: first deploy, progressive rollout, bad release rolled back with
// Git reverted and the digest quarantined, quarantined digest refused, and a
// person's template change rolled out as a candidate, rolled back, and the
// stable template restored in Git.
func Story(ctx context.Context, e *Env) (Summary, error) {
	if e.Cluster == nil || e.Bare == "" || e.Repo != "file://"+e.Bare {
		return Summary{}, fmt.Errorf("the story runs on the simulated cluster and the local repository only")
	}
	start := time.Now()
	var sum Summary
	hop := func(what string, since time.Time) { sum.Hops = append(sum.Hops, Hop{what, time.Since(since)}) }
	image := e.Registry + "/team/hello"

	// 1. First deploy.
	e.chapter("▶ push 1.0.0 (first deploy)")
	t := time.Now()
	d1, err := push(image, "1.0.0")
	if err != nil {
		return sum, err
	}
	if err := e.waitState(ctx, "1.0.0 to be promoted", 20*time.Second, func(s policy.State, _ *servingv1.Service) bool {
		return s.Phase == policy.Promoted && strings.HasSuffix(s.StableImage, d1)
	}); err != nil {
		return sum, err
	}
	hop("1.0.0: push → first deploy live and stable", t)

	// 2. A progressive rollout.
	e.chapter("▶ push 1.1.0 (rolled out 10 → 25 → 50 → 100%%)")
	t = time.Now()
	d2, err := push(image, "1.1.0")
	if err != nil {
		return sum, err
	}
	var committed time.Time
	var good string // 1.1.0's revision: slipstream names it after its template
	if err := e.waitState(ctx, "1.1.0 to be promoted", 40*time.Second, func(s policy.State, live *servingv1.Service) bool {
		if committed.IsZero() && s.Candidate != "" && strings.HasSuffix(s.CandidateImage, d2) {
			committed = time.Now()
			hop("1.1.0: push → candidate committed and synced at 0%", t)
		}
		if tr := sim.TrafficOf(live); len(sum.Traffic) == 0 || sum.Traffic[len(sum.Traffic)-1] != tr {
			sum.Traffic = append(sum.Traffic, tr)
		}
		good = s.Stable
		return s.Phase == policy.Promoted && strings.HasSuffix(s.StableImage, d2)
	}); err != nil {
		return sum, err
	}
	hop("1.1.0: candidate committed → promoted after 4 steps", committed)

	// 3. A bad release: the alert rolls it back.
	e.chapter("▶ push 1.2.0 (bad: answers with errors)")
	bad, err := random.Image(512, 1)
	if err != nil {
		return sum, err
	}
	d3digest, err := bad.Digest()
	if err != nil {
		return sum, err
	}
	d3 := d3digest.String()
	e.Traffic.MarkBad(image + ":1.2.0@" + d3)
	t = time.Now()
	if err := write(image, "1.2.0", bad); err != nil {
		return sum, err
	}
	var candidateLive, rolledBack time.Time
	var bad3 string // 1.2.0's revision
	if err := e.waitState(ctx, "1.2.0 to be rolled back in the cluster", 30*time.Second, func(s policy.State, live *servingv1.Service) bool {
		if bad3 == "" && s.Candidate != "" && strings.HasSuffix(s.CandidateImage, d3) {
			bad3 = s.Candidate
		}
		if candidateLive.IsZero() && bad3 != "" && strings.Contains(sim.TrafficOf(live), bad3+" 10%") {
			candidateLive = time.Now()
			hop("1.2.0: push → candidate live at 10%", t)
		}
		return bad3 != "" && s.Phase == policy.RolledBack && s.Stable == good && onlyStable(live, good)
	}); err != nil {
		return sum, err
	}
	rolledBack = time.Now()
	// From now on, nothing may give the rolled-back candidate traffic again:
	// not the sync of the Git that still shows the step, not a redelivery.
	stopWatch, violated := e.watchNoTraffic(ctx, bad3)
	defer stopWatch()
	if !candidateLive.IsZero() {
		hop("1.2.0: candidate live → alert fired and traffic back on stable", candidateLive)
	}
	if err := e.waitFor(ctx, "Git to be reverted and the digest quarantined", 15*time.Second, func() bool {
		m, err := e.manifest()
		return err == nil && strings.Contains(m, policy.AnnotationQuarantine+": "+d3) && strings.Contains(m, "image: "+image+":1.1.0@"+d2)
	}); err != nil {
		return sum, err
	}
	hop("1.2.0: cluster rolled back → Git reverted, digest quarantined", rolledBack)

	// 4. The same bad digest again: refused.
	e.chapter("▶ push 1.2.0 again (quarantined: refused)")
	e.clock.Advance(dedupWindow) // later: a new push of the same image, not a retry intake would absorb
	before, err := e.head()
	if err != nil {
		return sum, err
	}
	again, err := name.NewTag(image + ":1.2.0")
	if err != nil {
		return sum, err
	}
	if err := remote.Put(again, bad); err != nil { // the manifest PUT a registry client sends for an existing image
		return sum, err
	}
	if err := e.waitFor(ctx, "promote to refuse the quarantined digest", 15*time.Second, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.refused[d3]
	}); err != nil {
		return sum, err
	}
	if after, err := e.head(); err != nil || after != before {
		return sum, fmt.Errorf("the quarantined digest made a commit (head %s, was %s; %v)", after, before, err)
	}
	if s, live, err := e.state(ctx); err != nil || s.Stable != good || !onlyStable(live, good) {
		return sum, fmt.Errorf("after the refused push the Service is not on 1.1.0 alone: %+v", s)
	}
	if v := violated(); v != "" {
		return sum, fmt.Errorf("after the rollback the rolled-back candidate got traffic again: %s", v)
	}
	stopWatch()

	// 5. A person changes the template in Git: a candidate like a push.
	if err := e.templateChange(ctx, &sum, image+":1.1.0@"+d2, good, bad3); err != nil {
		return sum, err
	}
	sum.GitLog, err = e.gitLog()
	sum.Took = time.Since(start)
	return sum, err
}

// The configuration a person adds in chapter 5: it breaks the app.
const badEnvName, badEnvValue = "DATABASE_URL", "postgres://db.invalid/shop"

// templateChange is chapter 5: a person adds an environment variable to the
// template in Git and deletes its revision name, as docs/gitops.md allows.
// Knative names the new revision; rollout rolls it out as a candidate (no
// image was pushed), the configuration is bad, the alert rolls it back, and
// promote restores the template that made the stable revision — with the
// stable name over the person's template Knative would refuse it
// (RevisionNameTaken) and the Service's traffic would freeze. The digest,
// the stable one's, is not quarantined.
func (e *Env) templateChange(ctx context.Context, sum *Summary, stableImage, good, rolledBack string) error {
	// The person edits what runs: the revert of the chapter before, synced.
	if err := e.waitState(ctx, "the cluster to run "+good+"'s template again", 15*time.Second, func(_ policy.State, live *servingv1.Service) bool {
		return live.Generation == live.Status.ObservedGeneration && live.Status.LatestCreatedRevisionName == good
	}); err != nil {
		return err
	}
	e.chapter("▶ a person edits the template in Git (%s, revision name deleted)", badEnvName)
	e.Traffic.MarkBadEnv(badEnvName, badEnvValue)
	before, err := e.manifest()
	if err != nil {
		return err
	}
	edited := before
	for _, r := range [][2]string{
		{"      name: " + good + "\n", ""},
		{"          name: user-container\n", "          name: user-container\n          env:\n            - name: " + badEnvName + "\n              value: " + badEnvValue + "\n"},
	} {
		if !strings.Contains(edited, r[0]) {
			return fmt.Errorf("the manifest has no %q to edit:\n%s", strings.TrimSpace(r[0]), edited)
		}
		edited = strings.Replace(edited, r[0], r[1], 1)
	}
	t := time.Now()
	if err := e.commitAsPerson(ctx, "apps/"+service+"/service.yaml", edited, "hello: connect to the new database"); err != nil {
		return err
	}
	var person string // the revision Knative made of the person's template
	var live10 time.Time
	if err := e.waitState(ctx, "the person's template to be rolled out and rolled back", 30*time.Second, func(s policy.State, live *servingv1.Service) bool {
		if person == "" && s.Candidate != "" && s.Candidate != good && s.Candidate != rolledBack && live.Status.LatestCreatedRevisionName == s.Candidate {
			person = s.Candidate
		}
		if live10.IsZero() && person != "" && strings.Contains(sim.TrafficOf(live), person+" 10%") {
			live10 = time.Now()
			sum.Hops = append(sum.Hops, Hop{"template edit: commit → candidate live at 10%", live10.Sub(t)})
		}
		return person != "" && s.Phase == policy.RolledBack && s.Candidate == person && onlyStable(live, good)
	}); err != nil {
		return err
	}
	if live10.IsZero() {
		return fmt.Errorf("the person's revision %s was rolled back without getting its first step", person)
	}
	stopWatch, violated := e.watchNoTraffic(ctx, person)
	defer stopWatch()
	if err := e.waitFor(ctx, "Git to hold the template that made "+good+" again", 15*time.Second, func() bool {
		m, err := e.manifest()
		return err == nil && !strings.Contains(m, badEnvName) && strings.Contains(m, "name: "+good+"\n") && strings.Contains(m, "image: "+stableImage)
	}); err != nil {
		return err
	}
	if err := e.waitState(ctx, "the Service to be Ready on "+good+" (not RevisionNameTaken)", 15*time.Second, func(s policy.State, live *servingv1.Service) bool {
		return live.IsReady() && live.Generation == live.Status.ObservedGeneration && live.Status.LatestCreatedRevisionName == good && onlyStable(live, good)
	}); err != nil {
		return err
	}
	sum.Hops = append(sum.Hops, Hop{"template edit: candidate live → rolled back, template restored in Git", time.Since(live10)})
	m, err := e.manifest()
	if err != nil {
		return err
	}
	if _, digest, _ := strings.Cut(stableImage, "@"); strings.Contains(quarantineOf(m), digest) {
		return fmt.Errorf("the stable digest was quarantined (%s): the template changed, not the image", quarantineOf(m))
	}
	if v := violated(); v != "" {
		return fmt.Errorf("after the rollback the person's revision got traffic again: %s", v)
	}
	return nil
}

// quarantineOf is the slipstream.dev/quarantine line of a manifest.
func quarantineOf(manifest string) string {
	for _, line := range strings.Split(manifest, "\n") {
		if strings.Contains(line, policy.AnnotationQuarantine+":") {
			return line
		}
	}
	return ""
}

// commitAsPerson commits one file to the config repository as a person
// would, pushing again when promote pushed in between.
func (e *Env) commitAsPerson(ctx context.Context, path, content, msg string) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = commitFile(e.Bare, path, content, msg); err == nil || !errors.Is(err, git.ErrNonFastForwardUpdate) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return err
}

// commitFile clones bare, writes one file, commits and pushes.
func commitFile(bare, path, content, msg string) error {
	work, err := os.MkdirTemp("", "slipstream-person-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	repo, err := git.PlainClone(work, false, &git.CloneOptions{URL: bare, ReferenceName: "refs/heads/main"})
	if err != nil {
		return err
	}
	return commitAndPush(repo, work, path, content, msg)
}

// watchNoTraffic samples the live Service every few milliseconds (one of
// the Env's loops) until stopped, and remembers the first time its spec or
// status gave revision any traffic.
func (e *Env) watchNoTraffic(ctx context.Context, revision string) (stop func(), violated func() string) {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var first string
	e.loop(ctx, 5*time.Millisecond, func(ctx context.Context) error {
		_, live, err := e.state(ctx)
		if err != nil {
			return nil // the next sample
		}
		for _, list := range [][]servingv1.TrafficTarget{live.Spec.Traffic, live.Status.Traffic} {
			for _, t := range list {
				if t.RevisionName == revision && t.Percent != nil && *t.Percent > 0 {
					mu.Lock()
					if first == "" {
						first = fmt.Sprintf("%d%% at %s", *t.Percent, time.Now().Format("15:04:05.000"))
					}
					mu.Unlock()
				}
			}
		}
		return nil
	})
	return cancel, func() string { mu.Lock(); defer mu.Unlock(); return first }
}

func onlyStable(live *servingv1.Service, rev string) bool {
	return len(live.Status.Traffic) == 1 && live.Status.Traffic[0].RevisionName == rev && *live.Status.Traffic[0].Percent == 100
}

func push(image, tag string) (string, error) {
	img, err := random.Image(512, 1)
	if err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), write(image, tag, img)
}

func write(image, tag string, img v1.Image) error {
	ref, err := name.NewTag(image + ":" + tag)
	if err != nil {
		return err
	}
	return remote.Write(ref, img)
}

func (e *Env) state(ctx context.Context) (policy.State, *servingv1.Service, error) {
	live, err := e.Serving.ServingV1().Services(namespace).Get(ctx, service, metav1.GetOptions{})
	if err != nil {
		return policy.State{}, nil, err
	}
	s, err := policy.LiveState(live.Annotations)
	return s, live, err
}

func (e *Env) waitState(ctx context.Context, what string, timeout time.Duration, ok func(policy.State, *servingv1.Service) bool) error {
	return e.waitFor(ctx, what, timeout, func() bool {
		s, live, err := e.state(ctx)
		return err == nil && ok(s, live)
	})
}

func (e *Env) waitFor(ctx context.Context, what string, timeout time.Duration, ok func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for !ok() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-poll.C:
		case <-deadline.C:
			s, live, _ := e.state(ctx)
			traffic := ""
			if live != nil {
				traffic = sim.TrafficOf(live)
			}
			return fmt.Errorf("waited %s for %s; the Service is %s (%s), traffic %s", timeout, what, s.Phase, s.Reason, traffic)
		}
	}
	return nil
}

// headCommit is the commit at main of the local config repository.
func (e *Env) headCommit() (*git.Repository, *object.Commit, error) {
	repo, err := git.PlainOpen(e.Bare)
	if err != nil {
		return nil, nil, err
	}
	ref, err := repo.Reference("refs/heads/main", true)
	if err != nil {
		return nil, nil, err
	}
	c, err := repo.CommitObject(ref.Hash())
	return repo, c, err
}

func (e *Env) head() (string, error) {
	_, c, err := e.headCommit()
	if err != nil {
		return "", err
	}
	return c.Hash.String(), nil
}

func (e *Env) manifest() (string, error) {
	_, c, err := e.headCommit()
	if err != nil {
		return "", err
	}
	f, err := c.File("apps/" + service + "/service.yaml")
	if err != nil {
		return "", err
	}
	return f.Contents()
}

func (e *Env) gitLog() ([]string, error) {
	repo, head, err := e.headCommit()
	if err != nil {
		return nil, err
	}
	iter, err := repo.Log(&git.LogOptions{From: head.Hash})
	if err != nil {
		return nil, err
	}
	var out []string
	err = iter.ForEach(func(c *object.Commit) error {
		subject, _, _ := strings.Cut(c.Message, "\n")
		out = append(out, c.Hash.String()[:7]+" "+subject)
		return nil
	})
	return out, err
}
