package notify

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/slipstream-cd/slipstream/eventing"
)

const (
	digestA = "sha256:aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33bb44cc55dd66"
	digestB = "sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"
)

var (
	promoted = &eventing.RolloutPromoted{Namespace: "demo", Service: "hello", Revision: "hello-3f2a9c01b2", PreviousRevision: "hello-aa11bb22cc",
		Image: "registry.example.com/team/hello:1.4.0@" + digestB}
	rolledBack = &eventing.RolloutRolledBack{Namespace: "demo", Service: "hello", StableRevision: "hello-aa11bb22cc", CandidateRevision: "hello-3f2a9c01b2",
		Image: "registry.example.com/team/hello:1.4.0@" + digestB, Reason: `alert HighErrorRate{severity="critical"}`,
		Alert: &eventing.Alert{Name: "HighErrorRate"}}
)

func TestText(t *testing.T) {
	hostile := *rolledBack
	hostile.Reason = "bad\x1b]52;c;Zm9v\x07 \u202eevil " + strings.Repeat("x", 400)
	first := *promoted
	first.PreviousRevision = ""
	tests := []struct {
		name          string
		data          eventing.Data
		title, detail string
		not           []string
	}{
		{name: "promoted", data: promoted, title: "✅ demo/hello: 1.4.0 (hello-3f2a9c01b2) promoted",
			detail: "Revision hello-3f2a9c01b2 now serves all traffic, replacing hello-aa11bb22cc."},
		{name: "a first promotion", data: &first, title: "✅ demo/hello: 1.4.0 (hello-3f2a9c01b2) promoted", detail: "Revision hello-3f2a9c01b2 now serves all traffic."},
		{name: "rolled back by an alert", data: rolledBack, title: "⏪ demo/hello: 1.4.0 (hello-3f2a9c01b2) rolled back",
			detail: `All traffic is on hello-aa11bb22cc again; digest sha256:3f2a9c01b2d4… is quarantined. Why: alert HighErrorRate{severity="critical"} (alert HighErrorRate)`},
		{name: "what a sender wrote, made safe", data: &hostile, title: "⏪ demo/hello: 1.4.0 (hello-3f2a9c01b2) rolled back",
			detail: "Why: bad ]52;c;Zm9v   evil xxx", not: []string{"\x1b", "\x07", "\u202e", strings.Repeat("x", 301)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := Text(tt.data)
			if !ok || m.Title != tt.title || !strings.Contains(m.Detail, tt.detail) {
				t.Errorf("Text = %q / %q (%v); want %q and %q", m.Title, m.Detail, ok, tt.title, tt.detail)
			}
			for _, n := range tt.not {
				if strings.Contains(m.Detail, n) {
					t.Errorf("detail holds %q: %q", n, m.Detail)
				}
			}
		})
	}
	if _, ok := Text(&eventing.TrafficShifted{}); ok {
		t.Error("a traffic.shifted made a message")
	}
}

func TestPayload(t *testing.T) {
	loud := *rolledBack
	loud.Reason = "<!channel> <users/all> <https://evil.example|click> & more [Re-authenticate here](https://evil.example)"
	m, _ := Text(&loud)
	tests := []struct {
		format string
		want   []string
		not    []string
	}{
		{format: "slack", want: []string{`"text":"*⏪ demo/hello`, "&lt;!channel&gt;", "&lt;https://evil.example|click&gt; &amp; more", `"unfurl_links":false`}, not: []string{"<!channel>", "<https://"}},
		{format: "googlechat", want: []string{`"text":"*⏪ demo/hello`, "‹users/all›"}, not: []string{"<users/all>"}},
		{format: "teams", want: []string{`"type":"message"`, `"contentType":"application/vnd.microsoft.card.adaptive"`, `"type":"AdaptiveCard"`, `"weight":"Bolder"`,
			`\\[Re\\-authenticate here\\]\\(https://evil\\.example\\)`}, not: []string{"[Re-authenticate here](https://evil.example)"}},
		{format: "json", want: []string{`"type":"dev.slipstream.rollout.rolledback.v1"`, `"subject":"demo/hello"`, `"candidateRevision":"hello-3f2a9c01b2"`, `"text":"⏪ demo/hello`}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			b, err := Payload(tt.format, m, &loud)
			if err != nil {
				t.Fatal(err)
			}
			var any map[string]any
			if err := json.Unmarshal(b, &any); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, b)
			}
			// The checks read the JSON as written, with < > & unescaped by the encoder's HTML escaping.
			got := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(b))
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("payload lacks %q:\n%s", w, got)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("payload holds %q:\n%s", n, got)
				}
			}
		})
	}
	if _, err := Payload("pager", m, &loud); err == nil {
		t.Error("an unknown format made a payload")
	}
}
