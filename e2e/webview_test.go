//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/slipstream-cd/slipstream/local/demo"
)

// chromium is Debian's Chromium, which .ci/run installs.
const chromium = "/usr/bin/chromium"

// TestWebViewInABrowser loads the dashboard `slipstream dev` serves in a
// real headless Chromium, then pushes images and sends an alert to the
// pipeline dev runs: the page must follow live — the phase badge, the
// candidate's share in the chart, the rollback's alert, the commits — with
// no reload. SLIPSTREAM_SCREENSHOT=<file.png> saves the page at the end
// (make screenshots: docs/screenshots/dashboard.png).
func TestWebViewInABrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s: %v (.ci/run installs Debian's chromium)", chromium, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e, err := demo.Start(ctx, demo.Options{Pause: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	alloc, stop := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 1000))...)
	defer stop()
	browser, closeBrowser := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	defer closeBrowser()
	// Start the browser before anything else uses the context: two first
	// uses at once would start two browsers on one profile.
	if err := chromedp.Do(browser); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var consoleErrors []string // CSP violations, script errors
	reading := make(chan struct{})
	defer func() { closeBrowser(); <-reading }()
	go func() {
		defer close(reading)
		for m, err := range chromedp.Console(browser) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				mu.Lock()
				consoleErrors = append(consoleErrors, m.String())
				mu.Unlock()
			}
		}
	}()
	page := func() string {
		html, _ := chromedp.Run(browser, chromedp.OuterHTML("main"))
		return html
	}
	// until waits, in the page, for a JavaScript condition on what it shows.
	until := func(what, cond string) {
		t.Helper()
		if _, err := chromedp.Run(browser, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(45*time.Second))); err != nil {
			t.Fatalf("waiting for %s (%s): %v\npage:\n%s", what, cond, err, page())
		}
	}
	read := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(browser, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("reading %s: %v", js, err)
		}
		return v
	}
	const card = `document.querySelector('section.svc[data-key="demo/hello"]')`
	phase := func(p string) string { return card + `?.dataset.phase === "` + p + `"` }
	const share = card + `?.querySelector("svg.chart")?.dataset.last`
	const points = `String(` + card + `?.querySelector("svg.chart")?.dataset.points ?? "")`

	if err := chromedp.Do(browser, chromedp.Navigate(e.Dashboard)); err != nil {
		t.Fatal(err)
	}
	until("the page to follow the state live", `document.getElementById("live").dataset.state === "live"`)

	d1, err := e.Push("1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	until("the first deploy, promoted", phase("Promoted"))
	t.Logf("1.0.0 is %s, promoted", d1[:19])

	if _, err := e.Push("1.1.0"); err != nil {
		t.Fatal(err)
	}
	until("1.1.0 getting traffic", phase("Progressing")+` && Number(`+share+`) > 0`)
	mid := atoi(read(points))
	until("1.1.0 promoted", phase("Promoted"))
	end := atoi(read(points))
	if mid < 2 || end <= mid {
		t.Errorf("the chart had %d points mid-rollout and %d once promoted: want the first deploy's and a step's, then more", mid, end)
	}

	// A rollout an alert rolls back: the page names the alert.
	if _, err := e.Push("1.2.0"); err != nil {
		t.Fatal(err)
	}
	until("1.2.0 getting traffic", phase("Progressing")+` && Number(`+share+`) > 0`)
	url, header, body := e.AlertRequest()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the alert: %v %v", resp, err)
	}
	resp.Body.Close()
	until("the rollback, with its alert", phase("RolledBack")+` && `+card+`.querySelector(".rollback")?.textContent.includes("KnativeRevisionHighErrorRate")`)
	if got := read(share); got != "0" {
		t.Errorf("after the rollback the chart ends at %s%%, want 0", got)
	}
	// promote's revert reaches Git, and the commit history, live.
	until("the revert in the commit history", `document.getElementById("commits").textContent.includes("roll back 1.2.0")`)
	if commits := read(`document.getElementById("commits").textContent`); !strings.Contains(commits, "promote 1.1.0") {
		t.Errorf("the commit history lacks the promotion of 1.1.0:\n%s", commits)
	}
	mu.Lock()
	if len(consoleErrors) > 0 {
		t.Errorf("the page logged errors (a CSP violation, a script error):\n%s", strings.Join(consoleErrors, "\n"))
	}
	mu.Unlock()
	if out := os.Getenv("SLIPSTREAM_SCREENSHOT"); out != "" {
		png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if !filepath.IsAbs(out) {
			out = filepath.Join(root, out)
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", out, len(png))
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
