package promote

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/client/clientset/versioned/fake"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/gitrepo"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/<case>/expected")

var now = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// caseEvent is testdata/<case>/event.json.
type caseEvent struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// caseLive is testdata/<case>/live.json: what the cluster holds — the
// Service hello serving revision (when found), and Revision objects.
type caseLive struct {
	Found     bool                 `json:"found"`
	Revision  string               `json:"revision"`
	Image     string               `json:"image"`
	Err       string               `json:"err"`
	Revisions []servingv1.Revision `json:"revisions"`
}

// loadEvent builds the CloudEvent of a case, as the broker would deliver it.
func loadEvent(t *testing.T, file string) cloudevents.Event {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var ce caseEvent
	if err := json.Unmarshal(raw, &ce); err != nil {
		t.Fatal(err)
	}
	var d eventing.Data
	switch ce.Type {
	case eventing.TypeImagePushed:
		d = &eventing.ImagePushed{}
	case eventing.TypeTrafficShifted:
		d = &eventing.TrafficShifted{}
	case eventing.TypeRolloutPromoted:
		d = &eventing.RolloutPromoted{}
	case eventing.TypeRolloutRolledBack:
		d = &eventing.RolloutRolledBack{}
	default:
		t.Fatalf("%s: unknown type %s", file, ce.Type)
	}
	if err := json.Unmarshal(ce.Data, d); err != nil {
		t.Fatal(err)
	}
	e, err := eventing.New("test", d, now)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// liveCluster is the serving fake clientset holding what live.json says.
func liveCluster(t *testing.T, file string) LiveReader {
	raw, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var l caseLive
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatal(err)
	}
	var objects []runtime.Object
	if l.Found {
		s := testutil.Service("demo", "hello", testutil.WithImage(l.Image), testutil.WithLatest(l.Revision, l.Revision),
			testutil.WithStatusTraffic(eventing.TrafficTarget{RevisionName: l.Revision, Percent: 100}))
		s.Status.Traffic[0].LatestRevision = ptr(true) // the route follows the latest revision: nothing is pinned
		objects = append(objects, s)
	}
	for i := range l.Revisions {
		objects = append(objects, &l.Revisions[i])
	}
	cs := fake.NewSimpleClientset(objects...)
	if l.Err != "" {
		cs.PrependReactor("get", "services", func(clienttesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "serving.knative.dev", Resource: "services"}, "hello", errors.New(l.Err))
		})
	}
	return kservice.New(cs, time.Second)
}

func ptr[T any](v T) *T { return &v }

// server runs promote behind the real host against a real bare repository.
type server struct {
	url, gitURL, bare string
	sink              *testutil.Sink
}

func newServer(t *testing.T, files map[string]string, live LiveReader) *server {
	t.Helper()
	url, bare := testutil.NewGitRepo(t, files)
	s := newServerFor(t, url, live)
	s.bare = bare
	return s
}

// newServerFor runs a promote instance behind the real host on an existing repository.
func newServerFor(t *testing.T, url string, live LiveReader) *server {
	t.Helper()
	repo, err := gitrepo.New(url, "main", gitrepo.WithAuthor("slipstream", "slipstream@example.com"), gitrepo.WithClock(func() time.Time { return now }),
		gitrepo.WithRetries(60, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	sink := testutil.NewSink(t)
	shared := testutil.Shared(sink.URL)
	shared.RequestTimeout = time.Minute // pushes retried against a busy repository take a while
	h, err := host.New(Name, shared, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sender, _ := h.Sender()
	opts := []Option{WithPaths("apps"), WithClock(func() time.Time { return now }), WithSender(sender)}
	if live != nil {
		opts = append(opts, WithLive(live))
	}
	p, err := New(repo, opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler(p.Function()))
	t.Cleanup(srv.Close)
	return &server{url: srv.URL, gitURL: url, sink: sink}
}

// deliver sends an event as the broker does (binary mode) and returns the
// status and the reply.
func (s *server) deliver(t *testing.T, e cloudevents.Event) (int, *cloudevents.Event) {
	t.Helper()
	client, _ := cloudevents.NewClientHTTP()
	reply, res := client.Request(cloudevents.ContextWithTarget(context.Background(), s.url), e)
	var hr *cehttp.Result
	if !cloudevents.ResultAs(res, &hr) {
		t.Fatalf("result %v", res)
	}
	return hr.StatusCode, reply
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name    string
		status  int    // answer to the event
		subject string // the new commit's subject; "" means no commit
		body    string // a line the commit message must hold, if any
		reply   func(t *testing.T, c eventing.ManifestCommitted)
	}{
		{
			name:    "comments-odd-formatting",
			status:  200,
			subject: "slipstream: deploy team/hello:1.4.0 to demo/hello",
			reply:   wantRevisions("hello-aa11bb22cc", "hello-a0e728af7b"),
		},
		{
			name:    "multi-document",
			status:  200,
			subject: "slipstream: deploy team/hello:1.4.0 to demo/hello",
			reply:   wantRevisions("hello-aa11bb22cc", "hello-2f13892484"),
		},
		{
			name:    "kustomize-images",
			status:  200,
			subject: "slipstream: deploy team/hello:1.4.0 to demo/hello",
			reply:   wantRevisions("hello-aa11bb22cc", "hello-2f13892484"),
		},
		{
			name:    "first-deploy",
			status:  200,
			subject: "slipstream: deploy team/hello:1.0.0 to demo/hello",
			reply:   wantRevisions("", "hello-b4edfcda1f"),
		},
		{
			name:    "adopt-live",
			status:  200,
			subject: "slipstream: deploy team/hello:1.4.0 to demo/hello",
			reply:   wantRevisions("hello-00001", "hello-2f13892484"),
		},
		{
			name:    "adopt-without-cluster",
			status:  200,
			subject: "slipstream: deploy team/hello:1.4.0 to demo/hello",
			reply:   wantRevisions("hello-2842bf2ff3", ""),
		},
		{
			name:   "already-pinned",
			status: 202,
		},
		{
			name:   "quarantined",
			status: 200,
		},
		{
			name:   "semver-downgrade",
			status: 200,
		},
		{
			name:   "unrelated-images",
			status: 200,
		},
		{
			name:    "traffic-shifted",
			status:  200,
			subject: "slipstream: demo/hello step 2/4 is live since 08:05:00, 1.0.0 (hello-aa11bb22cc) 75%, 1.4.0 (hello-3f2a9c01b2) 25%",
			reply:   wantRevisions("hello-aa11bb22cc", "hello-3f2a9c01b2"),
		},
		{
			name:    "promote",
			status:  200,
			subject: "slipstream: promote 1.4.0 (hello-3f2a9c01b2) in demo/hello",
			reply:   wantRevisions("hello-3f2a9c01b2", ""),
		},
		{
			name:    "rollback",
			status:  200,
			subject: "slipstream: roll back 1.4.0 of demo/hello to hello-aa11bb22cc (HighErrorRate)",
			reply:   wantRevisions("hello-aa11bb22cc", ""),
		},
		{
			name:    "rollback-template-changed",
			status:  200,
			body:    "template restored from revision hello-00003: it was changed since; digest not quarantined: the stable revision runs it too",
			subject: "slipstream: roll back 1.0.0 of demo/hello to hello-00003 (HighErrorRate)",
			reply:   wantRevisions("hello-00003", ""),
		},
		{
			name:    "rollback-adopted-stable-without-cluster",
			status:  200,
			subject: "slipstream: roll back 1.4.0 of demo/hello to hello-00001 (HighErrorRate)",
			reply:   wantRevisions("hello-00001", ""),
		},
		{
			name:    "rollback-restore-refused",
			status:  200,
			body:    "template left as it is: the one that made hello-00003 was refused",
			subject: "slipstream: roll back 1.0.0 of demo/hello to hello-00003 (HighErrorRate)",
			reply:   wantRevisions("hello-00003", ""),
		},
		{
			name:    "rollback-template-gone",
			status:  200,
			body:    "template left as it is: it is not one slipstream named for a push, so it may differ from hello-00003's in more than the image, and the cluster no longer has hello-00003",
			subject: "slipstream: roll back 1.0.0 of demo/hello to hello-00003 (HighErrorRate)",
			reply:   wantRevisions("hello-00003", ""),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", tc.name)
			original := testutil.ReadTree(t, filepath.Join(dir, "original"))
			s := newServer(t, original, liveCluster(t, filepath.Join(dir, "live.json")))
			e := loadEvent(t, filepath.Join(dir, "event.json"))

			status, reply := s.deliver(t, e)
			if status != tc.status {
				t.Errorf("status %d, want %d", status, tc.status)
			}
			subjects := testutil.Subjects(t, s.bare)
			if tc.subject == "" {
				if len(subjects) != 1 || reply != nil {
					t.Fatalf("want no commit and no reply; commits %q, reply %v", subjects, reply)
				}
			} else {
				if len(subjects) != 2 || subjects[0] != tc.subject {
					t.Fatalf("commits %q, want one new commit %q", subjects, tc.subject)
				}
				if reply == nil {
					t.Fatal("no manifest.committed reply")
				}
				c, err := eventing.Decode[eventing.ManifestCommitted](*reply)
				if err != nil {
					t.Fatal(err)
				}
				if head := testutil.Commits(t, s.bare)[0]; c.Commit != head.Hash.String() || c.CauseID != e.ID() {
					t.Errorf("reply names commit %s cause %s; want %s, %s", c.Commit, c.CauseID, head.Hash, e.ID())
				}
				tc.reply(t, c)
				msg := testutil.Commits(t, s.bare)[0].Message
				if !strings.Contains(msg, "Slipstream-Event-Id: "+e.ID()) {
					t.Errorf("commit message lacks the event trailer:\n%s", msg)
				}
				if !strings.Contains(msg, tc.body) {
					t.Errorf("commit message lacks %q:\n%s", tc.body, msg)
				}
			}

			got := testutil.Tree(t, s.bare)
			expectedDir := filepath.Join(dir, "expected")
			if *update {
				if tc.subject != "" {
					testutil.WriteTree(t, expectedDir, got)
				}
				return
			}
			want := original
			if tc.subject != "" {
				want = testutil.ReadTree(t, expectedDir)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}

			// Delivered again (at-least-once): nothing changes.
			status, reply = s.deliver(t, e)
			if after := testutil.Subjects(t, s.bare); len(after) != len(subjects) || reply != nil || (status != 202 && status != 200) {
				t.Errorf("redelivery: status %d, reply %v, commits %q (before %q)", status, reply, after, subjects)
			}
		})
	}
}

func wantRevisions(stable, candidate string) func(t *testing.T, c eventing.ManifestCommitted) {
	return func(t *testing.T, c eventing.ManifestCommitted) {
		t.Helper()
		if c.StableRevision != stable || c.CandidateRevision != candidate || c.Namespace != "demo" || c.Service != "hello" {
			t.Errorf("manifest.committed %+v, want stable %q candidate %q", c, stable, candidate)
		}
	}
}
