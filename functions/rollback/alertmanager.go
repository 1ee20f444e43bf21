package rollback

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/slipstream-cd/slipstream/internal/host"
)

// Notification is Alertmanager's webhook payload, version 4. Fields that only
// some versions send (notification_reason, routeLabels) are optional.
type Notification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Alert is one alert of a notification.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Name is the alertname label.
func (a Alert) Name() string { return a.Labels["alertname"] }

// parse reads a notification; every problem is a 400 naming the field.
func parse(body []byte) (Notification, error) {
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		return Notification{}, fmt.Errorf("%w: not an Alertmanager notification: %v", host.ErrMalformed, err)
	}
	if n.Version != "4" {
		return Notification{}, fmt.Errorf("%w: version: %q, expected \"4\" (Alertmanager's webhook payload)", host.ErrMalformed, n.Version)
	}
	for i, a := range n.Alerts {
		switch a.Status {
		case "firing", "resolved":
		default:
			return Notification{}, fmt.Errorf("%w: alerts[%d].status: %q, expected firing or resolved", host.ErrMalformed, i, a.Status)
		}
		if a.Labels == nil {
			return Notification{}, fmt.Errorf("%w: alerts[%d].labels: required", host.ErrMalformed, i)
		}
	}
	return n, nil
}
