// Command controller is Knative Serving's controller (cmd/controller of
// knative.dev/serving) with the one difference e2e needs: its health-probe
// server is off, as Knative's own webhook turns it off, because on one
// loopback it would bind :8080, the port the autoscaler's stats server must
// have. The reconcilers are Knative's own, the same list cmd/controller
// runs; cert-manager's is left out (e2e runs no cert-manager, and
// cmd/controller adds it only when config-network asks for it).
package main

import (
	"flag"

	"knative.dev/pkg/injection"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/reconciler"
	"knative.dev/pkg/signals"
	"knative.dev/serving/pkg/reconciler/configuration"
	"knative.dev/serving/pkg/reconciler/domainmapping"
	"knative.dev/serving/pkg/reconciler/gc"
	"knative.dev/serving/pkg/reconciler/labeler"
	"knative.dev/serving/pkg/reconciler/nscert"
	"knative.dev/serving/pkg/reconciler/revision"
	"knative.dev/serving/pkg/reconciler/route"
	"knative.dev/serving/pkg/reconciler/serverlessservice"
	"knative.dev/serving/pkg/reconciler/service"
)

func main() {
	flag.DurationVar(&reconciler.DefaultTimeout, "reconciliation-timeout", reconciler.DefaultTimeout,
		"The amount of time to give each reconciliation of a resource to complete before its context is canceled.")
	ctx := sharedmain.WithHealthProbesDisabled(signals.NewContext())
	cfg := injection.ParseAndGetRESTConfigOrDie()
	sharedmain.MainWithConfig(ctx, "controller", cfg,
		configuration.NewController,
		labeler.NewController,
		revision.NewController,
		route.NewController,
		serverlessservice.NewController,
		service.NewController,
		gc.NewController,
		nscert.NewController,
		domainmapping.NewController,
	)
}
