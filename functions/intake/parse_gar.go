package intake

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

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
