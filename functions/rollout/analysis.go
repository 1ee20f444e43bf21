package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slipstream-cd/slipstream/internal/prom"
	"github.com/slipstream-cd/slipstream/policy"
)

// analyze runs a Service's analysis for its candidate: no data, Prometheus
// errors and too few requests are inconclusive; a value outside min/max fails.
func analyze(ctx context.Context, q Querier, a *policy.Analysis, vars policy.QueryVars, now time.Time) Verdict {
	query, err := a.Render(vars)
	if err != nil {
		return Verdict{Inconclusive, err.Error(), nil}
	}
	if a.MinRequests > 0 {
		rq, _ := a.RenderRequests(vars)
		n, err := q.Query(ctx, rq, now)
		switch {
		case errors.Is(err, prom.ErrNoData):
			return Verdict{Inconclusive, fmt.Sprintf("no requests yet (%s)", rq), nil}
		case err != nil:
			return Verdict{Inconclusive, err.Error(), nil}
		case n < float64(a.MinRequests):
			return Verdict{Inconclusive, fmt.Sprintf("%g requests, fewer than the minimum %d (%s)", n, a.MinRequests, rq), nil}
		}
	}
	v, err := q.Query(ctx, query, now)
	if err != nil {
		return Verdict{Inconclusive, err.Error(), nil}
	}
	switch {
	case a.Min != nil && v < *a.Min:
		return Verdict{Fail, fmt.Sprintf("%s = %g, below the minimum %g", query, v, *a.Min), &v}
	case a.Max != nil && v > *a.Max:
		return Verdict{Fail, fmt.Sprintf("%s = %g, above the maximum %g", query, v, *a.Max), &v}
	}
	return Verdict{Pass, fmt.Sprintf("%s = %g within bounds", query, v), &v}
}
