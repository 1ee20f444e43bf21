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
// superseded there by a newer version of the same Service (must be 0).
func P4(ctx context.Context, work string, instances []int) (Section, error) {
	const services, versions = 50, 4
	sec := Section{Title: "P4 burst",
		Intro: fmt.Sprintf("%d pushes across %d Services (%d versions each, in random order) sent to intake within one second; "+
			"promote instances share the repository (git http-backend), each with its own clone. *until committed* is from "+
			"the first push sent to the last commit taken by the Git server. The baseline is one instance.", services*versions, services, versions)}
	var base Summary
	for _, n := range instances {
		dir, err := os.MkdirTemp(work, fmt.Sprintf("p4-%d-", n))
		if err != nil {
			return sec, err
		}
		bare, err := seedRepo(ctx, dir, configRepo(services))
		if err != nil {
			return sec, err
		}
		srv, err := startGit(bare)
		if err != nil {
			return sec, err
		}
		p, err := startPushPipeline(srv.URL, n)
		if err != nil {
			srv.Close()
			return sec, err
		}
		type push struct {
			app, tag, digest string
			version          int
		}
		var pushes []push
		for v := range versions {
			for i := range services {
				tag := fmt.Sprintf("1.0.%d", v)
				pushes = append(pushes, push{app: appName(i), tag: tag, digest: digest(fmt.Sprintf("p4-%d-%d-%d", n, i, v)), version: v})
			}
		}
		shuffle(pushes)
		var last time.Time
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
		start := time.Now()
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
				p.Close()
				srv.Close()
				return sec, err
			}
		}
		p.Wait()
		close(stopWatch)
		<-watched
		p.Close()
		lastMu.Lock()
		took := last.Sub(start)
		lastMu.Unlock()
		history, err := git(ctx, "--git-dir", bare, "log", "-p", "main")
		if err != nil {
			srv.Close()
			return sec, err
		}
		count, err := git(ctx, "--git-dir", bare, "rev-list", "--count", "main")
		if err != nil {
			srv.Close()
			return sec, err
		}
		commits, _ := strconv.Atoi(strings.TrimSpace(count))
		commits-- // the seed
		newest := map[string]int{}
		for _, ps := range pushes {
			if strings.Contains(history, ps.digest) && ps.version >= newest[ps.app] {
				newest[ps.app] = ps.version + 1
			}
		}
		lost := 0
		for _, ps := range pushes {
			if !strings.Contains(history, ps.digest) && newest[ps.app] <= ps.version {
				lost++
			}
		}
		refused := srv.receives.Load() - int64(commits)
		srv.Close()
		s := Summary{N: 1, Median: took, P99: took}
		if n == instances[0] {
			base = s
		}
		f := Timing(fmt.Sprintf("until committed, %d promote instance(s)", n), s, "one instance", base)
		if n == instances[0] {
			f = Timing(fmt.Sprintf("until committed, %d promote instance(s)", n), s, "", Summary{})
		}
		sec.Figures = append(sec.Figures, f,
			Figure{Name: fmt.Sprintf("commits, pushes refused and retried, pushes lost — %d instance(s)", n),
				Median: fmt.Sprintf("%d commits, %d refused, %d lost", commits, refused, lost)}.
				Against("0 lost, commits ≤ pushes", lost == 0 && commits <= len(pushes), fmt.Sprintf("%d lost, %d commits", lost, commits)))
	}
	sec.Notes = `Nothing is lost and there are fewer commits than pushes: promote commits what each event decides, and a
push mid-rollout replaces the candidate. More instances do not finish sooner: every commit is to one branch, so
instances that commit at once are refused by the Git server (the branch moved), fetch, decide again on the new head and
retry — the refused pushes above. The branch is the bottleneck, by design: it serialises the decisions.`
	return sec, nil
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
