package webview

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/slipstream-cd/slipstream/internal/gitrepo"
)

// GitCommits reads the newest commits of the Git repository at dir (a
// clone, or a bare repository) with git log; link, when it holds
// "{commit}", makes each commit's URL.
func GitCommits(dir, link string) func(ctx context.Context, n int) ([]Commit, error) {
	return func(ctx context.Context, n int) ([]Commit, error) {
		out, err := gitrepo.Run(ctx, dir, nil, "log", "-n", strconv.Itoa(n), "--format=%H%x1f%an%x1f%aI%x1f%s%x1e")
		if err != nil {
			return nil, err
		}
		return parseLog(out, link), nil
	}
}

// parseLog reads git log's records (fields split by US, records by RS).
func parseLog(s, link string) []Commit {
	commits := []Commit{}
	for _, rec := range strings.Split(s, "\x1e") {
		f := strings.Split(strings.TrimSpace(rec), "\x1f")
		if len(f) != 4 {
			continue
		}
		at, _ := time.Parse(time.RFC3339, f[2])
		c := Commit{Hash: f[0], Author: f[1], At: at, Subject: f[3]}
		if strings.Contains(link, "{commit}") {
			c.URL = strings.ReplaceAll(link, "{commit}", c.Hash)
		}
		commits = append(commits, c)
	}
	return commits
}
