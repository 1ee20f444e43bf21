package demo

import (
	"fmt"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/policy"
)

// narrate tells an event of the pipeline as a person would: who did what,
// in versions. ok is false for an event the story does not tell (a tick,
// an ApiServerSource event) or whose data does not decode.
func narrate(e cloudevents.Event) (string, bool) {
	line := func(who, format string, args ...any) (string, bool) {
		return fmt.Sprintf("%-8s %s", who, fmt.Sprintf(format, args...)), true
	}
	switch e.Type() {
	case eventing.TypeImagePushed:
		d, err := eventing.Decode[eventing.ImagePushed](e)
		if err != nil {
			return "", false
		}
		return line("intake", "%s:%s was pushed (%s)", d.Repository, d.Tag, eventing.ShortDigest(d.Digest)+"…")
	case eventing.TypeManifestCommitted:
		d, err := eventing.Decode[eventing.ManifestCommitted](e)
		if err != nil {
			return "", false
		}
		commit := d.Commit
		if len(commit) > 7 {
			commit = commit[:7]
		}
		switch d.CauseType {
		case eventing.TypeImagePushed:
			if d.StableRevision == "" {
				return line("promote", "committed %s as the first deploy of %s/%s (commit %s)", eventing.Versioned(d.CandidateRevision, d.Image), d.Namespace, d.Service, commit)
			}
			if d.CandidateRevision == "" {
				return line("promote", "committed %s/%s, which waits for its running revision to be pinned first (commit %s)", d.Namespace, d.Service, commit)
			}
			return line("promote", "committed %s as the candidate beside %s, with no traffic yet (commit %s)", eventing.Versioned(d.CandidateRevision, d.Image), d.StableRevision, commit)
		case eventing.TypeTrafficShifted:
			return line("promote", "recorded it in Git (commit %s)", commit)
		case eventing.TypeRolloutPromoted:
			return line("promote", "recorded the promotion in Git (commit %s)", commit)
		case eventing.TypeRolloutRolledBack:
			return line("promote", "reverted Git to %s and recorded the rollback (commit %s)", d.StableRevision, commit)
		}
		return line("promote", "committed %s/%s (commit %s)", d.Namespace, d.Service, commit)
	case eventing.TypeTrafficShifted:
		d, err := eventing.Decode[eventing.TrafficShifted](e)
		if err != nil {
			return "", false
		}
		if d.Step == 0 {
			return line("rollout", "%s joins beside %s at 0%%: the template changed in Git, so it is rolled out as any new version", d.CandidateRevision, d.StableRevision)
		}
		// Versions when they tell the two apart (a template change keeps the image).
		st, _ := policy.ParseState(d.State)
		names := map[string]string{}
		if sv, cv := eventing.VersionOf(st.StableImage), eventing.VersionOf(st.CandidateImage); sv != "" && cv != "" && sv != cv {
			names[st.Stable], names[st.Candidate] = sv, cv
		}
		parts := make([]string, 0, len(d.Traffic))
		for _, t := range d.Traffic {
			name := t.RevisionName
			if n, ok := names[t.RevisionName]; ok {
				name = n
			}
			parts = append(parts, fmt.Sprintf("%s %d%%", name, t.Percent))
		}
		return line("rollout", "step %d of %d: %s", d.Step, d.Steps, strings.Join(parts, ", "))
	case eventing.TypeRolloutPromoted:
		d, err := eventing.Decode[eventing.RolloutPromoted](e)
		if err != nil {
			return "", false
		}
		return line("rollout", "promoted %s: it serves all traffic", eventing.Versioned(d.Revision, d.Image))
	case eventing.TypeRolloutRolledBack:
		d, err := eventing.Decode[eventing.RolloutRolledBack](e)
		if err != nil {
			return "", false
		}
		who := "rollout"
		if d.Alert != nil {
			who = "rollback"
		}
		return line(who, "rolled %s back: all traffic on %s again (%s)", eventing.Versioned(d.CandidateRevision, d.Image), d.StableRevision, d.Reason)
	}
	return "", false
}
