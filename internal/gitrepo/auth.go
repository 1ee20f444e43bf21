package gitrepo

import (
	"net/url"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// Credentials are what a repository URL may need: an HTTPS user name and
// password (or token), or an SSH private key with the known_hosts file its
// host key is verified against.
type Credentials struct {
	// Username is the HTTPS user name (any non-empty name works with a token).
	Username string
	// Password is the HTTPS password or token; empty: none.
	Password []byte
	// SSHKey is a PEM private key for ssh:// URLs.
	SSHKey []byte
	// KnownHostsFile is the known_hosts file for ssh:// URLs.
	KnownHostsFile string
}

// Auth returns the transport credentials for url: SSH keys with host key
// verification for ssh://, basic auth when a password is set, else none (nil).
func (c Credentials) Auth(rawURL string) (transport.AuthMethod, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	switch {
	case u.Scheme == "ssh":
		user := "git"
		if u.User != nil && u.User.Username() != "" {
			user = u.User.Username()
		}
		keys, err := gitssh.NewPublicKeys(user, c.SSHKey, "")
		if err != nil {
			return nil, err
		}
		callback, err := gitssh.NewKnownHostsCallback(c.KnownHostsFile)
		if err != nil {
			return nil, err
		}
		keys.HostKeyCallback = callback
		return keys, nil
	case len(c.Password) > 0:
		return &githttp.BasicAuth{Username: c.Username, Password: string(c.Password)}, nil
	}
	return nil, nil
}
