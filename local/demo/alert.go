package demo

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/slipstream-cd/slipstream/functions/rollback"
)

// AlertRequest is an Alertmanager notification (webhook format 4) of one
// firing critical alert for the demo Service, labelled as docs/alerts.md's
// rules label it, and the headers Alertmanager sends it with: what `slipstream
// dev` prints as a ready-to-paste curl.
func (e *Env) AlertRequest() (url string, header map[string]string, body string) {
	now := time.Now().UTC().Format(time.RFC3339)
	b, _ := json.Marshal(map[string]any{"version": "4", "status": "firing", "receiver": "slipstream",
		"groupKey": `{}:{alertname="KnativeRevisionHighErrorRate"}`,
		"alerts": []map[string]any{{"status": "firing", "startsAt": now, "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "by-hand",
			"labels": map[string]string{"alertname": "KnativeRevisionHighErrorRate", "severity": "critical", "namespace_name": namespace, "service_name": service}}}})
	return e.Rollback + rollback.Route, map[string]string{"Authorization": "Bearer " + rollbackToken, "Content-Type": "application/json"}, string(b)
}

// AlertCurl is AlertRequest as a curl command line.
func (e *Env) AlertCurl() string {
	url, header, body := e.AlertRequest()
	var b strings.Builder
	b.WriteString("curl -sS")
	for _, k := range []string{"Authorization", "Content-Type"} {
		fmt.Fprintf(&b, " -H '%s: %s'", k, header[k])
	}
	fmt.Fprintf(&b, " -d '%s' %s", body, url)
	return b.String()
}
