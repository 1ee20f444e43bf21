package prom

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// promServer speaks the Prometheus HTTP API: /api/v1/query answers from a table.
func promServer(t *testing.T, answers map[string]string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		r.ParseForm()
		body, ok := answers[r.Form.Get("query")]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			body = `{"status":"error","errorType":"bad_data","error":"parse error"}`
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func vector(values ...string) string {
	var parts []string
	for _, v := range values {
		parts = append(parts, `{"metric":{"revision_name":"hello-3f2a9c01b2"},"value":[1764144000,"`+v+`"]}`)
	}
	return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(parts, ",") + `]}}`
}

func TestQuery(t *testing.T) {
	url := promServer(t, map[string]string{
		"ok":     vector("0.0125"),
		"empty":  vector(),
		"nan":    vector("NaN"),
		"many":   vector("1", "2"),
		"scalar": `{"status":"success","data":{"resultType":"scalar","result":[1764144000,"42"]}}`,
	})
	c, err := New(url, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1764144000, 0)
	tests := []struct {
		q    string
		want float64
		err  error
		says string
	}{
		{
			q:    "ok",
			want: 0.0125,
		},
		{
			q:    "scalar",
			want: 42,
		},
		{
			q:   "empty",
			err: ErrNoData,
		},
		{
			q:   "nan",
			err: ErrNoData,
		},
		{
			q:    "many",
			says: "returned 2 series",
		},
		{
			q:   "broken(",
			err: ErrUnavailable,
		},
	}
	for _, tc := range tests {
		got, err := c.Query(context.Background(), tc.q, now)
		switch {
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("%s: err %v, want %v", tc.q, err, tc.err)
		case tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)):
			t.Errorf("%s: err %v, want %q", tc.q, err, tc.says)
		case tc.err == nil && tc.says == "" && (err != nil || got != tc.want):
			t.Errorf("%s: %v %v, want %v", tc.q, got, err, tc.want)
		}
	}
	down, _ := New("http://127.0.0.1:1", time.Second)
	if _, err := down.Query(context.Background(), "ok", now); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Prometheus down: %v", err)
	}
}
