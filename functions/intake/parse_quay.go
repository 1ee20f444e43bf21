package intake

import (
	"fmt"
	"net/http"
	"strings"
)

// parseQuay reads a Quay "Repository Push" notification: one push per updated
// tag, no digest (resolved at the registry).
func parseQuay(body []byte, _ http.Header) (report, error) {
	var p struct {
		DockerURL   string    `json:"docker_url"`
		UpdatedTags *[]string `json:"updated_tags"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return report{}, err
	}
	if p.DockerURL == "" {
		return report{}, malformed("docker_url", "required: <registry>/<namespace>/<name>")
	}
	registry, repo, ok := strings.Cut(p.DockerURL, "/")
	if !ok || repo == "" {
		return report{}, malformed("docker_url", "%q is not <registry>/<namespace>/<name>", p.DockerURL)
	}
	if p.UpdatedTags == nil {
		return report{}, malformed("updated_tags", "required: the pushed tags")
	}
	var rep report
	if len(*p.UpdatedTags) == 0 {
		rep.ignore("no updated tags")
	}
	for i, tag := range *p.UpdatedTags {
		if why := skipTag(tag); why != "" {
			rep.ignore("updated_tags[%d]: %s", i, why)
			continue
		}
		rep.Pushes = append(rep.Pushes, push{Registry: registry, Repository: repo, Tag: tag, Field: fmt.Sprintf("updated_tags[%d]", i)})
	}
	return rep, nil
}
