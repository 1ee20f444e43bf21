package demo

import (
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/policy"
)

func TestNarrate(t *testing.T) {
	const (
		dA = "sha256:aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33bb44cc55dd66"
		dB = "sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"
	)
	stable, cand := "registry.example.com/team/hello:1.0.0@"+dA, "registry.example.com/team/hello:1.1.0@"+dB
	st := policy.State{Phase: policy.Progressing, Stable: "hello-a", StableImage: stable, Candidate: "hello-b", CandidateImage: cand, Step: 2, Steps: []int{10, 25, 50, 100}}
	sameImage := st
	sameImage.CandidateImage = stable
	pushed, _ := eventing.NewImagePushed(cand, "distribution", "", nil)
	split := []eventing.TrafficTarget{{RevisionName: "hello-a", Percent: 75, Tag: "stable"}, {RevisionName: "hello-b", Percent: 25, Tag: "candidate"}}
	commit := strings.Repeat("c", 40)
	tests := []struct {
		data eventing.Data
		want string
	}{
		{&pushed, "intake   team/hello:1.1.0 was pushed (sha256:3f2a9c01b2d4…)"},
		{&eventing.ManifestCommitted{Namespace: "demo", Service: "hello", Commit: commit, Path: "apps/hello/service.yaml", Image: cand, StableRevision: "hello-a", CandidateRevision: "hello-b",
			CauseType: eventing.TypeImagePushed, CauseID: "x"}, "promote  committed 1.1.0 (hello-b) as the candidate beside hello-a, with no traffic yet (commit ccccccc)"},
		{&eventing.TrafficShifted{Namespace: "demo", Service: "hello", StableRevision: "hello-a", CandidateRevision: "hello-b", Step: 2, Steps: 4, Traffic: split, State: st.String()},
			"rollout  step 2 of 4: 1.0.0 75%, 1.1.0 25%"},
		{&eventing.TrafficShifted{Namespace: "demo", Service: "hello", StableRevision: "hello-a", CandidateRevision: "hello-b", Step: 2, Steps: 4, Traffic: split, State: sameImage.String()},
			"rollout  step 2 of 4: hello-a 75%, hello-b 25%"},
		{&eventing.RolloutPromoted{Namespace: "demo", Service: "hello", Revision: "hello-b", Image: cand}, "rollout  promoted 1.1.0 (hello-b): it serves all traffic"},
		{&eventing.RolloutRolledBack{Namespace: "demo", Service: "hello", StableRevision: "hello-a", CandidateRevision: "hello-b", Image: cand, Reason: "alert X", Alert: &eventing.Alert{Name: "X"}},
			"rollback rolled 1.1.0 (hello-b) back: all traffic on hello-a again (alert X)"},
	}
	for _, tt := range tests {
		e, err := eventing.New("test", tt.data, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := narrate(e); !ok || got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.data.EventType(), got, tt.want)
		}
	}
	tick := cloudevents.NewEvent()
	tick.SetType(eventing.TypePing)
	if _, ok := narrate(tick); ok {
		t.Error("a tick was told")
	}
}
