package intake

import (
	"net/url"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// CloudEvent types intake takes at POST /.
const (
	typeHarborPushed     = "harbor.artifact.pushed"
	typeCDEventPublished = "dev.cdevents.artifact.published."
)

// parseHarborEvent reads Harbor's CloudEvents format: the default format's
// event_data under data.
func parseHarborEvent(e cloudevents.Event) (report, error) {
	var d harborData
	if err := decodeJSON(e.Data(), &d); err != nil {
		return report{}, err
	}
	at := e.Time().UTC()
	if e.Time().IsZero() {
		return harborPushes(d, "data", nil)
	}
	return harborPushes(d, "data", &at)
}

// parseCDEvent reads a CDEvents artifact.published event whose subject id is
// an OCI package URL:
// pkg:oci/<name>@sha256%3A<hex>?repository_url=<registry>/<repository>&tag=<tag>.
func parseCDEvent(e cloudevents.Event) (report, error) {
	var d struct {
		Subject *struct {
			ID string `json:"id"`
		} `json:"subject"`
	}
	if err := decodeJSON(e.Data(), &d); err != nil {
		return report{}, err
	}
	if d.Subject == nil || d.Subject.ID == "" {
		return report{}, malformed("data.subject.id", "required: the artifact's package URL")
	}
	var rep report
	id := d.Subject.ID
	if !strings.HasPrefix(id, "pkg:oci/") {
		rep.ignore("artifact %s is not an OCI image (pkg:oci/…)", id)
		return rep, nil
	}
	u, err := url.Parse(id)
	if err != nil {
		return report{}, malformed("data.subject.id", "%q is not a package URL: %v", id, err)
	}
	nameVersion := strings.TrimPrefix(u.Opaque, "oci/")
	_, version, ok := strings.Cut(nameVersion, "@")
	if !ok {
		return report{}, malformed("data.subject.id", "%q has no @<digest> version", id)
	}
	digest, err := url.PathUnescape(version)
	if err != nil {
		return report{}, malformed("data.subject.id", "%q: version is not percent-encoded: %v", id, err)
	}
	q := u.Query()
	repoURL := q.Get("repository_url")
	if repoURL == "" {
		return report{}, malformed("data.subject.id", "%q has no repository_url qualifier naming the registry", id)
	}
	if i := strings.Index(repoURL, "://"); i >= 0 {
		repoURL = repoURL[i+3:]
	}
	registry, repo, ok := strings.Cut(strings.TrimSuffix(repoURL, "/"), "/")
	if !ok || repo == "" {
		return report{}, malformed("data.subject.id", "repository_url %q is not <registry>/<repository>", repoURL)
	}
	tag := q.Get("tag")
	if why := skipTag(tag); why != "" {
		rep.ignore("%s: %s", id, why)
		return rep, nil
	}
	rep.Pushes = append(rep.Pushes, push{Registry: registry, Repository: repo, Tag: tag, Digest: digest, Field: "data.subject.id"})
	return rep, nil
}
