package steer

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/policy"
)

// Command is one of the steering commands.
type Command string

// The commands.
const (
	Pause   Command = "pause"
	Resume  Command = "resume"
	Promote Command = "promote"
	Abort   Command = "abort"
)

// ErrRefused: the rollout's phase does not allow the command; nothing is set.
var ErrRefused = errors.New("refused")

// maxReason bounds an abort's reason: it goes into the rollout state, the
// commit message and an Event.
const maxReason = 256

// Action is what a command sets on the live Service.
type Action struct {
	// Set and Remove are the annotations to write and to delete; both
	// empty when the Service already says what the command asks.
	Set    map[string]string
	Remove []string
	// Next says what rollout does next, for people.
	Next string
}

// Changes reports whether the action patches anything.
func (a Action) Changes() bool { return len(a.Set) > 0 || len(a.Remove) > 0 }

// Rollout names the rollout a command is bound to: its candidate and when
// it was committed. The same candidate committed again later is another
// rollout.
type Rollout struct {
	Candidate string
	Started   string
}

// Of is the rollout in progress on a live Service, as rollout reads it.
func Of(svc *servingv1.Service) (policy.State, Rollout, error) {
	st, err := policy.LiveState(svc.Annotations)
	if err != nil {
		return policy.State{}, Rollout{}, err
	}
	r := Rollout{Candidate: st.Candidate}
	if st.StartedAt != nil {
		r.Started = st.StartedAt.UTC().Format("2006-01-02T15:04:05.999999999Z")
	}
	return st, r, nil
}

// Decide is what cmd sets on svc; reason is an abort's (ignored otherwise).
func Decide(cmd Command, svc *servingv1.Service, reason string) (Action, error) {
	key := svc.Namespace + "/" + svc.Name
	refuse := func(format string, a ...any) (Action, error) {
		return Action{}, fmt.Errorf("%w: %s: %s", ErrRefused, key, fmt.Sprintf(format, a...))
	}
	if _, ok := svc.Annotations[policy.AnnotationRollout]; !ok {
		return refuse("not managed by slipstream (no %s annotation)", policy.AnnotationRollout)
	}
	st, _, err := Of(svc)
	if err != nil {
		return refuse("%v", err)
	}
	ann := svc.Annotations
	switch st.Phase {
	case policy.Pending, policy.Progressing, policy.Paused:
	case policy.Adopting:
		return refuse("no rollout to %s yet: promote is adopting the running revision as stable (%s waits)", cmd, orNone(st.PendingImage))
	default:
		return refuse("no rollout in progress to %s (phase %s%s)", cmd, orNone(string(st.Phase)), because(st.Reason))
	}
	at := where(st)
	personPaused := ann[policy.AnnotationPaused] == "true"
	switch cmd {
	case Pause:
		if personPaused {
			return Action{Next: fmt.Sprintf("already paused: %s holds %s; slipstream resume %s lets it go on", key, at, svc.Name)}, nil
		}
		if st.Phase == policy.Paused && st.HeldByAnalysis {
			return refuse("already held %s by its inconclusive analysis (%s); resume, promote or abort it", at, st.Reason)
		}
		return Action{Set: map[string]string{policy.AnnotationPaused: "true"},
			Next: fmt.Sprintf("rollout holds %s until slipstream resume %s (phase Paused; the step's pause starts again on resume)", at, svc.Name)}, nil
	case Resume:
		switch {
		case st.HeldByAnalysis && ann[policy.AnnotationPaused] == "false":
			return Action{Next: fmt.Sprintf("already resuming: rollout takes %s on at its next decision", at)}, nil
		case st.HeldByAnalysis:
			// "false" resumes a hold by the analysis (rollout removes it once done).
			return Action{Set: map[string]string{policy.AnnotationPaused: "false"},
				Next: fmt.Sprintf("rollout resumes %s with the inconclusive count at zero, and its pause starts again", at)}, nil
		case personPaused:
			return Action{Remove: []string{policy.AnnotationPaused},
				Next: fmt.Sprintf("rollout resumes %s; the step's pause starts again", at)}, nil
		case st.Phase == policy.Paused:
			return Action{Next: fmt.Sprintf("already resuming: nothing holds %s any more; rollout takes it on at its next decision", at)}, nil
		}
		return refuse("not paused (phase %s, %s): nothing to resume", st.Phase, at)
	case Promote:
		next := fmt.Sprintf("rollout skips the remaining steps: %s gets 100%% of the traffic once Ready, and becomes stable", st.Candidate)
		if personPaused {
			next += fmt.Sprintf("; it is paused, so that happens once resumed (slipstream resume %s)", svc.Name)
		}
		if ann[policy.AnnotationPromote] == "now" {
			return Action{Next: "already asked: " + next}, nil
		}
		return Action{Set: map[string]string{policy.AnnotationPromote: "now"}, Next: next}, nil
	case Abort:
		reason = strings.TrimSpace(reason)
		switch {
		case reason == "":
			return refuse("an abort needs a reason")
		case len(reason) > maxReason:
			return refuse("the reason has %d bytes, at most %d", len(reason), maxReason)
		case strings.ContainsFunc(reason, func(r rune) bool {
			return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029' || !unicode.IsPrint(r) && r != ' '
		}):
			return refuse("the reason holds control characters, line separators or bidirectional overrides")
		}
		next := fmt.Sprintf("rollout sends all traffic back to %s%s, and promote reverts Git to it and quarantines the digest of %s%s",
			orNone(st.Stable), version(st.StableImage, ""), st.Candidate, version(st.CandidateImage, digestOf(st.CandidateImage)))
		if ann[policy.AnnotationAbort] != "" {
			return Action{Next: fmt.Sprintf("already aborted (%s): %s", ann[policy.AnnotationAbort], next)}, nil
		}
		return Action{Set: map[string]string{policy.AnnotationAbort: reason}, Next: next}, nil
	}
	return refuse("unknown command %q", cmd)
}

// where says where a rollout is, for people: the candidate, the step and its share.
func where(st policy.State) string {
	if st.Step == 0 || st.Step > len(st.Steps) {
		return fmt.Sprintf("%s before its first step", st.Candidate)
	}
	return fmt.Sprintf("%s at step %d/%d (%d%%)", st.Candidate, st.Step, len(st.Steps), st.Steps[st.Step-1])
}

// version says which version an image is, for people: " (1.1.0, sha256:c5c4e1a2bea5…)".
func version(image, digest string) string {
	parts := []string{}
	if v := eventing.VersionOf(image); v != "" {
		parts = append(parts, v)
	}
	if digest != "" {
		parts = append(parts, digest)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func digestOf(image string) string {
	if d := eventing.ShortDigest(image); d != "" {
		return d + "…"
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func because(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}
