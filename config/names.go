package config

import "regexp"

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// labelName reports whether s is a Prometheus label name.
func labelName(s string) bool { return labelNameRE.MatchString(s) }
