package demo

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipstream-cd/slipstream/internal/status"
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
	for i := range list.Items {
		b.WriteString(viewLine(status.Of(&list.Items[i])) + "\n")
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

// viewLine is one Service's line of the view: its traffic bar, the shares,
// the phase and, mid-step, when the next step is due (status.Of's row).
func viewLine(r status.Row) string {
	stable, cand := 0, 0
	for _, t := range r.Traffic {
		if t.Tag == "candidate" {
			cand += int(t.Percent)
		} else {
			stable += int(t.Percent)
		}
	}
	phase := r.Phase
	if r.Step > 0 {
		phase += fmt.Sprintf(", step %d/%d", r.Step, r.Steps)
	}
	if r.NextStep != nil {
		phase += ", next at " + r.NextStep.Local().Format("15:04:05")
	}
	if len(r.Traffic) == 0 { // before Knative routes anything: no 0%/0% that reads as an outage
		return fmt.Sprintf("%s/%s  no traffic yet: waiting for the first revision to be ready  %s", r.Namespace, r.Service, phase)
	}
	return fmt.Sprintf("%s/%s  [%s]  stable %3d%%  candidate %3d%%  %s", r.Namespace, r.Service, bar(stable, cand), stable, cand, phase)
}
