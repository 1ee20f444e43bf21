package testutil

import (
	"time"

	"github.com/slipstream-cd/slipstream/config"
)

// Shared is the shared settings every function's tests run with: JSON logs
// at info, 1 MiB bodies, a 10 s request timeout, a 1 s drain, one quick
// retry of a send to sink (which may be empty: no K_SINK), a 5 s read
// timeout, a 10 s idle timeout and 16 requests at once, and POST / without
// the broker's token (tests of a function's logic post events as the
// broker would, without OIDC; the host's tests of the token check turn it
// back on). Tests change the fields they are about.
func Shared(sink string) config.Shared {
	return config.Shared{Port: 8080, LogLevel: "info", LogFormat: "json", Sink: sink, MaxBodyBytes: 1 << 20,
		RequestTimeout: 10 * time.Second, ShutdownGrace: time.Second, SinkRetries: 1, SinkBackoff: time.Millisecond, SinkTimeout: time.Second,
		ReadTimeout: 5 * time.Second, IdleTimeout: 10 * time.Second, MaxInFlight: 16, AllowUnauthenticatedEvents: true,
		KubeQPS: 50, KubeBurst: 100}
}
