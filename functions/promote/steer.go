package promote

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/gitrepo"
	"github.com/slipstream-cd/slipstream/policy"
)

// ErrSteer: a person's edit (Unquarantine, Retry) does not apply to the
// Service as the repository has it; the error says why. Nothing is changed.
var ErrSteer = errors.New("cannot edit")

// Unquarantine is the edit that lifts the quarantine of digest on one
// Service: the commit a person makes in a clone of the config repository
// (`slipstream unquarantine`). A quarantine is a decision about trust, so it
// is lifted in Git, reviewed as any change is, never by a live annotation
// anyone who may patch the Service could set.
func Unquarantine(files gitrepo.Files, paths []string, namespace, name, digest string) (gitrepo.Change, error) {
	if !eventing.IsDigest(digest) {
		return gitrepo.Change{}, fmt.Errorf("%w: %q is not a digest (sha256:<64 hex>)", ErrSteer, digest)
	}
	snapshot, s, err := steered(files, paths, namespace, name)
	if err != nil {
		return gitrepo.Change{}, err
	}
	if _, ok := policy.RemoveQuarantine(s.Annotations[policy.AnnotationQuarantine], digest); !ok {
		return gitrepo.Change{}, fmt.Errorf("%w: %s does not quarantine %s (%s: %q)", ErrSteer, s.key(), digest, policy.AnnotationQuarantine, s.Annotations[policy.AnnotationQuarantine])
	}
	d := desired{svc: s, Unquarantine: digest, Summary: "lift the quarantine of " + digest + " (a person trusts it again); the next push of it is rolled out",
		Committed: committed(s, s.Image, s.pinnedStable(), "")}
	return steerChange(snapshot, d, fmt.Sprintf("slipstream: unquarantine %s of %s", eventing.ShortDigest(digest), s.key()), "unquarantine", time.Time{})
}

// Retry is the edit that rolls out again the candidate the last rollback
// rolled back: its digest leaves the quarantine and the image is pinned as
// candidate exactly as a push of it would be (a new rollout, from step 1).
// The repository must have recorded the rollback (phase RolledBack).
// rolledBack is the candidate the cluster rolled back: the repository must
// name the same one, or it is behind (or ahead of) the cluster.
func Retry(files gitrepo.Files, paths []string, namespace, name, rolledBack string, at time.Time) (gitrepo.Change, error) {
	snapshot, s, err := steered(files, paths, namespace, name)
	if err != nil {
		return gitrepo.Change{}, err
	}
	if pol, err := s.policy(); err == nil && pol.Writer == policy.WriterCluster {
		// rollout learns a new candidate of the cluster writer from
		// promote's manifest.committed, which a person's commit does not send.
		return gitrepo.Change{}, fmt.Errorf("%w: %s uses the cluster traffic writer, whose rollouts start from promote's event, not from a commit: "+
			"slipstream unquarantine it, then push the image again", ErrSteer, s.key())
	}
	if s.State.Phase != policy.RolledBack || s.State.CandidateImage == "" {
		return gitrepo.Change{}, fmt.Errorf("%w: %s has no rollback to retry in this repository (phase %q%s); pull if the cluster rolled back since",
			ErrSteer, s.key(), s.State.Phase, because(s.State.Reason))
	}
	if s.State.Candidate != rolledBack {
		return gitrepo.Change{}, fmt.Errorf("%w: the repository's last rollback is of %s, the cluster's of %s: pull, or wait for promote to record the cluster's",
			ErrSteer, s.State.Candidate, rolledBack)
	}
	ev, err := eventing.NewImagePushed(s.State.CandidateImage, "retry", "", nil)
	if err != nil {
		return gitrepo.Change{}, fmt.Errorf("%w: %s: the rolled-back image %q cannot be rolled out again: %v", ErrSteer, s.key(), s.State.CandidateImage, err)
	}
	// Decided as a push of that image to a Service that no longer
	// quarantines it; the edit removes it from the real annotation.
	free := s
	free.Annotations = maps.Clone(s.Annotations)
	free.Annotations[policy.AnnotationQuarantine], _ = policy.RemoveQuarantine(s.Annotations[policy.AnnotationQuarantine], ev.Digest)
	out := decideImagePushed([]service{free}, ev, Lives{}, at)
	switch {
	case len(out.Skipped) > 0:
		return gitrepo.Change{}, fmt.Errorf("%w: %s: %s", ErrSteer, s.key(), out.Skipped[0].Reason)
	case len(out.NeedLive) > 0 || len(out.Changes) != 1:
		return gitrepo.Change{}, fmt.Errorf("%w: %s pins no stable revision to roll %s out beside; push the image again instead", ErrSteer, s.key(), ev.Image)
	}
	d := out.Changes[0]
	d.svc = s
	if s.Annotations[policy.AnnotationQuarantine] != free.Annotations[policy.AnnotationQuarantine] {
		d.Unquarantine = ev.Digest
	}
	d.Summary = fmt.Sprintf("retry %s after its rollback (%s): %s", versionOrImage(ev.Image), s.State.Reason, d.Summary)
	return steerChange(snapshot, d, fmt.Sprintf("slipstream: retry %s of %s (%s)", versionOrImage(ev.Image), s.key(), d.Template), "retry", at)
}

// steered finds one Service in the repository.
func steered(files gitrepo.Files, paths []string, namespace, name string) (map[string][]byte, service, error) {
	var x index
	snapshot, services, _, err := x.scan(files, paths)
	if err != nil {
		return nil, service{}, err
	}
	s, why := find(services, namespace, name)
	if why != nil {
		return nil, service{}, fmt.Errorf("%w: %s", ErrSteer, why)
	}
	return snapshot, s, nil
}

// steerChange is the commit of one person's edit.
func steerChange(snapshot map[string][]byte, d desired, subject, command string, at time.Time) (gitrepo.Change, error) {
	// A person's commit announces nothing (rollout sees the synced Service);
	// the cause only lets build check the change as it checks promote's own.
	d.Committed.CauseType, d.Committed.CauseID = "slipstream "+command, command
	pl := build(snapshot, []desired{d}, nil, at)
	if len(pl.Skipped) > 0 {
		return gitrepo.Change{}, fmt.Errorf("%w: %s", ErrSteer, pl.Skipped[0])
	}
	if len(pl.Changed) == 0 {
		return gitrepo.Change{}, fmt.Errorf("%w: %s: nothing to change", ErrSteer, d.svc.key())
	}
	return gitrepo.Change{Files: pl.Files, Message: fmt.Sprintf("%s\n\n- %s: %s\n\nSlipstream-Command: %s\n", subject, d.svc.key(), d.Summary, command)}, nil
}

func versionOrImage(image string) string {
	if v := eventing.VersionOf(image); v != "" {
		return v
	}
	return image
}

func because(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + strings.TrimSpace(reason)
}
