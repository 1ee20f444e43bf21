package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// P4 measures a burst: 200 pushes across 50 Services (four versions each)
// arriving within one second, with one, two and four promote instances
// behind one address, each with its own clone: the time until the last
// push is committed, the commits made, the pushes the Git server refused
// (a branch moved: retried), and the pushes lost — neither in Git nor
// superseded there by a newer version of the same Service (must be 0). The
// baseline is the same pushes arriving one at a time, each once the one
// before was committed, with one instance.
func P4(ctx context.Context, work string, instances []int) (Section, error) {
	sec := Section{Title: "P4 burst",
		Intro: fmt.Sprintf("%d pushes across %d Services (%d versions each, in random order) sent to intake within one second; "+
			"promote instances share the repository (git http-backend), each with its own clone. *until committed* is from "+
			"the first push sent to the last commit taken by the Git server. The baseline, measured in the same run, is the "+
			"same pushes (oldest version first) sent one at a time, each once the one before was committed, to one instance.",
			p4Services*p4Versions, p4Services, p4Versions)}
	base, err := p4Run(ctx, work, 1, false)
	if err != nil {
		return sec, fmt.Errorf("one at a time: %w", err)
	}
	const baseline = "one at a time, 1 instance"
	for _, n := range instances {
		r, err := p4Run(ctx, work, n, true)
		if err != nil {
			return sec, fmt.Errorf("%d instance(s): %w", n, err)
		}
		s := Summary{N: 1, Median: r.took, P99: r.took}
		sec.Figures = append(sec.Figures,
			Timing(fmt.Sprintf("until committed, %d promote instance(s)", n), s, baseline, Summary{N: 1, Median: base.took, P99: base.took}),
			Figure{Name: fmt.Sprintf("commits, pushes refused and retried, pushes lost — %d instance(s)", n),
				Median: fmt.Sprintf("%d commits, %d refused, %d lost", r.commits, r.refused, r.lost), Baseline: baseline,
				BaseMedian: fmt.Sprintf("%d commits, %d refused, %d lost", base.commits, base.refused, base.lost),
				Ratio:      fmt.Sprintf("%.2f× the commits", float64(r.commits)/float64(base.commits))}.
				Against("0 lost, commits ≤ pushes", r.lost == 0 && r.commits <= p4Services*p4Versions, fmt.Sprintf("%d lost, %d commits", r.lost, r.commits)))
	}
	sec.Notes = `Nothing is lost and there are fewer commits than pushes: promote commits what each event decides, and a
push mid-rollout replaces the candidate (one at a time, every push is a commit). More instances do not finish sooner:
every commit is to one branch, so instances that commit at once are refused by the Git server (the branch moved),
fetch, decide again on the new head and retry — the refused pushes above. The branch is the bottleneck, by design: it
serialises the decisions.`
	return sec, nil
}

const p4Services, p4Versions = 50, 4

// p4Result is one P4 run.
type p4Result struct {
	took                   time.Duration
	commits, refused, lost int
}

// p4Run sends the pushes to n promote instances, all within a second
// (burst) or one at a time in version order, each once the one before was
// committed, and reads the outcome from the repository.
func p4Run(ctx context.Context, work string, n int, burst bool) (p4Result, error) {
	dir, err := os.MkdirTemp(work, fmt.Sprintf("p4-%d-", n))
	if err != nil {
		return p4Result{}, err
	}
	bare, err := seedRepo(ctx, dir, configRepo(p4Services))
	if err != nil {
		return p4Result{}, err
	}
	srv, err := startGit(bare)
	if err != nil {
		return p4Result{}, err
	}
	defer srv.Close()
	p, err := startPushPipeline(srv.URL, n)
	if err != nil {
		return p4Result{}, err
	}
	defer p.Close()
	type push struct {
		app, tag, digest string
		version          int
	}
	var pushes []push
	for v := range p4Versions {
		for i := range p4Services {
			pushes = append(pushes, push{app: appName(i), tag: fmt.Sprintf("1.0.%d", v), digest: digest(fmt.Sprintf("p4-%d-%d-%d-%v", n, i, v, burst)), version: v})
		}
	}
	var last time.Time
	start := time.Now()
	if burst {
		shuffle(pushes)
		var lastMu sync.Mutex
		stopWatch := make(chan struct{})
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			for {
				select {
				case at := <-srv.pushed:
					lastMu.Lock()
					last = at
					lastMu.Unlock()
				case <-stopWatch:
					return
				}
			}
		}()
		errs := make(chan error, len(pushes))
		var wg sync.WaitGroup
		for i, ps := range pushes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				select { // spread over the second
				case <-time.After(time.Duration(i) * time.Second / time.Duration(len(pushes))):
				case <-ctx.Done():
				}
				errs <- p.Push(ctx, "team/"+ps.app, ps.tag, ps.digest)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return p4Result{}, err
			}
		}
		p.Wait()
		close(stopWatch)
		<-watched
	} else {
		for _, ps := range pushes {
			if err := p.Push(ctx, "team/"+ps.app, ps.tag, ps.digest); err != nil {
				return p4Result{}, err
			}
			select {
			case last = <-srv.pushed:
			case <-time.After(30 * time.Second):
				return p4Result{}, fmt.Errorf("%s %s was not committed within 30 s", ps.app, ps.tag)
			case <-ctx.Done():
				return p4Result{}, ctx.Err()
			}
		}
		p.Wait()
	}
	history, err := git(ctx, "--git-dir", bare, "log", "-p", "main")
	if err != nil {
		return p4Result{}, err
	}
	count, err := git(ctx, "--git-dir", bare, "rev-list", "--count", "main")
	if err != nil {
		return p4Result{}, err
	}
	r := p4Result{took: last.Sub(start)}
	r.commits, _ = strconv.Atoi(strings.TrimSpace(count))
	r.commits-- // the seed
	newest := map[string]int{}
	for _, ps := range pushes {
		if strings.Contains(history, ps.digest) && ps.version >= newest[ps.app] {
			newest[ps.app] = ps.version + 1
		}
	}
	for _, ps := range pushes {
		if !strings.Contains(history, ps.digest) && newest[ps.app] <= ps.version {
			r.lost++
		}
	}
	r.refused = int(srv.receives.Load()) - r.commits
	return r, nil
}

// shuffle puts pushes in a fixed pseudo-random order (the same each run).
func shuffle[T any](s []T) {
	x := uint64(88172645463325252)
	for i := len(s) - 1; i > 0; i-- {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		j := int(x % uint64(i+1))
		s[i], s[j] = s[j], s[i]
	}
}
