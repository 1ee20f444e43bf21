package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v3"
)

// refetchEvery is how seldom the issuer's keys are fetched again for a
// token whose key id they do not have (a rotated key), and how long a
// failed fetch is not retried.
const refetchEvery = 10 * time.Second

// keySet checks tokens' signatures with the issuer's keys (an oidc.KeySet).
// It fetches them on first use and again for a key id it does not have, at
// most once every refetchEvery: go-oidc's RemoteKeySet fetches again after
// every signature that does not verify, so a sender without credentials
// could make each of its requests cost a request to the issuer — the
// apiserver, for a discovered issuer.
type keySet struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time // the last attempt; zero: never
	err     error     // the last attempt's error
}

// VerifySignature implements oidc.KeySet.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw)
	if err != nil {
		return nil, fmt.Errorf("malformed token: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("a token has one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	keys, err := k.get(ctx, kid)
	if err != nil {
		return nil, err
	}
	for _, key := range keys {
		if kid == "" || key.KeyID == kid {
			if payload, err := jws.Verify(&key); err == nil {
				return payload, nil
			}
		}
	}
	return nil, errors.New("failed to verify the token's signature")
}

// get returns the keys, fetching them when there are none yet or none
// with id kid, unless the last attempt was less than refetchEvery ago.
func (k *keySet) get(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.has(kid) || (!k.fetched.IsZero() && k.now().Sub(k.fetched) < refetchEvery) {
		if k.keys == nil {
			return nil, keysUnavailable(k.err)
		}
		return k.keys, nil
	}
	k.fetched = k.now()
	keys, err := k.fetch(ctx)
	k.err = err
	if err != nil {
		if k.keys == nil {
			return nil, keysUnavailable(err)
		}
		return k.keys, nil // the keys we have still verify the tokens they signed
	}
	k.keys = keys
	return k.keys, nil
}

// unavailable wraps ErrUnavailable when no key could be fetched yet: a
// token then cannot be checked, which is not its sender's fault.
func (k *keySet) unavailable() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil && k.err != nil {
		return keysUnavailable(k.err)
	}
	return nil
}

// keysUnavailable is the answer while no key could be fetched.
func keysUnavailable(err error) error {
	return fmt.Errorf("%w: the issuer's keys cannot be fetched yet (%v); retry", ErrUnavailable, err)
}

// has reports whether a key of id kid is known ("" matches any key).
func (k *keySet) has(kid string) bool {
	for _, key := range k.keys {
		if kid == "" || key.KeyID == kid {
			return true
		}
	}
	return false
}

// withoutURL drops the URL net/http puts in a request's error: an error
// here may reach a sender, which has no business knowing the cluster's
// addresses.
func withoutURL(err error) error {
	var u *url.Error
	if errors.As(err, &u) {
		return u.Err
	}
	return err
}

// maxJWKSBytes bounds the key set read: a cluster's is a few KiB.
const maxJWKSBytes = 1 << 20

func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	// Not the request's context: a sender hanging up must not fail the fetch
	// for the others waiting on it. The client's timeout bounds it.
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, withoutURL(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBytes)).Decode(&set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %v", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("the key set is empty")
	}
	return set.Keys, nil
}
