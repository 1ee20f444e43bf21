// Package status is what `slipstream status` shows of managed Knative
// Services: for each, where its rollout is (phase, step n/m), the stable and
// candidate revisions with their images (tag and short digest), the traffic
// Knative routes, the time to the next step, the last analysis, and why.
//
// Of is the pure view of one Service at a time now, read from its
// slipstream.dev annotations (the policy and the rollout state, as rollout
// reads them: policy.LiveState) and its status; Table, JSON and YAML render
// rows. List reads the managed Services with a serving client (the CLI's,
// from the user's kubeconfig) and WaitForChange watches them for -w.
package status
