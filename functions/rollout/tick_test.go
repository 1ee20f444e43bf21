package rollout

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/policy"
)

// reads wraps the cluster adapter: it counts the Service reads and records
// how many revision reads are in flight at once (testutil.Overlap).
type reads struct {
	Cluster
	testutil.Overlap
	services, revisions atomic.Int32
}

func (c *reads) Get(ctx context.Context, namespace, name string) (*servingv1.Service, error) {
	c.services.Add(1)
	return c.Cluster.Get(ctx, namespace, name)
}

func (c *reads) GetRevision(ctx context.Context, namespace, name string) (kservice.Revision, error) {
	c.revisions.Add(1)
	defer c.Enter()()
	return c.Cluster.GetRevision(ctx, namespace, name)
}

// tickWorld is the world's Service and n copies of it (svc-0 …), all
// Pending with the cluster writer and their candidate Ready, and a rollout
// over reads of its cluster, deciding concurrency Services at once.
func tickWorld(t *testing.T, n, concurrency int) (*world, *reads, *Rollout, []string) {
	w := newWorld(t, map[string]string{policy.AnnotationTrafficWriter: "cluster"}, false)
	names := []string{"hello"}
	for i := range n {
		s := w.svc().DeepCopy()
		s.Name, s.ResourceVersion = fmt.Sprintf("svc-%d", i), ""
		if _, err := w.cs.ServingV1().Services("demo").Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		names = append(names, s.Name)
	}
	c := &reads{Cluster: kservice.New(w.cs, time.Second)}
	r, err := New(c, WithConcurrency(concurrency), WithMaxWait(0), WithClock(func() time.Time { return w.now }))
	if err != nil {
		t.Fatal(err)
	}
	return w, c, r, names
}

// atStep fails the test unless every named Service's state is at step.
func atStep(t *testing.T, w *world, step int, names ...string) {
	t.Helper()
	for _, name := range names {
		s, err := w.cs.ServingV1().Services("demo").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := policy.ParseState(s.Annotations[policy.AnnotationRollout]); st.Step != step {
			t.Errorf("%s: step %d (%s), want %d", name, st.Step, st.Reason, step)
		}
	}
}

// TestATickDecidesItsServicesAtOnce: one tick decides for its Services
// SLIPSTREAM_ROLLOUT_CONCURRENCY at once (one at a time with 1), each from
// the tick's list: no Service is read again, and of the revisions only the
// candidate (the stable one only for a rollback).
func TestATickDecidesItsServicesAtOnce(t *testing.T) {
	for _, tc := range []struct {
		concurrency int
		overlap     bool
	}{{8, true}, {1, false}} {
		t.Run(fmt.Sprintf("concurrency %d", tc.concurrency), func(t *testing.T) {
			w, c, r, names := tickWorld(t, 5, tc.concurrency)
			reply, err := r.onTick(context.Background(), cloudevents.NewEvent())
			if err != nil || reply == nil {
				t.Fatalf("tick: %v %v", reply, err)
			}
			atStep(t, w, 1, names...)
			if got := c.Widest() > 1; got != tc.overlap {
				t.Errorf("at most %d revision reads at once; want overlap %v", c.Widest(), tc.overlap)
			}
			if n := c.services.Load(); n != 0 {
				t.Errorf("%d Services read again after the tick's list, want 0", n)
			}
			if n := c.revisions.Load(); n != int32(len(names)) {
				t.Errorf("%d revisions read for %d Services, want one each", n, len(names))
			}
		})
	}
}

// TestATickReadsAgainWhatChangedSinceItsList: a Service that changed
// after the tick listed it meets a conflict on its patch (the list's
// resourceVersion); rollout reads it again and decides on what is there.
func TestATickReadsAgainWhatChangedSinceItsList(t *testing.T) {
	w, c, r, names := tickWorld(t, 2, 8)
	var refused atomic.Bool
	w.cs.PrependReactor("patch", "services", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.(clienttesting.PatchAction).GetName() == "svc-1" && refused.CompareAndSwap(false, true) {
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "serving.knative.dev", Resource: "services"}, "svc-1", fmt.Errorf("the object has been modified"))
		}
		return false, nil, nil
	})
	if _, err := r.onTick(context.Background(), cloudevents.NewEvent()); err != nil {
		t.Fatal(err)
	}
	atStep(t, w, 1, names...)
	if n := c.services.Load(); !refused.Load() || n != 1 {
		t.Errorf("conflict met %v, Services read again %d; want the conflicting one read once more", refused.Load(), n)
	}
}

// slowList is a cluster whose list takes longer than a list's copy may be
// kept: the clock moves past maxCopyAge while it answers.
type slowList struct {
	*reads
	w *world
}

func (s slowList) ListManaged(ctx context.Context, namespaces []string) ([]*servingv1.Service, error) {
	l, err := s.reads.ListManaged(ctx, namespaces)
	s.w.now = s.w.now.Add(maxCopyAge + time.Second)
	return l, err
}

// TestATickReadsAgainWhatItCannotTrust: a list's copy is not decided on
// when it is older than maxCopyAge (the tick waited), nor when rollout has
// decided on the Service since (its memory has a newer base): the git
// writer's decisions patch nothing, so no conflict would catch it.
func TestATickReadsAgainWhatItCannotTrust(t *testing.T) {
	t.Run("too old", func(t *testing.T) {
		w, c, _, names := tickWorld(t, 3, 8)
		r, err := New(slowList{c, w}, WithMaxWait(0), WithClock(func() time.Time { return w.now }))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.onTick(context.Background(), cloudevents.NewEvent()); err != nil {
			t.Fatal(err)
		}
		atStep(t, w, 1, names...)
		if n := c.services.Load(); n != int32(len(names)) {
			t.Errorf("%d Services read again, want all %d: their copies were older than %s", n, len(names), maxCopyAge)
		}
	})
	t.Run("decided on since", func(t *testing.T) {
		w, c, r, names := tickWorld(t, 3, 8)
		r.written["demo/svc-1"] = writtenState{base: "a state decided on after the list"}
		if _, err := r.onTick(context.Background(), cloudevents.NewEvent()); err != nil {
			t.Fatal(err)
		}
		atStep(t, w, 1, names...)
		if n := c.services.Load(); n != 1 {
			t.Errorf("%d Services read again, want only svc-1", n)
		}
	})
}
