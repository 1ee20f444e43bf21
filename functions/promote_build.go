package functions

import (
	"context"
	"net/url"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/functions/promote"
	"github.com/slipstream-cd/slipstream/internal/gitrepo"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/kservice"
)

// buildPromote reads SLIPSTREAM_PROMOTE_*, sets up the config repository and,
// when a cluster is reachable, the read-only Service reader for adoption.
func buildPromote(_ context.Context, h *host.Host) (host.Function, error) {
	var cfg config.Promote
	if err := config.Load(config.Prefix+"_PROMOTE", &cfg); err != nil {
		return host.Function{}, err
	}
	settingErr := func(key string, err error) error {
		return &config.Error{Problems: []string{config.Prefix + "_PROMOTE_" + key + ": " + err.Error()}}
	}
	auth, err := gitAuth(cfg)
	if err != nil {
		return host.Function{}, settingErr("GIT_SSH_KEY_FILE", err)
	}
	opts := []gitrepo.Option{gitrepo.WithAuthor(cfg.AuthorName, cfg.AuthorEmail), gitrepo.WithTimeout(cfg.GitTimeout),
		gitrepo.WithRetries(cfg.GitPushRetries, gitrepoBackoff)}
	if auth != nil {
		opts = append(opts, gitrepo.WithAuth(auth))
	}
	if cfg.SigningKeyFile.Set() {
		key, err := gitrepo.ReadSigningKey(cfg.SigningKeyFile.Value(), cfg.SigningPassphraseFile.Value())
		if err != nil {
			return host.Function{}, settingErr("SIGNING_KEY_FILE", err)
		}
		opts = append(opts, gitrepo.WithSigningKey(key))
	}
	repo, err := gitrepo.New(cfg.GitURL, cfg.GitBranch, opts...)
	if err != nil {
		return host.Function{}, err
	}
	var popts []promote.Option
	if sender, err := h.Sender(); err == nil {
		popts = append(popts, promote.WithSender(sender))
	}
	cs, err := servingClient(config.Prefix+"_PROMOTE", cfg.Kubeconfig, false)
	switch {
	case err != nil:
		return host.Function{}, err
	case cs != nil:
		popts = append(popts, promote.WithLive(kservice.New(cs, cfg.GitTimeout)))
	default:
		h.Logger().Warn("no cluster access: adoption pins the running template by a commit of its own first", "setting", config.Prefix+"_PROMOTE_KUBECONFIG")
	}
	p, err := promote.New(repo, cfg.Paths, popts...)
	if err != nil {
		return host.Function{}, err
	}
	return p.Function(), nil
}

// gitrepoBackoff is the first delay before retrying a rejected push.
const gitrepoBackoff = 50 * time.Millisecond

// gitAuth builds the transport credentials the settings describe.
func gitAuth(cfg config.Promote) (transport.AuthMethod, error) {
	u, err := url.Parse(cfg.GitURL)
	if err != nil {
		return nil, err
	}
	switch {
	case u.Scheme == "ssh":
		user := "git"
		if u.User != nil && u.User.Username() != "" {
			user = u.User.Username()
		}
		keys, err := gitssh.NewPublicKeys(user, cfg.GitSSHKeyFile.Value(), "")
		if err != nil {
			return nil, err
		}
		callback, err := gitssh.NewKnownHostsCallback(cfg.GitKnownHostsFile)
		if err != nil {
			return nil, err
		}
		keys.HostKeyCallback = callback
		return keys, nil
	case cfg.GitPasswordFile.Set():
		return &githttp.BasicAuth{Username: cfg.GitUsername, Password: string(cfg.GitPasswordFile.Value())}, nil
	}
	return nil, nil
}
