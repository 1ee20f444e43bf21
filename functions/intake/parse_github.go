package intake

import (
	"net/http"
	"strings"
)

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
