package prom

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Errors a query is classified into.
var (
	// ErrNoData: the query returned nothing (or NaN) — not a failure, just nothing to judge yet.
	ErrNoData = errors.New("no data")
	// ErrUnavailable: Prometheus could not be reached, or refused the query.
	ErrUnavailable = errors.New("Prometheus unavailable")
)

// Client runs instant queries.
type Client struct {
	api     promv1.API
	timeout time.Duration
}

// New returns a Client for a Prometheus base URL; timeout bounds each query.
func New(address string, timeout time.Duration) (*Client, error) {
	c, err := api.NewClient(api.Config{Address: address})
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", address, err)
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &Client{api: promv1.NewAPI(c), timeout: timeout}, nil
}

// Query evaluates q at now and returns its single value.
func (c *Client) Query(ctx context.Context, q string, now time.Time) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	v, _, _, err := c.api.Query(ctx, q, now)
	if err != nil {
		return 0, fmt.Errorf("%w: query %q: %v", ErrUnavailable, q, err)
	}
	var f float64
	switch r := v.(type) {
	case model.Vector:
		switch len(r) {
		case 0:
			return 0, fmt.Errorf("%w: query %q returned no series", ErrNoData, q)
		case 1:
			f = float64(r[0].Value)
		default:
			return 0, fmt.Errorf("query %q returned %d series; aggregate it to one (sum, max, …)", q, len(r))
		}
	case *model.Scalar:
		f = float64(r.Value)
	default:
		return 0, fmt.Errorf("query %q returned a %s; want an instant vector or scalar", q, v.Type())
	}
	if math.IsNaN(f) {
		return 0, fmt.Errorf("%w: query %q returned NaN", ErrNoData, q)
	}
	return f, nil
}
