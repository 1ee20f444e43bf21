// Package config turns the environment into typed, validated settings.
//
// What comes in: environment variables (prefix SLIPSTREAM_, plus Knative's
// PORT, K_SINK and K_CE_OVERRIDES) and the secret files named by *_FILE
// variables. What goes out: Shared and per-function settings structs (Load).
// A managed Service's slipstream.dev/* annotations are package policy's.
//
// Settings are parsed once at start-up; a bad or missing setting is an error
// that names the variable, the value and what is expected, every problem at
// once, so the process stops before it serves a request. Nothing here does
// I/O except reading the secret files that settings name; nothing logs.
package config
