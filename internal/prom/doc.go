// Package prom is the adapter to Prometheus's HTTP API (client_golang
// api/prometheus/v1): it runs an instant query and returns one number.
//
// What comes in: a PromQL query. What goes out: the value of its single
// sample, or ErrNoData (an empty result, or NaN: nothing to judge on yet), or
// ErrUnavailable (Prometheus could not be reached or answered an error). A
// query returning several series is an error naming the count. Each query has
// its own timeout; nothing is retried or logged here.
package prom
