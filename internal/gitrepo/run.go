package gitrepo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// Run runs the git command line in dir (a clone of a person's, a bare
// repository) with stdin, and returns what it printed; an error carries
// what git said. Paths are taken literally, never as patterns. The
// functions write Git through go-git (Repo); this is for the commands and
// the web view, which work in a clone on this machine.
func Run(ctx context.Context, dir string, stdin io.Reader, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"--literal-pathspecs", "-C", dir}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s in %s: %v: %s", args[0], dir, err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}
