package promote

import (
	"context"
	"time"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/internal/gitrepo"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/kservice"
)

// pushBackoff is the first delay before retrying a rejected push.
const pushBackoff = 50 * time.Millisecond

// FromEnv reads SLIPSTREAM_PROMOTE_*, sets up the config repository and,
// when a cluster is reachable, the read-only Service reader for adoption.
func FromEnv(_ context.Context, h *host.Host) (host.Function, error) {
	const prefix = config.Prefix + "_PROMOTE"
	var cfg config.Promote
	if err := config.Load(prefix, &cfg); err != nil {
		return host.Function{}, err
	}
	creds := gitrepo.Credentials{Username: cfg.GitUsername, Password: cfg.GitPasswordFile.Value(), SSHKey: cfg.GitSSHKeyFile.Value(),
		KnownHostsFile: cfg.GitKnownHostsFile}
	auth, err := creds.Auth(cfg.GitURL)
	if err != nil {
		return host.Function{}, config.SettingError(prefix+"_GIT_SSH_KEY_FILE", err)
	}
	opts := []gitrepo.Option{gitrepo.WithAuthor(cfg.AuthorName, cfg.AuthorEmail), gitrepo.WithTimeout(cfg.GitTimeout),
		gitrepo.WithRetries(cfg.GitPushRetries, pushBackoff)}
	if auth != nil {
		opts = append(opts, gitrepo.WithAuth(auth))
	}
	if cfg.SigningKeyFile.Set() {
		key, err := gitrepo.ReadSigningKey(cfg.SigningKeyFile.Value(), cfg.SigningPassphraseFile.Value())
		if err != nil {
			return host.Function{}, config.SettingError(prefix+"_SIGNING_KEY_FILE", err)
		}
		opts = append(opts, gitrepo.WithSigningKey(key))
	}
	repo, err := gitrepo.New(cfg.GitURL, cfg.GitBranch, opts...)
	if err != nil {
		return host.Function{}, err
	}
	var popts []Option
	if len(cfg.Paths) > 0 { // an empty SLIPSTREAM_PROMOTE_PATHS keeps the default, the whole repository
		popts = append(popts, WithPaths(cfg.Paths...))
	}
	if sender, err := h.Sender(); err == nil {
		popts = append(popts, WithSender(sender))
	}
	kc, err := kservice.Connect(prefix, cfg.Kubeconfig, cfg.GitTimeout, false, kservice.LimitsOf(h.Settings()))
	switch {
	case err != nil:
		return host.Function{}, err
	case kc != nil:
		popts = append(popts, WithLive(kc))
	default:
		h.Logger().Warn("no cluster access: adoption pins the running template by a commit of its own first, "+
			"and a rollback over a template a person changed leaves the template as it is", "setting", prefix+"_KUBECONFIG")
	}
	p, err := New(repo, popts...)
	if err != nil {
		return host.Function{}, err
	}
	return p.Function(), nil
}
