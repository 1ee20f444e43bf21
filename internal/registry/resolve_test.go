package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testRegistry is a real in-process OCI registry holding an image and a
// multi-arch index, optionally behind basic auth or without HEAD digests.
type testRegistry struct {
	host        string
	image, idx  v1.Hash
	imageType   string
	indexType   string
	basicAuth   bool
	stripDigest bool
}

func newTestRegistry(t *testing.T, basicAuth, stripDigest bool) *testRegistry {
	t.Helper()
	tr := &testRegistry{basicAuth: basicAuth, stripDigest: stripDigest}
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tr.basicAuth {
			if u, p, ok := r.BasicAuth(); !ok || u != "ci" || p != "s3cret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
		}
		if tr.stripDigest && r.Method == http.MethodHead {
			inner.ServeHTTP(headerStripper{w}, r)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")

	auth := remote.WithAuth(&authn.Basic{Username: "ci", Password: "s3cret"})
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewTag(tr.host + "/team/hello:1.0.0")
	if err := remote.Write(ref, img, auth); err != nil {
		t.Fatal(err)
	}
	tr.image, _ = img.Digest()
	mt, _ := img.MediaType()
	tr.imageType = string(mt)
	idx, err := random.Index(128, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	iref, _ := name.NewTag(tr.host + "/team/hello:multi")
	if err := remote.WriteIndex(iref, idx, auth); err != nil {
		t.Fatal(err)
	}
	tr.idx, _ = idx.Digest()
	it, _ := idx.MediaType()
	tr.indexType = string(it)
	return tr
}

type headerStripper struct{ http.ResponseWriter }

func (h headerStripper) WriteHeader(code int) {
	h.ResponseWriter.Header().Del("Docker-Content-Digest")
	h.ResponseWriter.WriteHeader(code)
}

func tag(t *testing.T, s string) name.Tag {
	t.Helper()
	ref, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestResolve(t *testing.T) {
	for _, strip := range []bool{false, true} {
		reg := newTestRegistry(t, false, strip)
		r, err := New(WithTimeout(2 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		d, err := r.Resolve(context.Background(), tag(t, reg.host+"/team/hello:1.0.0"))
		if err != nil || d.Digest != reg.image || string(d.MediaType) != reg.imageType {
			t.Errorf("strip=%v image: %v %v, want %v %s", strip, d.Digest, err, reg.image, reg.imageType)
		}
		d, err = r.Resolve(context.Background(), tag(t, reg.host+"/team/hello:multi"))
		if err != nil || d.Digest != reg.idx || string(d.MediaType) != reg.indexType {
			t.Errorf("strip=%v index: %v %s %v, want the index digest %v", strip, d.Digest, d.MediaType, err, reg.idx)
		}
		_, err = r.Resolve(context.Background(), tag(t, reg.host+"/team/hello:9.9.9"))
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("strip=%v missing tag: %v, want ErrNotFound", strip, err)
		}
	}
}

func TestResolveWithCredentials(t *testing.T) {
	reg := newTestRegistry(t, true, false)
	anon, _ := New()
	if _, err := anon.Resolve(context.Background(), tag(t, reg.host+"/team/hello:1.0.0")); !errors.Is(err, ErrDenied) {
		t.Fatalf("anonymous look-up: %v, want ErrDenied", err)
	}
	cfg := filepath.Join(t.TempDir(), "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte("ci:s3cret"))
	if err := os.WriteFile(cfg, []byte(`{"auths":{"http://`+reg.host+`/v2/":{"auth":"`+auth+`"},"https://index.docker.io/v1/":{"username":"u","password":"p"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	kc, err := KeychainFromFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := New(WithKeychain(kc))
	d, err := r.Resolve(context.Background(), tag(t, reg.host+"/team/hello:1.0.0"))
	if err != nil || d.Digest != reg.image {
		t.Errorf("look-up with the config file's credentials: %v %v", d.Digest, err)
	}
}

func TestResolveRegistryDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	r, _ := New(WithTimeout(time.Second))
	if _, err := r.Resolve(context.Background(), tag(t, host+"/team/hello:1.0.0")); !errors.Is(err, ErrUnavailable) {
		t.Errorf("registry down: %v, want ErrUnavailable", err)
	}
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusBadGateway) }))
	defer failing.Close()
	if _, err := r.Resolve(context.Background(), tag(t, strings.TrimPrefix(failing.URL, "http://")+"/team/hello:1.0.0")); !errors.Is(err, ErrUnavailable) {
		t.Errorf("registry answering 502: %v, want ErrUnavailable", err)
	}
}

func TestResolveTimeout(t *testing.T) {
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer slow.Close()
	defer close(block)
	r, _ := New(WithTimeout(50 * time.Millisecond))
	_, err := r.Resolve(context.Background(), tag(t, strings.TrimPrefix(slow.URL, "http://")+"/team/hello:1.0.0"))
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("slow registry: %v, want ErrUnavailable", err)
	}
}

func TestKeychainFromFileErrors(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"not json":   `{`,
		"bad base64": `{"auths":{"r.example.com":{"auth":"***"}}}`,
		"no colon":   `{"auths":{"r.example.com":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("nocolon")) + `"}}}`,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := KeychainFromFile(p); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "nocolon") {
			t.Errorf("%s: the error reveals the credential: %v", name, err)
		}
	}
	if _, err := KeychainFromFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file was accepted")
	}
}
