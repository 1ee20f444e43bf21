package promote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/policy"
)

// unpinned is a managed Service whose traffic follows the latest revision:
// its stable revision is known only to the cluster (adoption).
const unpinned = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
  namespace: demo
  annotations:
    slipstream.dev/track: semver:^1.0.0
spec:
  template:
    spec:
      containers:
        - image: registry.example.com/team/hello:1.0.0
`

// Placeholders of rows: the revision of the manifest's template with the
// pushed image, or with the image it runs.
const (
	pushedRevision  = "<pushed>"
	runningRevision = "<running>"
)

func mustRevision(t *testing.T, s service, image string) string {
	t.Helper()
	name, err := revisionFor(s, image)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// TestDecideImagePushed: the decision is a function of the manifests, the
// event and the live answers it is given; it asks for the live Services it
// needs instead of reading them, and says why it skips a Service.
func TestDecideImagePushed(t *testing.T) {
	push, err := eventing.NewImagePushed("registry.example.com/team/hello:1.4.0@"+digestB, "distribution", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		needLive  []string
		skipped   []skip
		stable    string // of the one change; "" with none
		candidate string
		summary   string
	}
	candidateOnSameDigest := strings.Replace(strings.Replace(manifest("demo", "hello", "registry.example.com/team/hello:1.4.0@"+digestB, ""),
		"      name: hello-aa11bb22cc\n", "      name: hello-4444444444\n", 1), "  traffic:\n", "  traffic:\n    - revisionName: hello-4444444444\n      percent: 0\n      tag: candidate\n", 1)
	tests := []struct {
		name     string
		manifest string
		pushed   string // the pushed image; default the 1.4.0 push
		lives    Lives
		want     want
	}{
		{
			name:     "the same digest under another tag while it is the candidate: the same revision, nothing changes",
			manifest: candidateOnSameDigest,
			pushed:   "registry.example.com/team/hello:1.4@" + digestB,
			want:     want{},
		},
		{
			name:     "the same digest under another tag while it is stable: skipped",
			manifest: manifest("demo", "hello", "registry.example.com/team/hello:1.4.0@"+digestB, ""),
			pushed:   "registry.example.com/team/hello:1.4@" + digestB,
			want:     want{skipped: []skip{{Subject: "demo/hello", Reason: "hello-aa11bb22cc is already the stable revision"}}},
		},
		{
			name:     "a Service name that leaves no room for a revision name: skipped with the reason",
			manifest: strings.ReplaceAll(manifest("demo", "hello", "registry.example.com/team/hello:1.0.0@"+digestA, ""), "hello", "h"+strings.Repeat("e", 57)),
			pushed:   "registry.example.com/team/h" + strings.Repeat("e", 57) + ":1.4.0@" + digestB,
			want: want{skipped: []skip{{Subject: "demo/h" + strings.Repeat("e", 57),
				Reason: policy.ErrNameTooLong.Error() + `: "h` + strings.Repeat("e", 57) + `" has 58 characters, at most 57 can be managed (Knative names its revisions <service>-<suffix>, at most 63)`}}},
		},
		{
			name:     "pinned stable: no live answer needed",
			manifest: manifest("demo", "hello", "registry.example.com/team/hello:1.0.0@"+digestA, ""),
			want:     want{stable: "hello-aa11bb22cc", candidate: pushedRevision, summary: "at 0%, hello-aa11bb22cc stays stable"},
		},
		{
			name:     "unpinned, not read yet: asks for the live Service, changes nothing",
			manifest: unpinned,
			want:     want{needLive: []string{"demo/hello"}},
		},
		{
			name:     "unpinned, the cluster serves a revision: candidate beside it",
			manifest: unpinned,
			lives:    Lives{"demo/hello": {Found: true, Revision: "hello-00001", Image: "registry.example.com/team/hello:1.0.0"}},
			want:     want{stable: "hello-00001", candidate: pushedRevision, summary: "hello-00001 stays stable"},
		},
		{
			name:     "unpinned, not in the cluster: first deploy at 100%",
			manifest: unpinned,
			lives:    Lives{"demo/hello": {Found: false}},
			want:     want{candidate: pushedRevision, summary: "first deploy of"},
		},
		{
			name:     "unpinned, the cluster could not be read: adopt by a commit first",
			manifest: unpinned,
			lives:    Lives{"demo/hello": {Err: errors.New("forbidden")}},
			want:     want{stable: runningRevision, summary: "adopt: pin the running template"},
		},
		{
			name:     "quarantined digest: skipped with the reason",
			manifest: manifest("demo", "hello", "registry.example.com/team/hello:1.0.0@"+digestA, "\n    slipstream.dev/quarantine: "+digestB),
			want:     want{skipped: []skip{{Subject: "demo/hello", Reason: digestB + " is quarantined"}}},
		},
		{
			name:     "the track does not take the tag",
			manifest: strings.Replace(manifest("demo", "hello", "registry.example.com/team/hello:1.0.0@"+digestA, ""), "semver:^1.0.0", "tag:prod", 1),
			want:     want{skipped: []skip{{Subject: "demo/hello", Reason: "track tag:prod does not take tag 1.4.0"}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			services, skipped := findServices(map[string][]byte{"apps/hello/service.yaml": []byte(tc.manifest)})
			if len(services) != 1 || len(skipped) > 0 {
				t.Fatalf("fixture: %d services, skipped %v", len(services), skipped)
			}
			lives := tc.lives
			if lives == nil {
				lives = Lives{}
			}
			// Revisions are named after their template: the names the rows mean.
			for _, w := range []*string{&tc.want.stable, &tc.want.candidate} {
				switch *w {
				case pushedRevision:
					*w = mustRevision(t, services[0], push.Image)
				case runningRevision:
					*w = mustRevision(t, services[0], services[0].Image)
				}
			}
			ev := push
			if tc.pushed != "" {
				if ev, err = eventing.NewImagePushed(tc.pushed, "distribution", "", nil); err != nil {
					t.Fatal(err)
				}
			}
			out := decideImagePushed(services, ev, lives, now)
			got := want{needLive: out.NeedLive, skipped: out.Skipped}
			if len(out.Changes) > 1 {
				t.Fatalf("%d changes for one Service", len(out.Changes))
			}
			for _, d := range out.Changes {
				got.stable, got.candidate, got.summary = d.Committed.StableRevision, d.Committed.CandidateRevision, d.Summary
				if !strings.Contains(d.Summary, tc.want.summary) {
					t.Errorf("summary %q lacks %q", d.Summary, tc.want.summary)
				}
				if strings.HasPrefix(d.Summary, "demo/hello") {
					t.Errorf("summary %q repeats the Service's name; the commit message adds it", d.Summary)
				}
				got.summary = tc.want.summary
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{}, skip{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// The same input decides the same way: nothing is read or remembered.
			if again := decideImagePushed(services, ev, lives, now); !cmp.Equal(out.NeedLive, again.NeedLive) || len(again.Changes) != len(out.Changes) {
				t.Errorf("a second decision differs: %+v, then %+v", out, again)
			}
		})
	}
}

// TestRevisionNamesFollowTheTemplate: a revision's name changes whenever
// its template does, and only then.
func TestRevisionNamesFollowTheTemplate(t *testing.T) {
	base := manifest("demo", "hello", "registry.example.com/team/hello:1.0.0@"+digestA, "")
	image := "registry.example.com/team/hello:1.4.0@" + digestB
	name := revisionOf(t, base, image)
	tests := []struct {
		name     string
		manifest string
		image    string
		same     bool
	}{
		{
			name:     "the same digest under another tag",
			manifest: base,
			image:    "registry.example.com/team/hello:1.4@" + digestB,
			same:     true,
		},
		{
			name: "Knative's defaults written into the template",
			manifest: strings.Replace(base, "        - image: registry.example.com/team/hello:1.0.0@"+digestA+"\n",
				"        - image: registry.example.com/team/hello:1.0.0@"+digestA+"\n          name: user-container\n          readinessProbe:\n            successThreshold: 1\n            tcpSocket:\n              port: 0\n          resources: {}\n", 1),
			image: image,
			same:  true,
		},
		{
			name:     "the template's own name",
			manifest: strings.Replace(base, "name: hello-aa11bb22cc", "name: hello-0000000000", 1),
			image:    image,
			same:     true,
		},
		{
			name:     "another digest",
			manifest: base,
			image:    "registry.example.com/team/hello:1.4.0@" + digestC,
		},
		{
			name: "an environment variable",
			manifest: strings.Replace(base, "        - image: registry.example.com/team/hello:1.0.0@"+digestA+"\n",
				"        - image: registry.example.com/team/hello:1.0.0@"+digestA+"\n          env:\n            - {name: LOG, value: debug}\n", 1),
			image: image,
		},
		{
			name:     "a template annotation",
			manifest: strings.Replace(base, "    metadata:\n      name: hello-aa11bb22cc\n", "    metadata:\n      name: hello-aa11bb22cc\n      annotations:\n        autoscaling.knative.dev/max-scale: \"3\"\n", 1),
			image:    image,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := revisionOf(t, tc.manifest, tc.image); (got == name) != tc.same {
				t.Errorf("%s against %s: same name %v, want %v", got, name, got == name, tc.same)
			}
		})
	}
}

// TestStateInGitNeverMovesBackwards: a redelivered or late traffic.shifted
// is recognised and changes nothing.
func TestStateInGitNeverMovesBackwards(t *testing.T) {
	t1, t2 := now.Add(-2*time.Minute), now.Add(-time.Minute)
	steps := []int{10, 25, 50, 100}
	state := func(step int, live *time.Time, checked *time.Time, s []int) policy.State {
		return policy.State{Phase: policy.Progressing, Stable: "hello-aa11bb22cc", Candidate: "hello-4444444444", Step: step, StepStartedAt: live, CheckedAt: checked, Steps: s}
	}
	tests := []struct {
		name   string
		policy string // slipstream.dev/steps in Git; "" for the default
		git    policy.State
		event  policy.State
		stale  string // what the skip says; "" when the step is written
	}{
		{
			name:  "the next step",
			git:   state(2, &t1, nil, steps),
			event: state(3, nil, nil, steps),
		},
		{
			name:  "the step going live",
			git:   state(3, nil, nil, steps),
			event: state(3, &t2, nil, steps),
		},
		{
			name:  "a late event of an earlier step",
			git:   state(3, &t1, nil, steps),
			event: state(2, &t1, nil, steps),
			stale: "Git already records step 3",
		},
		{
			name:  "the shift of a step Git shows live already",
			git:   state(3, &t2, nil, steps),
			event: state(3, nil, nil, steps),
			stale: "live since",
		},
		{
			name:  "an older start of the same step",
			git:   state(3, &t2, nil, steps),
			event: state(3, &t1, nil, steps),
			stale: "later",
		},
		{
			name:  "an older analysis check",
			git:   state(3, &t1, &t2, steps),
			event: state(3, &t1, &t1, steps),
			stale: "analysis check",
		},
		{
			name:   "the steps started over (they changed in Git)",
			policy: "5,50,100",
			git:    state(3, &t1, nil, steps),
			event:  state(1, nil, nil, []int{5, 50, 100}),
		},
		{
			name:   "the steps started over from a state that did not record them",
			policy: "50,100",
			git:    state(3, &t1, nil, nil),
			event:  state(1, nil, nil, []int{50, 100}),
		},
		{
			name:  "a late event of an earlier step, Git's state not recording its steps",
			git:   state(3, &t1, nil, nil),
			event: state(2, &t1, nil, steps),
			stale: "Git already records step 3",
		},
		{
			name:   "an event walking the old steps after they changed in Git",
			policy: "5,50,100",
			git:    state(1, nil, nil, []int{5, 50, 100}),
			event:  state(3, nil, nil, steps),
			stale:  "it walks steps 10,25,50,100, the policy in Git has 5,50,100 now",
		},
		{
			name:  "a late step after the promotion",
			git:   policy.State{Phase: policy.Promoted, Stable: "hello-4444444444", PreviousStable: "hello-aa11bb22cc", PromotedAt: &t2},
			event: state(4, &t1, nil, steps),
			stale: "Git already records hello-4444444444 promoted",
		},
		{
			name:  "a late step after the rollback",
			git:   policy.State{Phase: policy.RolledBack, Stable: "hello-aa11bb22cc", Candidate: "hello-4444444444", Reason: "alert"},
			event: state(2, &t1, nil, steps),
			stale: "Git already records hello-4444444444 rolled back",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			extra := "\n    slipstream.dev/rollout: '" + tc.git.String() + "'"
			if tc.policy != "" {
				extra += "\n    " + policy.AnnotationSteps + ": '" + tc.policy + "'"
			}
			m := strings.Replace(manifest("demo", "hello", "registry.example.com/team/hello:1.4.0@"+digestB, extra),
				"      name: hello-aa11bb22cc\n", "      name: hello-4444444444\n", 1)
			services, skipped := findServices(map[string][]byte{"apps/hello/service.yaml": []byte(m)})
			if len(services) != 1 {
				t.Fatalf("fixture: %v", skipped)
			}
			ev := eventing.TrafficShifted{Namespace: "demo", Service: "hello", StableRevision: "hello-aa11bb22cc", CandidateRevision: "hello-4444444444",
				Step: tc.event.Step, Steps: 4, State: tc.event.String(),
				Traffic: []eventing.TrafficTarget{{RevisionName: "hello-aa11bb22cc", Percent: 50, Tag: "stable"}, {RevisionName: "hello-4444444444", Percent: 50, Tag: "candidate"}}}
			out := decideShifted(services, ev, answers{lives: Lives{"demo/hello": {Err: errNoCluster}}})
			switch {
			case tc.stale == "" && len(out.Changes) != 1:
				t.Errorf("not written: %v", out.Skipped)
			case tc.stale != "" && (len(out.Changes) != 0 || len(out.Skipped) != 1 || !strings.Contains(out.Skipped[0].Reason, tc.stale)):
				t.Errorf("changes %d, skipped %v; want it skipped with %q", len(out.Changes), out.Skipped, tc.stale)
			}
		})
	}
}

// TestAPersonsTemplateChangeIsRecorded: rollout rolls out a template a
// person changed as a candidate; promote records its steps and promotion.
// A template the person renamed is recorded as it is; one whose name they
// deleted is pinned to the name Knative gave its revision — only when that
// revision is the template's (Knative reuses it for an equal spec only) —
// so the traffic in Git names what the template makes.
func TestAPersonsTemplateChangeIsRecorded(t *testing.T) {
	const stable = "hello-aa11bb22cc"
	image := "registry.example.com/team/hello:1.0.0@" + digestA
	promoted := policy.State{Phase: policy.Promoted, Stable: stable, StableImage: image}
	git := func(templateName string) map[string][]byte {
		m := manifest("demo", "hello", image, "\n    slipstream.dev/rollout: '"+promoted.String()+"'")
		return map[string][]byte{"apps/hello/service.yaml": []byte(strings.Replace(m, "      name: hello-aa11bb22cc\n", templateName, 1))}
	}
	renamed, deleted := "      name: hello-greeting\n", "      labels: {team: checkout}\n"
	// made is the template Knative made hello-00005 from: the unnamed one,
	// with env when the person changed it again since.
	made := func(env ...corev1.EnvVar) Template {
		tmpl := servingv1.RevisionTemplateSpec{Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: image, Env: env}}}}}
		tmpl.SetDefaults(context.Background())
		return Template{Found: true, Spec: tmpl}
	}
	step1 := func(candidate string) eventing.TrafficShifted {
		st := policy.State{Phase: policy.Progressing, Stable: stable, StableImage: image, Candidate: candidate, CandidateImage: image, Step: 1, Steps: []int{10, 25, 50, 100}}
		return eventing.TrafficShifted{Namespace: "demo", Service: "hello", StableRevision: stable, CandidateRevision: candidate, Step: 1, Steps: 4, State: st.String(),
			Traffic: []eventing.TrafficTarget{{RevisionName: stable, Percent: 90, Tag: "stable"}, {RevisionName: candidate, Percent: 10, Tag: "candidate"}}}
	}
	shifted := func(candidate string) func([]service, Templates) outcome {
		return func(s []service, tm Templates) outcome {
			return decideShifted(s, step1(candidate), answers{lives: Lives{"demo/hello": {Err: errNoCluster}}, templates: tm})
		}
	}
	tests := []struct {
		name     string
		files    map[string][]byte
		decide   func([]service, Templates) outcome
		cluster  Templates // what the cluster answers, by templateKey
		template string    // the template name written; "" when skipped
		skip     string    // what the skip says
	}{
		{
			name:     "step 1 of a renamed template",
			files:    git(renamed),
			decide:   shifted("hello-greeting"),
			template: "hello-greeting",
		},
		{
			name:     "step 1 of a template whose name was deleted: pinned to Knative's name",
			files:    git(deleted),
			decide:   shifted("hello-00005"),
			cluster:  Templates{"demo/hello/hello-00005": made()},
			template: "hello-00005",
		},
		{
			name:  "the promotion of a template whose name was deleted: pinned to Knative's name",
			files: git(deleted),
			decide: func(s []service, tm Templates) outcome {
				return decidePromoted(s, eventing.RolloutPromoted{Namespace: "demo", Service: "hello", Revision: "hello-00005", Image: image, PreviousRevision: stable}, now,
					answers{lives: Lives{"demo/hello": {Err: errNoCluster}}, templates: tm})
			},
			cluster:  Templates{"demo/hello/hello-00005": made()},
			template: "hello-00005",
		},
		{
			name:   "the cluster's config-defaults are not Knative's (timeout 600 s, concurrency 10): still the template's revision, pinned",
			files:  git(deleted),
			decide: shifted("hello-00005"),
			cluster: Templates{"demo/hello/hello-00005": func() Template {
				tm := made()
				tm.Spec.Spec.TimeoutSeconds, tm.Spec.Spec.ContainerConcurrency = ptr(int64(600)), ptr(int64(10))
				return tm
			}()},
			template: "hello-00005",
		},
		{
			name:    "the unnamed template changed again since Knative made the revision: not pinned (Knative would refuse the name)",
			files:   git(deleted),
			decide:  shifted("hello-00005"),
			cluster: Templates{"demo/hello/hello-00005": made(corev1.EnvVar{Name: "GREETING", Value: "hej"})},
			skip:    "is not the one that made hello-00005",
		},
		{
			name:    "no cluster access: not pinned, and why",
			files:   git(deleted),
			decide:  shifted("hello-00005"),
			cluster: Templates{"demo/hello/hello-00005": Template{Err: errNoCluster}},
			skip:    "could not be read to compare",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			services, skipped := findServices(tc.files)
			if len(services) != 1 {
				t.Fatalf("fixture: %v", skipped)
			}
			known := Templates{}
			out := tc.decide(services, known)
			for _, key := range out.NeedTemplates { // the handler reads them, and decides again
				a, ok := tc.cluster[key]
				if !ok {
					t.Fatalf("asked for %s, which the fixture does not hold", key)
				}
				known[key] = a
			}
			if len(out.NeedTemplates) > 0 {
				out = tc.decide(services, known)
			}
			if tc.template == "" {
				if len(out.Changes) != 0 || len(out.Skipped) != 1 || !strings.Contains(out.Skipped[0].Reason, tc.skip) {
					t.Fatalf("changes %d, skipped %v; want it skipped with %q", len(out.Changes), out.Skipped, tc.skip)
				}
				return
			}
			if len(out.Changes) != 1 {
				t.Fatalf("not recorded: %v", out.Skipped)
			}
			s := services[0]
			files, err := apply(tc.files, s, out.Changes[0])
			if err != nil {
				t.Fatal(err)
			}
			got, _ := findServices(files)
			if len(got) != 1 || got[0].Template != tc.template {
				t.Errorf("template %q after the commit, want %q:\n%s", got[0].Template, tc.template, files[s.Path])
			}
		})
	}
}

// TestALateEventAfterARollbackInTheClusterIsNotCommitted: rollout's step
// (or promotion) and the rollback travel separately; when the step reaches
// promote after the cluster rolled back and before the revert, committing
// it would give the candidate its share again at the next sync.
func TestALateEventAfterARollbackInTheClusterIsNotCommitted(t *testing.T) {
	const stable, cand = "hello-aa11bb22cc", "hello-4444444444"
	progressing := policy.State{Phase: policy.Progressing, Stable: stable, Candidate: cand, Step: 2, Steps: []int{10, 25, 50, 100}}
	m := strings.Replace(manifest("demo", "hello", "registry.example.com/team/hello:1.4.0@"+digestB, "\n    slipstream.dev/rollout: '"+progressing.String()+"'"),
		"      name: hello-aa11bb22cc\n", "      name: "+cand+"\n", 1)
	services, skipped := findServices(map[string][]byte{"apps/hello/service.yaml": []byte(m)})
	if len(services) != 1 {
		t.Fatalf("fixture: %v", skipped)
	}
	step3 := progressing
	step3.Step = 3
	shift := eventing.TrafficShifted{Namespace: "demo", Service: "hello", StableRevision: stable, CandidateRevision: cand, Step: 3, Steps: 4, State: step3.String(),
		Traffic: []eventing.TrafficTarget{{RevisionName: stable, Percent: 50, Tag: "stable"}, {RevisionName: cand, Percent: 50, Tag: "candidate"}}}
	promoted := eventing.RolloutPromoted{Namespace: "demo", Service: "hello", Revision: cand, PreviousRevision: stable, Image: "registry.example.com/team/hello:1.4.0@" + digestB}
	rolledBack := Live{Found: true, Revision: stable, State: policy.State{Phase: policy.RolledBack, Stable: stable, Candidate: cand, Reason: "alert HighErrorRate"}}
	tests := []struct {
		name    string
		live    Live
		decide  func(answers) outcome
		skipped string // "" when committed
	}{
		{
			name:    "a step after the rollback",
			live:    rolledBack,
			decide:  func(a answers) outcome { return decideShifted(services, shift, a) },
			skipped: "the cluster has rolled back " + cand,
		},
		{
			name:    "a promotion after the rollback",
			live:    rolledBack,
			decide:  func(a answers) outcome { return decidePromoted(services, promoted, now, a) },
			skipped: "the cluster has rolled back " + cand,
		},
		{
			name:   "a step, the cluster still rolling out",
			live:   Live{Found: true, Revision: stable, State: progressing},
			decide: func(a answers) outcome { return decideShifted(services, shift, a) },
		},
		{
			name:   "a step, no cluster access: committed (rollout's guard takes the traffic back)",
			live:   Live{Err: errNoCluster},
			decide: func(a answers) outcome { return decideShifted(services, shift, a) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if out := tc.decide(answers{}); len(out.NeedLive) != 1 || out.NeedLive[0] != "demo/hello" {
				t.Fatalf("without an answer: %+v, want the live Service asked for", out)
			}
			out := tc.decide(answers{lives: Lives{"demo/hello": tc.live}})
			switch {
			case tc.skipped == "" && len(out.Changes) != 1:
				t.Errorf("not committed: %v", out.Skipped)
			case tc.skipped != "" && (len(out.Changes) != 0 || len(out.Skipped) != 1 || !strings.Contains(out.Skipped[0].Reason, tc.skipped)):
				t.Errorf("changes %d, skipped %v; want it skipped with %q", len(out.Changes), out.Skipped, tc.skipped)
			}
		})
	}
}

// TestHowARollbackBringsTheTemplateBack: the stable image and name when only
// the image changed, the whole template when the cluster has it, and
// otherwise never the stable name over a template a person wrote (Knative
// would refuse it: RevisionNameTaken).
func TestHowARollbackBringsTheTemplateBack(t *testing.T) {
	stableImage := "registry.example.com/team/hello:1.0.0@" + digestA
	pushImage := "registry.example.com/team/hello:1.4.0@" + digestB
	// git is the manifest mid-rollout: the stable revision hello-00003
	// (adopted: Knative named it), and a candidate template.
	git := func(templateName, image, env string) service {
		st := policy.State{Phase: policy.Progressing, Stable: "hello-00003", StableImage: stableImage, Candidate: "x", CandidateImage: image, Step: 1}
		m := manifest("demo", "hello", image, "\n    slipstream.dev/rollout: '"+st.String()+"'")
		m = strings.Replace(m, "      name: hello-aa11bb22cc\n", "      name: "+templateName+"\n", 1)
		m = strings.Replace(m, "        - image: "+image+"\n", "        - image: "+image+"\n"+env, 1)
		services, skipped := findServices(map[string][]byte{"apps/hello/service.yaml": []byte(m)})
		if len(services) != 1 {
			t.Fatalf("fixture: %v", skipped)
		}
		return services[0]
	}
	forPush := func() service { // the name promote gives the template with the pushed image
		s := git("placeholder", pushImage, "")
		name, err := revisionFor(s, pushImage)
		if err != nil {
			t.Fatal(err)
		}
		return git(name, pushImage, "")
	}
	personal := git("hello-greeting", pushImage, "          env: [{name: GREETING, value: hej}]\n")
	stableTmpl := servingv1.RevisionTemplateSpec{Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: stableImage}}}}}
	stableTmpl.Name = "hello-00003"
	tests := []struct {
		name     string
		svc      service
		cluster  Template
		restored bool   // the whole template written
		image    string // the image written ("" when left)
		note     string
	}{
		{
			name:     "the cluster has the stable revision: its template, whole",
			svc:      personal,
			cluster:  Template{Found: true, Spec: stableTmpl},
			restored: true,
			image:    stableImage,
			note:     "template restored from revision hello-00003",
		},
		{
			name:    "no cluster access, the candidate a push: the stable image and name",
			svc:     forPush(),
			cluster: Template{Err: errNoCluster},
			image:   stableImage,
		},
		{
			name:    "no cluster access, the candidate a person's template (its image changed too): left as it is",
			svc:     personal,
			cluster: Template{Err: errNoCluster},
			note:    "template left as it is: it is not one slipstream named for a push",
		},
		{
			name:    "the state names another Service's revision: nothing of it is written",
			svc:     forPush(),
			cluster: Template{Err: fmt.Errorf("%w: Revision demo/hello-00003 belongs to Service \"hello-admin\", not \"hello\"", kservice.ErrForeignRevision)},
			note:    "belongs to Service",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := eventing.RolloutRolledBack{Namespace: "demo", Service: "hello", StableRevision: "hello-00003", CandidateRevision: tc.svc.Template,
				Image: pushImage, Reason: "alert HighErrorRate"}
			out := decideRolledBack([]service{tc.svc}, ev, Templates{"demo/hello/hello-00003": tc.cluster})
			if len(out.Changes) != 1 {
				t.Fatalf("not rolled back: %+v", out)
			}
			d := out.Changes[0]
			if (d.Restore != nil) != tc.restored || d.Image != tc.image || (tc.image != "" && d.Template != "hello-00003") || (tc.image == "" && d.Template != "") {
				t.Errorf("restore %v, image %q, template %q; want restored %v, image %q", d.Restore != nil, d.Image, d.Template, tc.restored, tc.image)
			}
			if !strings.Contains(d.Summary, tc.note) {
				t.Errorf("summary %q lacks %q", d.Summary, tc.note)
			}
			if d.Traffic[0].RevisionName != "hello-00003" || d.Traffic[0].Percent != 100 || d.State.Phase != policy.RolledBack {
				t.Errorf("traffic %v, state %s: the rollback itself must go in whatever happens to the template", d.Traffic, d.State)
			}
		})
	}
}
