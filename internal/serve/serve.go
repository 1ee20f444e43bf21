package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/functions/deadletters"
	"github.com/slipstream-cd/slipstream/functions/intake"
	"github.com/slipstream-cd/slipstream/functions/notify"
	"github.com/slipstream-cd/slipstream/functions/promote"
	"github.com/slipstream-cd/slipstream/functions/rollback"
	"github.com/slipstream-cd/slipstream/functions/rollout"
	"github.com/slipstream-cd/slipstream/internal/host"
)

// ErrUnknownFunction is returned by Run for a name no function has.
var ErrUnknownFunction = errors.New("unknown function")

// builder constructs a function from its own settings; h provides the logger
// and, for functions called by outside systems, the K_SINK sender.
type builder func(ctx context.Context, h *host.Host) (host.Function, error)

// builders lists the functions Run knows, by name: each function package's
// FromEnv (functions/<name>/wire.go).
var builders = map[string]builder{
	intake.Name:   intake.FromEnv,
	promote.Name:  promote.FromEnv,
	rollout.Name:  rollout.FromEnv,
	rollback.Name: rollback.FromEnv,
	notify.Name:   notify.FromEnv,

	deadletters.Name: deadletters.FromEnv,
}

// optional are the functions the all-in-one serves only when named: notify
// (a deployment adds it when it wants it) and the dead-letter sink (a
// Service of its own, whose catch-all must not take the others' types).
var optional = map[string]bool{notify.Name: true, deadletters.Name: true}

// Names returns the known function names, sorted.
func Names() []string {
	names := make([]string, 0, len(builders))
	for n := range builders {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Listen opens the serving socket for a port.
type Listen func(port int) (net.Listener, error)

// ListenTCP listens on every interface at port, as a Knative container must.
func ListenTCP(port int) (net.Listener, error) {
	return net.Listen("tcp", ":"+strconv.Itoa(port))
}

// Run runs the named function until ctx ends, then drains. Logs go to logs
// (JSON by default). It returns nil after a clean drain.
func Run(ctx context.Context, name string, listen Listen, logs io.Writer) error {
	build, ok := builders[name]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownFunction, name)
	}
	var shared config.Shared
	if err := config.Load(config.Prefix, &shared); err != nil {
		return err
	}
	h, err := host.New(name, shared, host.NewLogger(logs, shared.LogLevel, shared.LogFormat))
	if err != nil {
		return err
	}
	fn, err := build(ctx, h)
	if err != nil {
		return err
	}
	ln, err := listen(shared.Port)
	if err != nil {
		return fmt.Errorf("listening on port %d: %w", shared.Port, err)
	}
	return h.Run(ctx, ln, fn)
}
