package broker

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// LoadManifests reads the Broker object and the Triggers of brokerName from
// Kubernetes YAML (several files' contents, multi-document allowed).
func LoadManifests(brokerName string, files ...[]byte) (eventingv1.BrokerSpec, []eventingv1.Trigger, error) {
	var spec eventingv1.BrokerSpec
	var triggers []eventingv1.Trigger
	found := false
	for _, f := range files {
		dec := yaml.NewDecoder(bytes.NewReader(f))
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return spec, nil, err
			}
			raw, err := yaml.Marshal(doc)
			if err != nil {
				return spec, nil, err
			}
			switch doc["kind"] {
			case "Broker":
				var b eventingv1.Broker
				if err := sigsyaml.Unmarshal(raw, &b); err != nil {
					return spec, nil, fmt.Errorf("Broker: %w", err)
				}
				if b.Name == brokerName {
					spec, found = b.Spec, true
				}
			case "Trigger":
				var t eventingv1.Trigger
				if err := sigsyaml.Unmarshal(raw, &t); err != nil {
					return spec, nil, fmt.Errorf("Trigger: %w", err)
				}
				if t.Spec.Broker == brokerName {
					triggers = append(triggers, t)
				}
			}
		}
	}
	if !found {
		return spec, nil, fmt.Errorf("no Broker %q in the manifests", brokerName)
	}
	return spec, triggers, nil
}
