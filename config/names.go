package config

import "regexp"

var (
	dnsLabelRE  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// dnsLabel reports whether s is a Kubernetes DNS-1123 label (a namespace name).
func dnsLabel(s string) bool { return len(s) <= 63 && dnsLabelRE.MatchString(s) }

// labelName reports whether s is a Prometheus label name.
func labelName(s string) bool { return labelNameRE.MatchString(s) }
