package eventing

import (
	"strconv"
	"strings"
)

func serviceSubject(namespace, service string) string { return namespace + "/" + service }

// EventType implements Data.
func (d ImagePushed) EventType() string { return TypeImagePushed }

// Subject implements Data: <registry>/<repository>.
func (d ImagePushed) Subject() string { return d.Registry + "/" + d.Repository }

// ID implements Data: derived from registry, repository, tag and digest.
func (d ImagePushed) ID() string {
	return deterministicID(TypeImagePushed, d.Registry, d.Repository, d.Tag, d.Digest)
}

// Extensions implements Data.
func (d ImagePushed) Extensions() map[string]string {
	return map[string]string{ExtRepository: d.Repository, ExtTag: d.Tag, ExtDigest: d.Digest}
}

// Validate implements Data.
func (d ImagePushed) Validate() error {
	var p problems
	if ref, ok := p.pinnedImage("image", d.Image); ok {
		tag := TagOf(ref)
		if tag == "" {
			p.add("image", "%q has no tag: a pushed image must be tagged", d.Image)
		}
		for _, f := range []struct{ field, got, want string }{
			{"registry", d.Registry, ref.Context().RegistryStr()},
			{"repository", d.Repository, ref.Context().RepositoryStr()},
			{"tag", d.Tag, tag},
			{"digest", d.Digest, ref.DigestStr()},
		} {
			if f.got != f.want {
				p.add(f.field, "%q does not match image %q (expected %q)", f.got, d.Image, f.want)
			}
		}
	}
	return p.err()
}

// EventType implements Data.
func (d ManifestCommitted) EventType() string { return TypeManifestCommitted }

// Subject implements Data: <namespace>/<service>.
func (d ManifestCommitted) Subject() string { return serviceSubject(d.Namespace, d.Service) }

// ID implements Data: derived from the commit and the Service.
func (d ManifestCommitted) ID() string {
	return deterministicID(TypeManifestCommitted, d.Commit, d.Namespace, d.Service)
}

// Extensions implements Data.
func (d ManifestCommitted) Extensions() map[string]string {
	return map[string]string{ExtRevision: d.CandidateRevision}
}

// Validate implements Data.
func (d ManifestCommitted) Validate() error {
	var p problems
	p.namespace("namespace", d.Namespace)
	p.objectName("service", d.Service)
	if p.required("commit", d.Commit) && !commitSHA.MatchString(d.Commit) {
		p.add("commit", "%q is not a full Git commit SHA (40 or 64 lower-case hex digits)", d.Commit)
	}
	if p.required("path", d.Path) && (strings.HasPrefix(d.Path, "/") || hasDotDot(d.Path)) {
		p.add("path", "%q must be relative to the repository root, without '..'", d.Path)
	}
	p.imageRef("image", d.Image)
	p.optionalObjectName("stableRevision", d.StableRevision)
	p.optionalObjectName("candidateRevision", d.CandidateRevision)
	p.required("causeType", d.CauseType)
	p.required("causeId", d.CauseID)
	return p.err()
}

func hasDotDot(path string) bool {
	for _, part := range strings.Split(path, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

// EventType implements Data.
func (d TrafficShifted) EventType() string { return TypeTrafficShifted }

// Subject implements Data: <namespace>/<service>.
func (d TrafficShifted) Subject() string { return serviceSubject(d.Namespace, d.Service) }

// ID implements Data: derived from the Service, the candidate, the step and
// the state, so the same step said again has the same id, and the step's
// "now live" record (a new state) has its own.
func (d TrafficShifted) ID() string {
	return deterministicID(TypeTrafficShifted, d.Namespace, d.Service, d.CandidateRevision, strconv.Itoa(d.Step), d.State)
}

// Extensions implements Data.
func (d TrafficShifted) Extensions() map[string]string {
	return map[string]string{ExtRevision: d.CandidateRevision}
}

// Validate implements Data.
func (d TrafficShifted) Validate() error {
	var p problems
	p.namespace("namespace", d.Namespace)
	p.objectName("service", d.Service)
	p.objectName("stableRevision", d.StableRevision)
	p.objectName("candidateRevision", d.CandidateRevision)
	if d.StableRevision != "" && d.StableRevision == d.CandidateRevision {
		p.add("candidateRevision", "%q is also the stable revision", d.CandidateRevision)
	}
	if d.Steps < 1 {
		p.add("steps", "%d: must be at least 1", d.Steps)
	}
	if d.Step < 0 || (d.Steps >= 1 && d.Step > d.Steps) {
		p.add("step", "%d: must be between 0 and steps (%d)", d.Step, d.Steps)
	}
	p.traffic("traffic", d.Traffic, d.StableRevision, d.CandidateRevision)
	if d.Step == 0 {
		for _, t := range d.Traffic {
			if t.RevisionName == d.CandidateRevision && t.Percent != 0 {
				p.add("traffic", "step 0 puts the candidate in at 0%%, not %d%%", t.Percent)
			}
		}
	}
	return p.err()
}

// traffic checks a traffic block: every entry valid, unique tags, percents sum
// to 100, and only the named revisions receive traffic.
func (p *problems) traffic(field string, targets []TrafficTarget, allowed ...string) {
	if len(targets) == 0 {
		p.add(field, "required: at least one target")
		return
	}
	sum := 0
	tags := map[string]bool{}
	for i, t := range targets {
		f := field + "[" + strconv.Itoa(i) + "]"
		p.objectName(f+".revisionName", t.RevisionName)
		if t.RevisionName != "" && !contains(allowed, t.RevisionName) {
			p.add(f+".revisionName", "%q is neither the stable nor the candidate revision", t.RevisionName)
		}
		if t.Percent < 0 || t.Percent > 100 {
			p.add(f+".percent", "%d: must be between 0 and 100", t.Percent)
		}
		sum += t.Percent
		if t.Tag != "" {
			if tags[t.Tag] {
				p.add(f+".tag", "%q is used twice", t.Tag)
			}
			tags[t.Tag] = true
			p.optionalObjectName(f+".tag", t.Tag)
		}
	}
	if sum != 100 {
		p.add(field, "percents sum to %d, must sum to 100", sum)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// EventType implements Data.
func (d RolloutPromoted) EventType() string { return TypeRolloutPromoted }

// Subject implements Data: <namespace>/<service>.
func (d RolloutPromoted) Subject() string { return serviceSubject(d.Namespace, d.Service) }

// ID implements Data: derived from the Service and the promoted revision.
func (d RolloutPromoted) ID() string {
	return deterministicID(TypeRolloutPromoted, d.Namespace, d.Service, d.Revision)
}

// Extensions implements Data.
func (d RolloutPromoted) Extensions() map[string]string {
	return map[string]string{ExtRevision: d.Revision}
}

// Validate implements Data.
func (d RolloutPromoted) Validate() error {
	var p problems
	p.namespace("namespace", d.Namespace)
	p.objectName("service", d.Service)
	p.objectName("revision", d.Revision)
	p.optionalObjectName("previousRevision", d.PreviousRevision)
	if d.Revision != "" && d.Revision == d.PreviousRevision {
		p.add("previousRevision", "%q is the promoted revision itself", d.PreviousRevision)
	}
	p.imageRef("image", d.Image)
	return p.err()
}

// EventType implements Data.
func (d RolloutRolledBack) EventType() string { return TypeRolloutRolledBack }

// Subject implements Data: <namespace>/<service>.
func (d RolloutRolledBack) Subject() string { return serviceSubject(d.Namespace, d.Service) }

// ID implements Data: derived from the Service and the rolled-back revision, so
// that a rollback by an alert and by a failed check of the same candidate
// deduplicate.
func (d RolloutRolledBack) ID() string {
	return deterministicID(TypeRolloutRolledBack, d.Namespace, d.Service, d.CandidateRevision)
}

// Extensions implements Data.
func (d RolloutRolledBack) Extensions() map[string]string {
	ext := map[string]string{ExtRevision: d.CandidateRevision}
	if ref, err := ParsePinnedImage(d.Image); err == nil {
		ext[ExtDigest] = ref.DigestStr()
	}
	return ext
}

// Validate implements Data.
func (d RolloutRolledBack) Validate() error {
	var p problems
	p.namespace("namespace", d.Namespace)
	p.objectName("service", d.Service)
	p.objectName("stableRevision", d.StableRevision)
	p.objectName("candidateRevision", d.CandidateRevision)
	if d.StableRevision != "" && d.StableRevision == d.CandidateRevision {
		p.add("candidateRevision", "%q is also the stable revision", d.CandidateRevision)
	}
	p.pinnedImage("image", d.Image)
	p.required("reason", d.Reason)
	if d.Alert != nil {
		p.required("alert.name", d.Alert.Name)
	}
	return p.err()
}
