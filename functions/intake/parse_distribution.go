package intake

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// distributionTarget is a Distribution (and ACR) event target: an OCI
// descriptor plus repository, tag and url.
type distributionTarget struct {
	MediaType    string `json:"mediaType"`
	Digest       string `json:"digest"`
	Repository   string `json:"repository"`
	URL          string `json:"url"`
	Tag          string `json:"tag"`
	ArtifactType string `json:"artifactType"`
	References   []struct {
		MediaType string `json:"mediaType"`
	} `json:"references"`
}

type distributionEvent struct {
	Timestamp *time.Time         `json:"timestamp"`
	Action    string             `json:"action"`
	Target    distributionTarget `json:"target"`
	Request   struct {
		Host string `json:"host"`
	} `json:"request"`
}

// parseDistribution reads a CNCF Distribution notification envelope (v2.x
// events.v1 and v3 events.v2 media types alike; the fields are the same).
func parseDistribution(body []byte, _ http.Header) (report, error) {
	var env struct {
		Events *[]distributionEvent `json:"events"`
	}
	if err := decodeJSON(body, &env); err != nil {
		return report{}, err
	}
	if env.Events == nil {
		return report{}, malformed("events", "required: a Distribution notification envelope {\"events\": [...]}")
	}
	var rep report
	if len(*env.Events) == 0 {
		rep.ignore("no events in the envelope")
	}
	for i, ev := range *env.Events {
		field := fmt.Sprintf("events[%d]", i)
		what := ev.Target.Repository
		if ev.Target.Tag != "" {
			what += ":" + ev.Target.Tag
		}
		switch {
		case ev.Action != "push":
			rep.ignore("%s: %s of %s", field, ev.Action, what)
			continue
		case !imageMediaTypes[ev.Target.MediaType]:
			rep.ignore("%s: push of %s with media type %q is not an image manifest or index (a layer or config blob)", field, what, ev.Target.MediaType)
			continue
		}
		var configs []string
		for _, r := range ev.Target.References {
			configs = append(configs, r.MediaType)
		}
		if why := notAnImage(ev.Target.ArtifactType, configs...); why != "" {
			rep.ignore("%s: %s is %s", field, what, why)
			continue
		}
		if why := skipTag(ev.Target.Tag); why != "" {
			rep.ignore("%s: %s", field, why)
			continue
		}
		registry := ev.Request.Host
		if registry == "" {
			if u, err := url.Parse(ev.Target.URL); err == nil {
				registry = u.Host
			}
		}
		if registry == "" {
			return report{}, malformed(field+".request.host", "required (or target.url): the registry the image was pushed to")
		}
		if ev.Target.Digest == "" {
			return report{}, malformed(field+".target.digest", "required for a manifest push")
		}
		rep.Pushes = append(rep.Pushes, push{Registry: registry, Repository: ev.Target.Repository, Tag: ev.Target.Tag,
			Digest: ev.Target.Digest, MediaType: ev.Target.MediaType, PushedAt: ev.Timestamp, Field: field + ".target"})
	}
	return rep, nil
}
