package notify

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/clip"
)

// maxField bounds each part of a message a sender writes (a reason, an
// alert's name).
const maxField = 300

// Message is what one event tells people: a headline and the details.
type Message struct {
	Title  string
	Detail string
}

// Text is the message of a promotion or a rollback; ok is false for data of
// another event.
func Text(d eventing.Data) (Message, bool) {
	switch e := d.(type) {
	case *eventing.RolloutPromoted:
		m := Message{Title: fmt.Sprintf("✅ %s/%s: %s promoted", e.Namespace, e.Service, eventing.Versioned(e.Revision, e.Image))}
		m.Detail = fmt.Sprintf("Revision %s now serves all traffic", e.Revision)
		if e.PreviousRevision != "" {
			m.Detail += fmt.Sprintf(", replacing %s", e.PreviousRevision)
		}
		m.Detail += "."
		return m, true
	case *eventing.RolloutRolledBack:
		m := Message{Title: fmt.Sprintf("⏪ %s/%s: %s rolled back", e.Namespace, e.Service, eventing.Versioned(e.CandidateRevision, e.Image))}
		m.Detail = fmt.Sprintf("All traffic is on %s again; %s is quarantined. Why: %s", e.StableRevision, digestOf(e.Image), clean(e.Reason))
		if e.Alert != nil && e.Alert.Name != "" {
			m.Detail += fmt.Sprintf(" (alert %s)", clean(e.Alert.Name))
		}
		return m, true
	}
	return Message{}, false
}

func digestOf(image string) string {
	if d := eventing.ShortDigest(image); d != "" {
		return "digest " + d + "…"
	}
	return "its image"
}

// clean is a sender's text made safe to show: control characters and
// bidirectional overrides become spaces, and it is cut to maxField runes.
func clean(s string) string { return clip.Runes(clip.Printable(s, ' '), maxField) }

// Payload is the body a webhook of format takes for m; data is the event's
// (the json format carries it whole).
func Payload(format string, m Message, d eventing.Data) ([]byte, error) {
	switch format {
	case "slack":
		// Slack reads <…> as links and mentions (<!channel>): & < > are
		// escaped as its docs ask, so a reason cannot page a channel.
		esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
		return json.Marshal(map[string]any{"text": "*" + esc.Replace(m.Title) + "*\n" + esc.Replace(m.Detail), "unfurl_links": false, "unfurl_media": false})
	case "googlechat":
		// Google Chat reads <users/all> as a mention and <url|text> as a link.
		esc := strings.NewReplacer("<", "‹", ">", "›")
		return json.Marshal(map[string]string{"text": "*" + esc.Replace(m.Title) + "*\n" + esc.Replace(m.Detail)})
	case "teams":
		// A Workflows webhook ("when a Teams webhook request is received")
		// takes a message with an Adaptive Card. TextBlocks render Markdown
		// ([text](url) is a link): its characters are escaped.
		card := map[string]any{
			"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
			"body": []map[string]any{
				{"type": "TextBlock", "text": markdownText(m.Title), "weight": "Bolder", "size": "Medium", "wrap": true},
				{"type": "TextBlock", "text": markdownText(m.Detail), "wrap": true},
			},
		}
		return json.Marshal(map[string]any{"type": "message", "attachments": []map[string]any{
			{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": nil, "content": card}}})
	case "json":
		return json.Marshal(map[string]any{"text": m.Title + "\n" + m.Detail, "type": d.EventType(), "subject": d.Subject(), "data": d})
	}
	return nil, fmt.Errorf("unknown format %q", format)
}

// markdownText escapes the characters Markdown gives a meaning (links,
// emphasis, headings, lists), so text shows as written.
func markdownText(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_{}[]()<>#+-.!|~", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
