package eventing

import (
	"fmt"
	"time"
)

// Data is implemented by every payload of the catalog.
type Data interface {
	// EventType returns the CloudEvents type of the payload.
	EventType() string
	// Subject returns the CloudEvents subject, the first routing key.
	Subject() string
	// ID returns the deterministic event id.
	ID() string
	// Extensions returns the routing extensions; empty values are left out.
	Extensions() map[string]string
	// Validate reports every problem of the payload, or nil.
	Validate() error
}

// ImagePushed is the data of dev.slipstream.image.pushed.v1: one tagged image
// pushed to a registry, pinned by digest. Subject: <registry>/<repository>.
// Extensions: repository, tag, digest.
type ImagePushed struct {
	// Image is the full reference <registry>/<repository>:<tag>@sha256:<hex>.
	Image string `json:"image"`
	// Registry is the registry host (and port), e.g. "registry.example.com".
	Registry string `json:"registry"`
	// Repository is the repository path inside the registry, e.g. "team/hello".
	Repository string `json:"repository"`
	// Tag is the pushed tag, e.g. "1.4.0".
	Tag string `json:"tag"`
	// Digest is the manifest or index digest, "sha256:<64 hex>".
	Digest string `json:"digest"`
	// MediaType is the manifest or index media type when the registry reported it.
	MediaType string `json:"mediaType,omitempty"`
	// Format names the webhook format the push came from ("distribution", "harbor", …).
	Format string `json:"format,omitempty"`
	// PushedAt is when the registry saw the push, when it said so.
	PushedAt *time.Time `json:"pushedAt,omitempty"`
}

// NewImagePushed builds an ImagePushed from a pinned, tagged reference; the
// registry, repository, tag and digest fields are derived from it so they can
// never disagree.
func NewImagePushed(image, format, mediaType string, pushedAt *time.Time) (ImagePushed, error) {
	ref, err := ParsePinnedImage(image)
	if err != nil {
		return ImagePushed{}, err
	}
	tag := TagOf(ref)
	if tag == "" {
		return ImagePushed{}, fmt.Errorf("%q has no tag: a pushed image must be tagged", image)
	}
	d := ImagePushed{
		Registry:   ref.Context().RegistryStr(),
		Repository: ref.Context().RepositoryStr(),
		Tag:        tag,
		Digest:     ref.DigestStr(),
		MediaType:  mediaType,
		Format:     format,
		PushedAt:   pushedAt,
	}
	d.Image = d.Registry + "/" + d.Repository + ":" + d.Tag + "@" + d.Digest
	return d, nil
}

// ManifestCommitted is the data of dev.slipstream.manifest.committed.v1: promote
// committed a change to one Knative Service manifest. Subject: <namespace>/<service>.
// Extensions: revision (the candidate, when there is one).
type ManifestCommitted struct {
	// Namespace is the Knative Service's namespace.
	Namespace string `json:"namespace"`
	// Service is the Knative Service's name.
	Service string `json:"service"`
	// Commit is the full SHA of the commit in the config repository.
	Commit string `json:"commit"`
	// Path is the manifest's path inside the config repository.
	Path string `json:"path"`
	// Image is the pinned image the Service's template now runs.
	Image string `json:"image"`
	// StableRevision is the revision pinned as stable, if any.
	StableRevision string `json:"stableRevision,omitempty"`
	// CandidateRevision is the revision being rolled out, if any.
	CandidateRevision string `json:"candidateRevision,omitempty"`
	// CauseType is the type of the event that caused the commit.
	CauseType string `json:"causeType"`
	// CauseID is the id of the event that caused the commit.
	CauseID string `json:"causeId"`
}

// TrafficTarget is one entry of a Knative Service's spec.traffic.
type TrafficTarget struct {
	// RevisionName is the revision that receives the traffic.
	RevisionName string `json:"revisionName"`
	// Percent is the share of traffic, 0 to 100.
	Percent int `json:"percent"`
	// Tag is the traffic tag ("stable", "candidate"), giving the revision its own URL.
	Tag string `json:"tag,omitempty"`
}

// TrafficShifted is the data of dev.slipstream.traffic.shifted.v1: rollout moved
// traffic to the next step. With the git traffic writer promote commits it.
// Subject: <namespace>/<service>. Extensions: revision (the candidate).
type TrafficShifted struct {
	// Namespace is the Knative Service's namespace.
	Namespace string `json:"namespace"`
	// Service is the Knative Service's name.
	Service string `json:"service"`
	// StableRevision is the revision that served before the rollout.
	StableRevision string `json:"stableRevision"`
	// CandidateRevision is the revision being rolled out.
	CandidateRevision string `json:"candidateRevision"`
	// Step is the step reached, counted from 1; 0 puts the candidate in at
	// 0% before the first step (a template a person changed).
	Step int `json:"step"`
	// Steps is the number of steps of the policy.
	Steps int `json:"steps"`
	// Traffic is the complete traffic block for this step; percents sum to 100.
	Traffic []TrafficTarget `json:"traffic"`
	// State is the rollout state annotation (JSON) to record with the step.
	State string `json:"state,omitempty"`
}

// RolloutPromoted is the data of dev.slipstream.rollout.promoted.v1: the candidate
// took 100% and becomes the stable revision. Subject: <namespace>/<service>.
// Extensions: revision (the new stable).
type RolloutPromoted struct {
	// Namespace is the Knative Service's namespace.
	Namespace string `json:"namespace"`
	// Service is the Knative Service's name.
	Service string `json:"service"`
	// Revision is the promoted revision, now stable.
	Revision string `json:"revision"`
	// PreviousRevision is the revision that was stable before, if any.
	PreviousRevision string `json:"previousRevision,omitempty"`
	// Image is the pinned image of the promoted revision.
	Image string `json:"image"`
}

// Alert is the Alertmanager alert behind a rollback.
type Alert struct {
	// Name is the alertname label.
	Name string `json:"name"`
	// Labels are all labels of the alert.
	Labels map[string]string `json:"labels,omitempty"`
	// Fingerprint is Alertmanager's fingerprint of the alert, when known.
	Fingerprint string `json:"fingerprint,omitempty"`
	// StartsAt is when the alert started firing, when known.
	StartsAt *time.Time `json:"startsAt,omitempty"`
}

// RolloutRolledBack is the data of dev.slipstream.rollout.rolledback.v1: traffic
// went back to 100% stable; promote reverts the image in Git and quarantines the
// digest. Subject: <namespace>/<service>. Extensions: revision (the bad
// candidate), digest.
type RolloutRolledBack struct {
	// Namespace is the Knative Service's namespace.
	Namespace string `json:"namespace"`
	// Service is the Knative Service's name.
	Service string `json:"service"`
	// StableRevision is the revision that has 100% again.
	StableRevision string `json:"stableRevision"`
	// CandidateRevision is the revision that was rolled back.
	CandidateRevision string `json:"candidateRevision"`
	// Image is the pinned image of the rolled-back revision; its digest is quarantined.
	Image string `json:"image"`
	// Reason says why, for people: the alert or the failed check.
	Reason string `json:"reason"`
	// Alert is the alert that caused the rollback, when an alert did.
	Alert *Alert `json:"alert,omitempty"`
}
