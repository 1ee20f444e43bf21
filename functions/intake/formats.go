package intake

import (
	"net/http"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/slipstream-cd/slipstream/internal/webauth"
)

// parser reads one raw webhook format.
type parser func(body []byte, h http.Header) (report, error)

// eventParser reads one CloudEvent type taken at POST /.
type eventParser func(e cloudevents.Event) (report, error)

// format is one way registries tell intake about a push: a row of formats.
type format struct {
	// name is the route (POST /webhooks/<name>), the value of
	// SLIPSTREAM_INTAKE_FORMATS and the settings prefix
	// SLIPSTREAM_INTAKE_<NAME>_* of its credentials.
	name string
	// parse reads the raw webhook; nil for a format that arrives as CloudEvents.
	parse parser
	// events reads the CloudEvent types the format sends to POST /, by type;
	// a key ending in "*" matches every type with that prefix.
	events map[string]eventParser
	// signature is the header an HMAC-SHA256 signature of the body comes in.
	signature string
}

// formats is the registration table: a new format is a parse_<name>.go file
// and one row here. Each parser's file says which registry sends it.
var formats = []format{
	{name: "distribution", parse: parseDistribution, signature: webauth.HeaderSignature},
	{name: "harbor", parse: parseHarbor, signature: webauth.HeaderSignature},
	{name: "dockerhub", parse: parseDockerHub, signature: webauth.HeaderSignature},
	{name: "quay", parse: parseQuay, signature: webauth.HeaderSignature},
	{name: "github", parse: parseGitHub, signature: webauth.HeaderGitHubSignature},
	{name: "gar", parse: parseGAR, signature: webauth.HeaderSignature},
	{name: "ecr", parse: parseECR, signature: webauth.HeaderSignature},
	{name: "acr", parse: parseACR, signature: webauth.HeaderSignature},
	{name: "cloudevents", events: map[string]eventParser{
		typeHarborPushed:           parseHarborEvent,
		typeCDEventPublished + "*": parseCDEvent,
	}, signature: webauth.HeaderSignature},
}

// Formats returns the names of the formats intake understands, in table order.
func Formats() []string {
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = f.name
	}
	return names
}

// formatNamed returns the table row of a format.
func formatNamed(name string) (format, bool) {
	for _, f := range formats {
		if f.name == name {
			return f, true
		}
	}
	return format{}, false
}
