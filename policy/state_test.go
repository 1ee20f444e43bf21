package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	s := State{Phase: Progressing, Stable: "hello-aa11bb22cc", StableImage: "r.example.com/hello:1.0.0@sha256:aa", Candidate: "hello-3f2a9c01b2",
		CandidateImage: "r.example.com/hello:1.4.0@sha256:3f", Step: 2, StepStartedAt: &at, FailedChecks: 1, Reason: "step 2 of 4"}
	want := `{"phase":"Progressing","stable":"hello-aa11bb22cc","stableImage":"r.example.com/hello:1.0.0@sha256:aa","candidate":"hello-3f2a9c01b2","candidateImage":"r.example.com/hello:1.4.0@sha256:3f","step":2,"stepStartedAt":"2026-11-26T08:00:00Z","failedChecks":1,"reason":"step 2 of 4"}`
	if got := s.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	back, err := ParseState(s.String())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, back); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if z, err := ParseState(""); err != nil || !cmp.Equal(z, State{}) {
		t.Errorf("ParseState(\"\") = %v, %v", z, err)
	}
	if _, err := ParseState("{phase"); err == nil {
		t.Error("Parse accepted broken JSON")
	}
}

func TestLiveState(t *testing.T) {
	progressing := State{Phase: Progressing, Stable: "hello-a", Candidate: "hello-b", Step: 1}
	promoted := State{Phase: Promoted, Stable: "hello-b", PreviousStable: "hello-a"}
	rollback := State{Phase: RolledBack, Stable: "hello-a", Candidate: "hello-b", Reason: "alert"}
	t1 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	bound := func(at State) State { // rollback, bound to one rollout by at's times
		rb := rollback
		rb.StartedAt, rb.PromotedAt = at.StartedAt, at.PromotedAt
		return rb
	}
	tests := []struct {
		name     string
		rollout  State
		rollback string // the slipstream.dev/rollback value; "" for none
		want     State
	}{
		{
			name:    "no rollback record: the rollout state",
			rollout: progressing,
			want:    progressing,
		},
		{
			name:     "the rollback of this rollout's candidate: rolled back, whatever Git still says",
			rollout:  progressing,
			rollback: rollback.String(),
			want:     rollback,
		},
		{
			name:     "the rollback of the revision just promoted (bake window)",
			rollout:  promoted,
			rollback: rollback.String(),
			want:     rollback,
		},
		{
			name:     "a rollback of another candidate: an old record, the rollout state stands",
			rollout:  State{Phase: Progressing, Stable: "hello-a", Candidate: "hello-c", Step: 1},
			rollback: rollback.String(),
			want:     State{Phase: Progressing, Stable: "hello-a", Candidate: "hello-c", Step: 1},
		},
		{
			name:     "the same candidate rolled out again later: an old record bound to the earlier rollout does not end it",
			rollout:  State{Phase: Progressing, Stable: "hello-a", Candidate: "hello-b", Step: 1, StartedAt: &t2},
			rollback: bound(State{StartedAt: &t1}).String(),
			want:     State{Phase: Progressing, Stable: "hello-a", Candidate: "hello-b", Step: 1, StartedAt: &t2},
		},
		{
			name:     "the rollback of this rollout, bound to its start",
			rollout:  State{Phase: Progressing, Stable: "hello-a", Candidate: "hello-b", Step: 1, StartedAt: &t1},
			rollback: bound(State{StartedAt: &t1}).String(),
			want:     bound(State{StartedAt: &t1}),
		},
		{
			name:     "promoted again later: a record bound to the earlier promotion does not end the bake",
			rollout:  State{Phase: Promoted, Stable: "hello-b", PreviousStable: "hello-a", PromotedAt: &t2},
			rollback: bound(State{PromotedAt: &t1}).String(),
			want:     State{Phase: Promoted, Stable: "hello-b", PreviousStable: "hello-a", PromotedAt: &t2},
		},
		{
			name:     "rolled back in progress, then retried and promoted: the record of the rollout in progress does not end the promotion",
			rollout:  State{Phase: Promoted, Stable: "hello-b", PreviousStable: "hello-a", StartedAt: &t2, PromotedAt: &t2},
			rollback: bound(State{StartedAt: &t1}).String(),
			want:     State{Phase: Promoted, Stable: "hello-b", PreviousStable: "hello-a", StartedAt: &t2, PromotedAt: &t2},
		},
		{
			name:     "rolled back in its bake window, then rolled out again: the bake-window record does not end the new rollout",
			rollout:  State{Phase: Progressing, Stable: "hello-a", Candidate: "hello-b", Step: 1, StartedAt: &t2},
			rollback: bound(State{StartedAt: &t1, PromotedAt: &t1}).String(),
			want:     State{Phase: Progressing, Stable: "hello-a", Candidate: "hello-b", Step: 1, StartedAt: &t2},
		},
		{
			name:     "the promotion of the rollout rolled back in progress, committed before the rollback: bound",
			rollout:  State{Phase: Promoted, Stable: "hello-b", PreviousStable: "hello-a", StartedAt: &t1, PromotedAt: &t2},
			rollback: bound(State{StartedAt: &t1}).String(),
			want:     bound(State{StartedAt: &t1}),
		},
		{
			name:     "a step of the rollout rolled back in its bake window, applied late: bound",
			rollout:  State{Phase: Progressing, Stable: "hello-a", Candidate: "hello-b", Step: 3, StartedAt: &t1},
			rollback: bound(State{StartedAt: &t1, PromotedAt: &t2}).String(),
			want:     bound(State{StartedAt: &t1, PromotedAt: &t2}),
		},
		{
			name:     "the rollback of this promotion, bound to it",
			rollout:  State{Phase: Promoted, Stable: "hello-b", PreviousStable: "hello-a", PromotedAt: &t1},
			rollback: bound(State{PromotedAt: &t1}).String(),
			want:     bound(State{PromotedAt: &t1}),
		},
		{
			name:     "Git caught up (the revert): the rollout state",
			rollout:  State{Phase: RolledBack, Stable: "hello-a", Reason: "alert"},
			rollback: rollback.String(),
			want:     State{Phase: RolledBack, Stable: "hello-a", Reason: "alert"},
		},
		{
			name:     "a record that does not parse is ignored",
			rollout:  progressing,
			rollback: "{broken",
			want:     progressing,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ann := map[string]string{AnnotationRollout: tc.rollout.String()}
			if tc.rollback != "" {
				ann[AnnotationRollback] = tc.rollback
			}
			got, err := LiveState(ann)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
