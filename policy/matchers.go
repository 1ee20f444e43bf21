package policy

import (
	"fmt"

	"github.com/prometheus/alertmanager/pkg/labels"
)

// Matchers are Alertmanager label matchers, parsed with Alertmanager's own
// parser: `severity="critical"`, `{team=~"shop|pay", env!="dev"}`.
type Matchers labels.Matchers

// Decode implements envconfig.Decoder.
func (m *Matchers) Decode(value string) error {
	ms, err := ParseMatchers(value)
	if err != nil {
		return err
	}
	*m = ms
	return nil
}

// String renders the matchers in Alertmanager syntax.
func (m Matchers) String() string { return labels.Matchers(m).String() }

// ParseMatchers parses Alertmanager matchers; an empty list is an error.
func ParseMatchers(value string) (Matchers, error) {
	ms, err := labels.ParseMatchers(value)
	if err != nil {
		return nil, fmt.Errorf(`expected Alertmanager matchers such as severity="critical" or {team=~"a|b", env!="dev"}: %v`, err)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf(`no matchers: expected Alertmanager matchers such as severity="critical"`)
	}
	return Matchers(ms), nil
}
