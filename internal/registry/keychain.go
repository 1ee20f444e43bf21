package registry

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// dockerConfig is the part of a Docker config.json that holds credentials.
type dockerConfig struct {
	Auths map[string]struct {
		Auth          string `json:"auth"`
		Username      string `json:"username"`
		Password      string `json:"password"`
		IdentityToken string `json:"identitytoken"`
		RegistryToken string `json:"registrytoken"`
	} `json:"auths"`
}

// fileKeychain serves credentials read once from a Docker config file.
type fileKeychain map[string]authn.AuthConfig

// KeychainFromFile reads the "auths" of a Docker config.json (as `docker
// login` or a Kubernetes dockerconfigjson Secret writes it). Keys may be a
// host, host:port or a URL such as https://index.docker.io/v1/.
func KeychainFromFile(path string) (authn.Keychain, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading docker config: %w", err)
	}
	var cfg dockerConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("docker config %s: %v", path, err)
	}
	kc := fileKeychain{}
	for key, a := range cfg.Auths {
		ac := authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
		if a.Auth != "" {
			dec, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("docker config %s: auths[%q].auth is not base64", path, key)
			}
			user, pass, ok := strings.Cut(string(dec), ":")
			if !ok {
				return nil, fmt.Errorf("docker config %s: auths[%q].auth is not user:password", path, key)
			}
			ac.Username, ac.Password = user, pass
		}
		host := key
		if i := strings.Index(host, "://"); i >= 0 {
			host = host[i+3:]
		}
		host, _, _ = strings.Cut(host, "/")
		reg, err := name.NewRegistry(host)
		if err != nil {
			return nil, fmt.Errorf("docker config %s: auths key %q: %v", path, key, err)
		}
		kc[reg.RegistryStr()] = ac
	}
	return kc, nil
}

// Resolve implements authn.Keychain.
func (k fileKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if ac, ok := k[r.RegistryStr()]; ok {
		return authn.FromConfig(ac), nil
	}
	return authn.Anonymous, nil
}
