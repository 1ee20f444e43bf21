package intake

import (
	"context"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/registry"
)

// FromEnv reads SLIPSTREAM_INTAKE_*, needs K_SINK, and wires the registry
// resolver with the Docker config's credentials.
func FromEnv(_ context.Context, h *host.Host) (host.Function, error) {
	const prefix = config.Prefix + "_INTAKE"
	cfg, err := config.LoadIntake(Formats())
	if err != nil {
		return host.Function{}, err
	}
	sender, err := h.Sender()
	if err != nil {
		return host.Function{}, err
	}
	var kc authn.Keychain = authn.NewMultiKeychain()
	if cfg.DockerConfigFile != "" {
		if kc, err = registry.KeychainFromFile(cfg.DockerConfigFile); err != nil {
			return host.Function{}, config.SettingError(prefix+"_DOCKER_CONFIG_FILE", err)
		}
	}
	resolver, err := registry.New(registry.WithKeychain(kc), registry.WithTimeout(cfg.ResolveTimeout))
	if err != nil {
		return host.Function{}, err
	}
	in, err := New(cfg, sender, resolver)
	if err != nil {
		return host.Function{}, err
	}
	in.LogUnauthenticated(h.Logger())
	return in.Function(), nil
}
