package webview

import (
	"sort"
	"time"

	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/internal/clip"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/status"
	"github.com/slipstream-cd/slipstream/policy"
)

// Limits of what a Server remembers.
const (
	// MaxPoints is how many points of one Service's history are kept (the oldest go).
	MaxPoints = 240
	// MaxServices is how many Services are shown; beyond it the rest are
	// counted, not kept (the page says so).
	MaxServices = 200
	// maxText bounds what the page shows of a text a Service's writers
	// control (the reason, a problem).
	maxText = 500
)

// Point is one moment of a Service's rollout: the share of what Knative
// routes that the version being rolled out has — the candidate's, 100 once
// it is promoted (it is the stable revision then), 0 once rolled back — and
// the phase.
type Point struct {
	At        time.Time `json:"at"`
	Candidate int64     `json:"candidate"`
	Phase     string    `json:"phase"`
}

// Service is one managed Service as the page shows it.
type Service struct {
	status.Row
	// Key is namespace/service.
	Key string `json:"key"`
	// CandidatePercent is the candidate's share of the routed traffic now.
	CandidatePercent int64 `json:"candidatePercent"`
	// History is how the candidate's share and the phase moved, oldest first.
	History []Point `json:"history"`
}

// History remembers each Service's points between polls. It is not safe
// for concurrent use; Server serializes its calls.
type History struct {
	points map[string][]Point
}

// NewHistory returns an empty history.
func NewHistory() *History { return &History{points: map[string][]Point{}} }

// Record adds a point for every Service whose candidate's share or phase
// changed since its last point (or after a minute without a point, so the
// chart runs to now), forgets Services no longer managed, and returns the
// Services sorted by namespace and name (at most MaxServices) and how many
// more there were.
func (h *History) Record(now time.Time, services []*servingv1.Service) ([]Service, int) {
	sorted := append([]*servingv1.Service(nil), services...)
	sort.Slice(sorted, func(i, j int) bool {
		return sorted[i].Namespace+"/"+sorted[i].Name < sorted[j].Namespace+"/"+sorted[j].Name
	})
	seen := map[string]bool{}
	out := make([]Service, 0, min(len(sorted), MaxServices))
	for _, svc := range sorted {
		if len(out) == MaxServices {
			break
		}
		r := status.Of(svc)
		r.Reason, r.Problem, r.Analysis = clip.Runes(r.Reason, maxText), clip.Runes(r.Problem, maxText), clip.Runes(r.Analysis, maxText)
		key := r.Namespace + "/" + r.Service
		seen[key] = true
		var share, point int64
		if r.Candidate != nil {
			share = kservice.Share(svc.Status.Traffic, r.Candidate.Name)
		}
		point = share
		if r.Phase == string(policy.Promoted) {
			point = 100
		}
		pts := h.points[key]
		last := len(pts) - 1
		if last < 0 || pts[last].Candidate != point || pts[last].Phase != r.Phase || now.Sub(pts[last].At) >= time.Minute {
			pts = append(pts, Point{At: now, Candidate: point, Phase: r.Phase})
			if len(pts) > MaxPoints {
				pts = append([]Point(nil), pts[len(pts)-MaxPoints:]...)
			}
			h.points[key] = pts
		}
		out = append(out, Service{Row: r, Key: key, CandidatePercent: share, History: append([]Point(nil), pts...)})
	}
	for key := range h.points {
		if !seen[key] {
			delete(h.points, key)
		}
	}
	return out, len(sorted) - len(out)
}
