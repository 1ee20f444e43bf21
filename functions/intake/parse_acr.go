package intake

import (
	"encoding/json"
	"net/http"
)

// parseACR reads an Azure Container Registry webhook: one event, shaped like a
// Distribution event without the envelope; the registry is request.host.
func parseACR(body []byte, _ http.Header) (report, error) {
	var probe struct {
		Events json.RawMessage `json:"events"`
	}
	_ = json.Unmarshal(body, &probe)
	if probe.Events != nil {
		return report{}, malformed("events", "this is a Distribution notification envelope; send it to /webhooks/distribution")
	}
	var ev distributionEvent
	if err := decodeJSON(body, &ev); err != nil {
		return report{}, err
	}
	var rep report
	what := ev.Target.Repository + ":" + ev.Target.Tag
	switch ev.Action {
	case "push":
	case "chart_push":
		rep.ignore("chart_push of %s: a Helm chart", what)
		return rep, nil
	case "":
		return report{}, malformed("action", "required: push, delete, quarantine, chart_push or chart_delete")
	default:
		rep.ignore("%s of %s", ev.Action, what)
		return rep, nil
	}
	if ev.Target.MediaType != "" && !imageMediaTypes[ev.Target.MediaType] {
		rep.ignore("push of %s with media type %q is not an image manifest or index", what, ev.Target.MediaType)
		return rep, nil
	}
	if why := skipTag(ev.Target.Tag); why != "" {
		rep.ignore("%s", why)
		return rep, nil
	}
	if ev.Request.Host == "" {
		return report{}, malformed("request.host", "required: the registry (e.g. myregistry.azurecr.io)")
	}
	if ev.Target.Digest == "" {
		return report{}, malformed("target.digest", "required for a push")
	}
	rep.Pushes = append(rep.Pushes, push{Registry: ev.Request.Host, Repository: ev.Target.Repository, Tag: ev.Target.Tag,
		Digest: ev.Target.Digest, MediaType: ev.Target.MediaType, PushedAt: ev.Timestamp, Field: "target"})
	return rep, nil
}
