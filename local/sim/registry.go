package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// Registry is an OCI registry on loopback that sends a CNCF Distribution
// notification for every tagged manifest push.
type Registry struct {
	// Host is host:port.
	Host string

	srv    *http.Server
	client *http.Client
	notify string
	auth   string
}

// NewRegistry serves on ln (a loopback listener, which it closes with
// Close) and posts notifications to notifyURL with the Authorization header
// auth.
func NewRegistry(ln net.Listener, notifyURL, auth string) (*Registry, error) {
	r := &Registry{Host: ln.Addr().String(), client: &http.Client{Timeout: 5 * time.Second}, notify: notifyURL, auth: auth}
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPut || !strings.Contains(req.URL.Path, "/manifests/") {
			inner.ServeHTTP(w, req)
			return
		}
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		rec := &statusRecorder{ResponseWriter: w}
		inner.ServeHTTP(rec, req)
		if rec.status/100 == 2 {
			go r.notifyPush(req.Clone(req.Context()), body) // Distribution notifies from a queue, after the push
		}
	})}
	go r.srv.Serve(ln)
	return r, nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// notifyPush sends the notification a Distribution registry sends for a
// manifest push (one event per envelope, media type events.v2).
func (r *Registry) notifyPush(req *http.Request, body []byte) {
	parts := strings.SplitN(strings.TrimPrefix(req.URL.Path, "/v2/"), "/manifests/", 2)
	repo, ref := parts[0], parts[1]
	sum := sha256.Sum256(body)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	target := map[string]any{"mediaType": req.Header.Get("Content-Type"), "digest": digest, "size": len(body), "repository": repo,
		"url": "http://" + r.Host + "/v2/" + repo + "/manifests/" + digest}
	if !strings.HasPrefix(ref, "sha256:") {
		target["tag"] = ref
	}
	env := map[string]any{"events": []any{map[string]any{"id": digest[7:19], "timestamp": time.Now().UTC(), "action": "push", "target": target,
		"request": map[string]any{"host": r.Host, "method": "PUT"}}}}
	b, _ := json.Marshal(env)
	nreq, _ := http.NewRequest(http.MethodPost, r.notify, bytes.NewReader(b))
	nreq.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v2+json")
	nreq.Header.Set("Authorization", r.auth)
	if resp, err := r.client.Do(nreq); err == nil {
		resp.Body.Close()
	}
}

// Close stops the registry.
func (r *Registry) Close() error { return r.srv.Close() }
