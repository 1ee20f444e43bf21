package intake

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// parseDockerHub reads a Docker Hub push webhook. It has no digest: intake
// resolves the tag at the registry.
func parseDockerHub(body []byte, _ http.Header) (report, error) {
	var p struct {
		PushData *struct {
			PushedAt json.Number `json:"pushed_at"`
			Tag      string      `json:"tag"`
		} `json:"push_data"`
		Repository struct {
			RepoName string `json:"repo_name"`
		} `json:"repository"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return report{}, err
	}
	if p.PushData == nil {
		return report{}, malformed("push_data", "required: a Docker Hub push webhook")
	}
	if p.Repository.RepoName == "" {
		return report{}, malformed("repository.repo_name", "required")
	}
	var rep report
	if why := skipTag(p.PushData.Tag); why != "" {
		rep.ignore("%s", why)
		return rep, nil
	}
	repo := p.Repository.RepoName
	if !strings.Contains(repo, "/") {
		repo = "library/" + repo
	}
	var at *time.Time
	if f, err := p.PushData.PushedAt.Float64(); err == nil && f > 0 { // old payloads send floats
		t := time.Unix(int64(f), 0).UTC()
		at = &t
	}
	rep.Pushes = append(rep.Pushes, push{Registry: "docker.io", Repository: repo, Tag: p.PushData.Tag, PushedAt: at, Field: "push_data"})
	return rep, nil
}
