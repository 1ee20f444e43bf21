package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Phase is where a rollout is.
type Phase string

// Phases.
const (
	// Adopting: the running template was just pinned as a named stable
	// revision; the pushed image waits in PendingImage until that revision is stable.
	Adopting Phase = "Adopting"
	// Pending: the candidate is committed and not yet Ready.
	Pending Phase = "Pending"
	// Progressing: the candidate receives traffic in steps.
	Progressing Phase = "Progressing"
	// Paused: a person paused the rollout.
	Paused Phase = "Paused"
	// Promoted: the candidate became the stable revision.
	Promoted Phase = "Promoted"
	// RolledBack: traffic went back to the stable revision.
	RolledBack Phase = "RolledBack"
)

// State is the value of the slipstream.dev/rollout annotation
// (AnnotationRollout): the phase, the stable and candidate revisions with
// their images, the step, and why the rollout is where it is. promote writes
// it to Git (with the git traffic writer, every step); rollout and rollback
// read it from the live Service. ParseState and String round-trip, and the
// JSON has a fixed field order, so an unchanged state renders to the same
// bytes and a redelivered event makes no commit.
type State struct {
	// Phase is where the rollout is.
	Phase Phase `json:"phase"`
	// Stable is the revision that serves when the rollout is not progressing.
	Stable string `json:"stable,omitempty"`
	// StableImage is the pinned image of Stable, used to revert the template.
	StableImage string `json:"stableImage,omitempty"`
	// Candidate is the revision being rolled out.
	Candidate string `json:"candidate,omitempty"`
	// CandidateImage is the pinned image of Candidate.
	CandidateImage string `json:"candidateImage,omitempty"`
	// PreviousStable is the revision that was stable before the last promotion;
	// an alert within the bake window rolls back to it.
	PreviousStable string `json:"previousStable,omitempty"`
	// PreviousStableImage is PreviousStable's pinned image.
	PreviousStableImage string `json:"previousStableImage,omitempty"`
	// PromotedAt is when the candidate was promoted; the bake window starts then.
	PromotedAt *time.Time `json:"promotedAt,omitempty"`
	// PendingImage is a pushed image waiting for adoption to finish.
	PendingImage string `json:"pendingImage,omitempty"`
	// StartedAt is when the candidate was committed: the progress deadline
	// runs from then until the cluster has created it.
	StartedAt *time.Time `json:"startedAt,omitempty"`
	// Steps are the policy's steps this rollout started with; when the
	// policy's steps change mid-rollout, the steps start over.
	Steps []int `json:"steps,omitempty"`
	// Step is the step reached, from 1; 0 before the first.
	Step int `json:"step,omitempty"`
	// StepStartedAt is when the cluster first showed the current step.
	StepStartedAt *time.Time `json:"stepStartedAt,omitempty"`
	// FailedChecks counts failed analysis checks of this rollout.
	FailedChecks int `json:"failedChecks,omitempty"`
	// Inconclusive counts analysis checks in a row that had no data or too few requests.
	Inconclusive int `json:"inconclusive,omitempty"`
	// HeldByAnalysis is true while the rollout is Paused because its analysis
	// stayed inconclusive: it waits for a person (slipstream.dev/paused:
	// "false" resumes it), not for the paused annotation to go.
	HeldByAnalysis bool `json:"heldByAnalysis,omitempty"`
	// CheckedAt is when the last analysis check ran.
	CheckedAt *time.Time `json:"checkedAt,omitempty"`
	// LastCheck is that check's outcome and what it measured against
	// what: "fail: <query> = 0.05, above the maximum 0.01".
	LastCheck string `json:"lastCheck,omitempty"`
	// LastValue is what that check measured, when it measured something.
	LastValue *float64 `json:"lastValue,omitempty"`
	// Since is when the rollout entered its phase (Stamp): how long it has
	// been there is what dashboards and alerts on a stuck rollout read.
	Since *time.Time `json:"since,omitempty"`
	// Reason says why the rollout is in its phase, for people.
	Reason string `json:"reason,omitempty"`
	// Announced is true once rollout.rolledback for this rollback was sent, so
	// a repeated alert does not send it again.
	Announced bool `json:"announced,omitempty"`
}

// LiveState is the rollout state of a live Service: its slipstream.dev/rollout
// state, unless slipstream.dev/rollback records the rollback of exactly the
// rollout that state describes — Git has not caught up with a rollback made
// in the cluster yet — and then that rollback's state. A rollback record
// that does not parse is ignored: the rollout state stands.
func LiveState(annotations map[string]string) (State, error) {
	st, err := ParseState(annotations[AnnotationRollout])
	if err != nil {
		return State{}, err
	}
	if rb, err := ParseState(annotations[AnnotationRollback]); err == nil && rb.RollsBack(st) {
		return rb, nil
	}
	return st, nil
}

// RollsBack reports whether s, a rollback, is the rollback of the rollout st
// describes: of its candidate while in progress, or of the revision it just
// promoted (the bake window).
func (s State) RollsBack(st State) bool {
	if s.Phase != RolledBack || s.Candidate == "" || s.Stable == "" {
		return false
	}
	// A record names the rollout it ended by when that rollout started (and,
	// for a rollback in the bake window, when it was promoted); the
	// promotion of a rollout keeps its start. So a commit of that rollout
	// from before the rollback (a step, or its promotion) is bound, while
	// the same revision rolled out again later (slipstream retry, or a push
	// once a person lifted its quarantine) is a new rollout, and is not.
	switch st.Phase {
	case Pending, Progressing, Paused:
		return st.Candidate == s.Candidate && st.Stable == s.Stable && sameTime(st.StartedAt, s.StartedAt)
	case Promoted:
		return st.Stable == s.Candidate && st.PreviousStable == s.Stable && sameTime(st.PromotedAt, s.PromotedAt) && sameTime(st.StartedAt, s.StartedAt)
	}
	return false
}

// sameTime reports whether two recorded times name the same moment; a time
// that was not recorded (state written before the field existed) matches any.
// It binds a rollback to one rollout: the same candidate rolled out again
// later is a new rollout, and an old rollback record must not end it.
func sameTime(a, b *time.Time) bool {
	return a == nil || b == nil || a.Equal(*b)
}

// Stamp sets next.Since, the state about to replace prev: prev's when the
// rollout stays in its phase with the same candidate and stable, else now.
// Every writer stamps what it writes, so an unchanged state still renders
// to the same bytes and a redelivered event changes nothing.
func Stamp(prev State, next *State, now time.Time) {
	if next == nil {
		return
	}
	if prev.Since != nil && prev.Phase == next.Phase && prev.Candidate == next.Candidate && prev.Stable == next.Stable {
		next.Since = prev.Since
		return
	}
	t := now.UTC()
	next.Since = &t
}

// StepsChanged reports whether steps, the policy's, are no longer the ones
// the rollout s started with (or no longer have its step): its steps start
// over at step 1, as in Argo Rollouts, rather than guess where the old step
// falls. Rollout decides the restart by it, promote accepts it by it.
func (s State) StepsChanged(steps []int) bool {
	return s.Step > len(steps) || (s.Steps != nil && !slices.Equal(s.Steps, steps))
}

// StepsText renders steps for people: 10,25,50,100.
func StepsText(steps []int) string {
	if steps == nil {
		return "not recorded"
	}
	parts := make([]string, len(steps))
	for i, p := range steps {
		parts[i] = strconv.Itoa(p)
	}
	return strings.Join(parts, ",")
}

// ParseState reads an annotation value; an empty value is the zero State.
func ParseState(value string) (State, error) {
	var s State
	if value == "" {
		return s, nil
	}
	if err := json.Unmarshal([]byte(value), &s); err != nil {
		return State{}, fmt.Errorf("%s is not rollout state JSON: %v", AnnotationRollout, err)
	}
	return s, nil
}

// String renders the annotation value: compact JSON in field order.
func (s State) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}
