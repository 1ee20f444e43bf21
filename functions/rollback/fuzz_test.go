package rollback

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/policy"
)

// FuzzNotification: Alertmanager payloads are outside input. Parsing never
// panics and fails only as malformed; every alert of a parsed notification
// can be targeted and decided without panicking.
func FuzzNotification(f *testing.F) {
	for _, s := range []string{"alertmanager-firing.json", "alertmanager-resolved.json", "alertmanager-firing.wire.json"} {
		b, _ := os.ReadFile(filepath.Join("testdata", s))
		f.Add(b)
	}
	cfg := config.Rollback{NamespaceLabels: []string{"namespace"}, ServiceLabels: []string{"service_name"}, RevisionLabels: []string{"revision_name"}, Concurrency: 1}
	defaults, _ := parseDefault(`severity="critical"`)
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := parse(body)
		if err != nil {
			if !errors.Is(err, host.ErrMalformed) {
				t.Fatalf("parse error is not malformed: %v", err)
			}
			return
		}
		for _, a := range n.Alerts {
			if tgt, err := TargetOf(a, cfg); err == nil {
				Decide(a, tgt.Revision, midRollout(tgt.Namespace, "svc"), defaults, time.Unix(0, 0))
			}
		}
	})
}

func parseDefault(s string) (policy.Matchers, error) {
	var m policy.Matchers
	return m, m.Decode(s)
}
