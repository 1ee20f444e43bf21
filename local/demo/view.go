package demo

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipstream-cd/slipstream/policy"
)

// View shows the run to a person: on a terminal, a live screen with a
// traffic bar per Service (stable vs candidate), the phase, when the next
// step is due, and the event log; elsewhere, plain lines.
type View struct {
	out  io.Writer
	tty  bool
	e    *Env
	mu   sync.Mutex
	tail []string
	last string
}

// NewView writes to out; tty selects the live screen.
func NewView(e *Env, out io.Writer, tty bool) *View {
	v := &View{out: out, tty: tty, e: e}
	e.OnLine(func(l Line) {
		v.mu.Lock()
		defer v.mu.Unlock()
		line := l.At.Format("15:04:05.000") + "  " + l.Text
		v.tail = append(v.tail, line)
		if len(v.tail) > 14 {
			v.tail = v.tail[len(v.tail)-14:]
		}
		if !v.tty {
			fmt.Fprintln(v.out, line)
		}
	})
	return v
}

// Run redraws (terminal) or prints traffic changes (plain) until ctx ends.
func (v *View) Run(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			v.frame(ctx)
		}
	}
}

func (v *View) frame(ctx context.Context) {
	list, err := v.e.Serving.ServingV1().Services(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	var b strings.Builder
	for _, s := range list.Items {
		st, _ := policy.LiveState(s.Annotations)
		stable, cand := 0, 0
		for _, t := range s.Status.Traffic {
			if t.Percent == nil {
				continue
			}
			if t.Tag == "candidate" {
				cand += int(*t.Percent)
			} else {
				stable += int(*t.Percent)
			}
		}
		next := ""
		if pol, err := policy.Parse(s.Annotations); err == nil && st.Phase == policy.Progressing && st.StepStartedAt != nil && st.Step >= 1 && st.Step <= len(pol.Pauses) {
			next = fmt.Sprintf(", step %d/%d, next at %s", st.Step, len(pol.Steps), st.StepStartedAt.Add(pol.Pauses[st.Step-1]).Local().Format("15:04:05"))
		}
		fmt.Fprintf(&b, "%s/%s  [%s]  stable %3d%%  candidate %3d%%  %s%s\n", s.Namespace, s.Name, bar(stable, cand), stable, cand, orDash(string(st.Phase)), next)
	}
	screen := b.String()
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.tty {
		if screen != v.last && screen != "" {
			fmt.Fprint(v.out, "             ", strings.ReplaceAll(strings.TrimSuffix(screen, "\n"), "\n", "\n             "), "\n")
		}
		v.last = screen
		return
	}
	fmt.Fprint(v.out, "\033[H\033[2J")
	fmt.Fprintf(v.out, "slipstream — local run   broker %s   registry %s\n\n%s\n", v.e.Broker, v.e.Registry, screen)
	for _, l := range v.tail {
		fmt.Fprintln(v.out, l)
	}
}

// bar draws 40 cells: # for stable, = for candidate.
func bar(stable, cand int) string {
	s := stable * 40 / 100
	c := cand * 40 / 100
	return strings.Repeat("#", s) + strings.Repeat("=", c) + strings.Repeat(".", 40-s-c)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
