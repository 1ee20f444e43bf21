package intake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
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

type githubPackage struct {
	Name        string `json:"name"`
	PackageType string `json:"package_type"`
	Ecosystem   string `json:"ecosystem"`
	Owner       struct {
		Login string `json:"login"`
	} `json:"owner"`
	PackageVersion *struct {
		Version           string `json:"version"`
		PackageURL        string `json:"package_url"`
		ContainerMetadata struct {
			Tag struct {
				Name   string `json:"name"`
				Digest string `json:"digest"`
			} `json:"tag"`
			Manifest struct {
				Digest    string `json:"digest"`
				MediaType string `json:"media_type"`
			} `json:"manifest"`
		} `json:"container_metadata"`
	} `json:"package_version"`
}

// parseGitHub reads a GitHub `package` or `registry_package` webhook for a
// container published to ghcr.io.
func parseGitHub(body []byte, h http.Header) (report, error) {
	var rep report
	event := h.Get("X-GitHub-Event")
	switch event {
	case "package", "registry_package":
	case "ping":
		rep.ignore("GitHub ping")
		return rep, nil
	case "":
		return report{}, malformed("X-GitHub-Event", "header required: package or registry_package")
	default:
		rep.ignore("GitHub event %s is not a package event", event)
		return rep, nil
	}
	var p struct {
		Action          string         `json:"action"`
		Package         *githubPackage `json:"package"`
		RegistryPackage *githubPackage `json:"registry_package"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return report{}, err
	}
	pkg, field := p.Package, "package"
	if event == "registry_package" {
		pkg, field = p.RegistryPackage, "registry_package"
	}
	if pkg == nil {
		return report{}, malformed(field, "required for a %s event", event)
	}
	if p.Action != "published" {
		rep.ignore("package %s: action %q is not published", pkg.Name, p.Action)
		return rep, nil
	}
	if !isContainer(pkg.PackageType) && !isContainer(pkg.Ecosystem) {
		rep.ignore("package %s is not a container (package_type %q)", pkg.Name, pkg.PackageType)
		return rep, nil
	}
	v := pkg.PackageVersion
	if v == nil {
		return report{}, malformed(field+".package_version", "required")
	}
	cm := v.ContainerMetadata
	if why := skipTag(cm.Tag.Name); why != "" {
		rep.ignore("package %s: %s", pkg.Name, why)
		return rep, nil
	}
	digest := firstNonEmpty(cm.Manifest.Digest, cm.Tag.Digest)
	if digest == "" && strings.HasPrefix(v.Version, "sha256:") {
		digest = v.Version
	}
	if digest == "" {
		return report{}, malformed(field+".package_version.container_metadata.manifest.digest", "required")
	}
	registry, repo := "ghcr.io", strings.ToLower(pkg.Owner.Login+"/"+pkg.Name)
	if u := v.PackageURL; u != "" {
		base := u
		if i := strings.LastIndex(base, ":"); i > strings.LastIndex(base, "/") {
			base = base[:i]
		}
		r, rest, ok := strings.Cut(base, "/")
		if !ok || rest == "" {
			return report{}, malformed(field+".package_version.package_url", "%q is not <registry>/<repository>:<tag>", u)
		}
		registry, repo = strings.ToLower(r), strings.ToLower(rest)
	}
	rep.Pushes = append(rep.Pushes, push{Registry: registry, Repository: repo, Tag: cm.Tag.Name, Digest: digest,
		MediaType: cm.Manifest.MediaType, Field: field + ".package_version"})
	return rep, nil
}

func isContainer(t string) bool {
	t = strings.ToLower(t)
	return t == "container" || t == "docker"
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// parseGAR reads a Google Artifact Registry (or GCR) notification delivered
// by a Pub/Sub push subscription: the envelope with base64 message.data, or
// the unwrapped message body.
func parseGAR(body []byte, _ http.Header) (report, error) {
	var env struct {
		Message *struct {
			Data        string `json:"data"`
			PublishTime string `json:"publishTime"`
		} `json:"message"`
		Action *string `json:"action"`
	}
	if err := decodeJSON(body, &env); err != nil {
		return report{}, err
	}
	data, field := body, "body"
	var at *time.Time
	switch {
	case env.Message != nil:
		raw, err := base64.StdEncoding.DecodeString(env.Message.Data)
		if err != nil || len(raw) == 0 {
			return report{}, malformed("message.data", "expected base64 of the Artifact Registry notification JSON")
		}
		data, field = raw, "message.data"
		if t, err := time.Parse(time.RFC3339Nano, env.Message.PublishTime); err == nil {
			at = &t
		}
	case env.Action == nil:
		return report{}, malformed("message", "required: a Pub/Sub push envelope {\"message\": {\"data\": …}} or an unwrapped notification")
	}
	var n struct {
		Action string `json:"action"`
		Digest string `json:"digest"`
		Tag    string `json:"tag"`
	}
	if err := json.Unmarshal(data, &n); err != nil {
		return report{}, malformed(field, "not the JSON of an Artifact Registry notification: %v", err)
	}
	var rep report
	switch {
	case n.Action == "":
		return report{}, malformed(field+".action", "required: INSERT or DELETE")
	case n.Action != "INSERT":
		rep.ignore("%s of %s", n.Action, firstNonEmpty(n.Tag, n.Digest))
		return rep, nil
	case n.Tag == "":
		rep.ignore("INSERT of %s without a tag (the tagged INSERT follows)", n.Digest)
		return rep, nil
	}
	tagBase, tag, ok := cutTag(n.Tag)
	if !ok {
		return report{}, malformed(field+".tag", "%q is not <registry>/<repository>:<tag>", n.Tag)
	}
	digestBase, digest, ok := strings.Cut(n.Digest, "@")
	if !ok {
		return report{}, malformed(field+".digest", "%q is not <registry>/<repository>@sha256:<hex>", n.Digest)
	}
	if digestBase != tagBase {
		return report{}, malformed(field+".digest", "%q names another image than tag %q", n.Digest, n.Tag)
	}
	registry, repo, _ := strings.Cut(tagBase, "/")
	rep.Pushes = append(rep.Pushes, push{Registry: registry, Repository: repo, Tag: tag, Digest: digest, PushedAt: at, Field: field})
	return rep, nil
}

// cutTag splits "<registry>/<repository>:<tag>" into the base and the tag.
func cutTag(ref string) (base, tag string, ok bool) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || i < strings.LastIndex(ref, "/") || !strings.Contains(ref[:i], "/") {
		return "", "", false
	}
	return ref[:i], ref[i+1:], true
}

var (
	awsAccount = regexp.MustCompile(`^[0-9]{12}$`)
	awsRegion  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// parseECR reads an EventBridge "ECR Image Action" event (through an API
// destination); the registry is derived from the account and region.
func parseECR(body []byte, _ http.Header) (report, error) {
	var p struct {
		Source     string     `json:"source"`
		DetailType string     `json:"detail-type"`
		Account    string     `json:"account"`
		Region     string     `json:"region"`
		Time       *time.Time `json:"time"`
		Detail     *struct {
			Result         string `json:"result"`
			RepositoryName string `json:"repository-name"`
			ImageDigest    string `json:"image-digest"`
			ActionType     string `json:"action-type"`
			ImageTag       string `json:"image-tag"`
		} `json:"detail"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return report{}, err
	}
	var rep report
	if p.Source != "aws.ecr" || p.DetailType != "ECR Image Action" {
		if p.Source == "" && p.DetailType == "" {
			return report{}, malformed("source", "required: an EventBridge event from aws.ecr")
		}
		rep.ignore("EventBridge %s %q is not an ECR Image Action", p.Source, p.DetailType)
		return rep, nil
	}
	d := p.Detail
	if d == nil {
		return report{}, malformed("detail", "required")
	}
	if d.ActionType != "PUSH" || d.Result != "SUCCESS" {
		rep.ignore("ECR %s with result %s of %s", d.ActionType, d.Result, d.RepositoryName)
		return rep, nil
	}
	if why := skipTag(d.ImageTag); why != "" {
		rep.ignore("%s", why)
		return rep, nil
	}
	if !awsAccount.MatchString(p.Account) {
		return report{}, malformed("account", "%q is not a 12-digit AWS account id", p.Account)
	}
	if !awsRegion.MatchString(p.Region) {
		return report{}, malformed("region", "%q is not an AWS region", p.Region)
	}
	if d.ImageDigest == "" {
		return report{}, malformed("detail.image-digest", "required for a push")
	}
	registry := p.Account + ".dkr.ecr." + p.Region + ".amazonaws.com"
	rep.Pushes = append(rep.Pushes, push{Registry: registry, Repository: d.RepositoryName, Tag: d.ImageTag, Digest: d.ImageDigest, PushedAt: p.Time, Field: "detail"})
	return rep, nil
}
