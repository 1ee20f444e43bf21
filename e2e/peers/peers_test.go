package peers

import (
	"slices"
	"testing"
)

// TestHoldingNamesThePeersOfTheBinaries: the peers holding a set of
// binaries, each once, in All's order; none for an unknown binary.
func TestHoldingNamesThePeersOfTheBinaries(t *testing.T) {
	names := func(ps []Peer) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	for _, tc := range []struct {
		bins []string
		want []string
	}{
		{[]string{"kwok", "kube-apiserver", "kube-controller-manager", "webhook"}, []string{"kube-" + kubeVersion, "knative-serving-v0.42.2", "kwok-v0.8.0"}},
		{[]string{"crane"}, []string{"crane-v0.22.1"}},
		{[]string{"kubectl"}, nil},
		{nil, nil},
	} {
		if got := names(Holding(tc.bins...)); !slices.Equal(got, tc.want) {
			t.Errorf("Holding(%v) = %v, want %v", tc.bins, got, tc.want)
		}
	}
}
