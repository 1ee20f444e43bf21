// Package config turns the environment and a Service's annotations into typed,
// validated settings.
//
// What comes in: environment variables (prefix SLIPSTREAM_, plus Knative's PORT,
// K_SINK and K_CE_OVERRIDES), secret files named by *_FILE variables, and the
// slipstream.dev/* annotations of a managed Knative Service.
// What goes out: Shared and per-function settings structs (Load), and a Policy
// (ParsePolicy).
//
// Settings are parsed once at start-up; a bad or missing setting is an error
// that names the variable, the value and what is expected, so the process
// stops before it serves a request. Policy errors name the annotation, the
// value and what is expected, and every problem is reported, not just the
// first. Nothing here does I/O except reading the secret files that settings
// name; nothing logs.
package config
