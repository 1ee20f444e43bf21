package policy

// The delivery policy: annotations a person writes on a managed Service in
// Git (docs/policy.md).
const (
	AnnotationTrack             = "slipstream.dev/track"
	AnnotationSteps             = "slipstream.dev/steps"
	AnnotationPause             = "slipstream.dev/pause"
	AnnotationTrafficWriter     = "slipstream.dev/traffic-writer"
	AnnotationRollbackOn        = "slipstream.dev/rollback-on"
	AnnotationBake              = "slipstream.dev/bake"
	AnnotationProgressDeadline  = "slipstream.dev/progress-deadline"
	AnnotationAllowDowngrade    = "slipstream.dev/allow-downgrade"
	AnnotationAnalysisQuery     = "slipstream.dev/analysis-query"
	AnnotationAnalysisMin       = "slipstream.dev/analysis-min"
	AnnotationAnalysisMax       = "slipstream.dev/analysis-max"
	AnnotationAnalysisInterval  = "slipstream.dev/analysis-interval"
	AnnotationAnalysisFailures  = "slipstream.dev/analysis-failure-limit"
	AnnotationAnalysisMinReqs   = "slipstream.dev/analysis-min-requests"
	AnnotationAnalysisReqsQuery = "slipstream.dev/analysis-requests-query"
	AnnotationAnalysisWaits     = "slipstream.dev/analysis-inconclusive-limit"
	AnnotationAnalysisGiveUp    = "slipstream.dev/analysis-inconclusive-action"
)

// What slipstream writes: promote commits both; with the cluster traffic
// writer, rollout and rollback keep the rollout state on the live Service.
const (
	// AnnotationQuarantine lists the digests that are never promoted again
	// (QuarantineEntries, AddQuarantine). A person removes a digest to allow it.
	AnnotationQuarantine = "slipstream.dev/quarantine"
	// AnnotationRollout holds the rollout state as JSON (State).
	AnnotationRollout = "slipstream.dev/rollout"
	// AnnotationRollback holds, on the live Service only and never in Git,
	// the rollback slipstream made in the cluster before Git records it: the
	// State it rolled back to (LiveState). With the git traffic writer the
	// rollout state annotation belongs to Git, so a rollback cannot write it
	// without a GitOps tool putting it back.
	AnnotationRollback = "slipstream.dev/rollback"
)

// Manual controls: annotations a person sets on the live Service.
const (
	// AnnotationPaused holds a rollout where it is while "true".
	AnnotationPaused = "slipstream.dev/paused"
	// AnnotationPromote set to "now" skips the remaining steps once the candidate is Ready.
	AnnotationPromote = "slipstream.dev/promote"
	// AnnotationAbort set to a reason rolls the candidate back.
	AnnotationAbort = "slipstream.dev/abort"
)
