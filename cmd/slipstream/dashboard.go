package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/slipstream-cd/slipstream/internal/webview"
)

const dashboardHelp = `Serves a live web page of the rollouts: each managed Knative Service's
phase and step, the traffic split and the candidate's share over time as a
chart, why it is where it is (the alert behind a rollback), and — with
--repo, a clone of the config repository — its commit history, linked with
--commit-url. The page updates itself as the cluster changes.

It reads the cluster with your kubeconfig as 'slipstream status' does
(--kubeconfig, --context, -n, -A), every --every, and listens on
127.0.0.1 by default: it shows what your kubeconfig may read, so keep it
on loopback (--listen on another interface's address serves it to anyone
who can reach that port; it answers only requests addressed to it).
'slipstream dev' serves the same page for its simulated pipeline.
docs/status.md has more.`

func runDashboard(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, _ := findCommand("dashboard")
	var k scopeFlags
	listen, repo, commitURL, every := "127.0.0.1:8090", "", "", 2*time.Second
	rest, code, ok := parseAround(c, args, stdout, stderr, func(fs *flag.FlagSet) {
		k.define(fs)
		fs.StringVar(&listen, "listen", listen, "address to serve the page on")
		fs.StringVar(&repo, "repo", repo, "a clone of the config repository, for the commit history (pull it to see new commits)")
		fs.StringVar(&commitURL, "commit-url", commitURL, "a commit's web page, {commit} standing for its hash (e.g. https://github.com/acme/config/commit/{commit})")
		fs.DurationVar(&every, "every", every, "how often the cluster is read")
	})
	if !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "slipstream dashboard: "+format+"\n", a...)
		return code
	}
	switch {
	case len(rest) > 0:
		return fail(exitUsage, "takes no arguments, got %q", rest)
	case k.problem() != "":
		return fail(exitUsage, "%s", k.problem())
	case every < 250*time.Millisecond:
		return fail(exitUsage, "--every %s: at least 250ms (each read lists the Services)", every)
	case commitURL != "" && repo == "":
		return fail(exitUsage, "--commit-url links the commits of --repo: give both")
	}
	serving, namespace, err := k.connect()
	if err != nil {
		return fail(exitError, "reading the kubeconfig: %v", err)
	}
	where := "namespace " + namespace
	if k.all {
		where = "every namespace"
	}
	if k.kubecontext != "" {
		where = "context " + k.kubecontext + ", " + where
	}
	src := webview.Source{Where: where, Services: webview.Services(serving, namespace)}
	if repo != "" {
		src.Commits = webview.GitCommits(repo, commitURL)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fail(exitError, "--listen %s: %v", listen, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		// The page answers only requests addressed to where it listens (no
		// DNS rebinding): every interface has no one such address.
		ln.Close()
		return fail(exitUsage, "--listen %s: give one address (127.0.0.1:8090, or the interface's own), not every interface", listen)
	}
	view, err := webview.NewServer(src, every, time.Now, slog.New(slog.NewTextHandler(stderr, nil)), webview.HostsFor(ln.Addr())...)
	if err != nil {
		ln.Close()
		return fail(exitError, "%v", err)
	}
	// The live pages end with ctx: Shutdown need not wait for them.
	srv := &http.Server{Handler: view, ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	go view.Run(ctx)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		srv.Close() // the live pages hold their connections open
	}()
	fmt.Fprintf(stdout, "slipstream dashboard: http://%s (%s), until interrupted\n", ln.Addr(), where)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fail(exitError, "%v", err)
	}
	return exitOK
}
