package intake

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

type harborData struct {
	Resources []struct {
		Digest      string `json:"digest"`
		Tag         string `json:"tag"`
		ResourceURL string `json:"resource_url"`
	} `json:"resources"`
	Repository struct {
		Name         string `json:"name"`
		Namespace    string `json:"namespace"`
		RepoFullName string `json:"repo_full_name"`
	} `json:"repository"`
}

// parseHarbor reads Harbor's default webhook format.
func parseHarbor(body []byte, _ http.Header) (report, error) {
	var p struct {
		Type      string      `json:"type"`
		OccurAt   *int64      `json:"occur_at"`
		EventData *harborData `json:"event_data"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return report{}, err
	}
	if p.Type == "" {
		return report{}, malformed("type", "required: a Harbor event type such as PUSH_ARTIFACT")
	}
	if p.Type != "PUSH_ARTIFACT" {
		var rep report
		rep.ignore("Harbor event %s is not an artifact push", p.Type)
		return rep, nil
	}
	if p.EventData == nil {
		return report{}, malformed("event_data", "required for PUSH_ARTIFACT")
	}
	var at *time.Time
	if p.OccurAt != nil {
		t := time.Unix(*p.OccurAt, 0).UTC()
		at = &t
	}
	return harborPushes(*p.EventData, "event_data", at)
}

// harborPushes turns Harbor's event data (the default format's event_data and
// the CloudEvents format's data) into pushes. Harbor reports only the first
// tag, and the digest in place of the tag for a push by digest.
func harborPushes(d harborData, field string, at *time.Time) (report, error) {
	var rep report
	if len(d.Resources) == 0 {
		return report{}, malformed(field+".resources", "required: at least one pushed artifact")
	}
	for i, r := range d.Resources {
		f := fmt.Sprintf("%s.resources[%d]", field, i)
		if why := skipTag(r.Tag); why != "" {
			rep.ignore("%s: %s", f, why)
			continue
		}
		if r.ResourceURL == "" {
			return report{}, malformed(f+".resource_url", "required: <registry>/<repository>:<tag>")
		}
		registry, path, ok := strings.Cut(r.ResourceURL, "/")
		if !ok || registry == "" {
			return report{}, malformed(f+".resource_url", "%q does not start with a registry host", r.ResourceURL)
		}
		repo := d.Repository.RepoFullName
		if repo == "" {
			repo, _, _ = strings.Cut(path, "@")
			if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
				repo = repo[:i]
			}
		}
		if r.Digest == "" {
			return report{}, malformed(f+".digest", "required")
		}
		rep.Pushes = append(rep.Pushes, push{Registry: registry, Repository: repo, Tag: r.Tag, Digest: r.Digest, PushedAt: at, Field: f})
	}
	return rep, nil
}
