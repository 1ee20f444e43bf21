package host

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/slipstream-cd/slipstream/eventing"
)

type recordingSender struct {
	sent []string // subjects
	err  error
}

func (s *recordingSender) Send(_ context.Context, e cloudevents.Event) error {
	s.sent = append(s.sent, e.Subject())
	return s.err
}

func TestReply(t *testing.T) {
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	promoted := func(svc string) eventing.Data {
		return eventing.RolloutPromoted{Namespace: "demo", Service: svc, Revision: svc + "-3f2a9c01b2",
			Image: "registry.example.com/team/" + svc + ":1.4.0@sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"}
	}
	tests := []struct {
		name      string
		data      []eventing.Data
		send      *recordingSender // nil: no K_SINK bound
		wantReply string           // subject; "" for no reply
		wantSent  []string
		wantLog   string
		wantErr   bool
	}{
		{
			name: "nothing to say",
			send: &recordingSender{},
		},
		{
			name:      "one follow-up is the reply",
			data:      []eventing.Data{promoted("a")},
			send:      &recordingSender{},
			wantReply: "demo/a",
		},
		{
			name:      "the others go to the sink",
			data:      []eventing.Data{promoted("a"), promoted("b"), promoted("c")},
			send:      &recordingSender{},
			wantReply: "demo/a",
			wantSent:  []string{"demo/b", "demo/c"},
		},
		{
			name:      "without a sink the others are logged, the reply still goes",
			data:      []eventing.Data{promoted("a"), promoted("b")},
			wantReply: "demo/a",
			wantLog:   "no K_SINK bound",
		},
		{
			name:      "a failed send is logged, the reply still goes",
			data:      []eventing.Data{promoted("a"), promoted("b")},
			send:      &recordingSender{err: errors.New("broker down")},
			wantReply: "demo/a",
			wantSent:  []string{"demo/b"},
			wantLog:   "broker down",
		},
		{
			name:    "a follow-up that does not validate is our fault",
			data:    []eventing.Data{promoted("a"), eventing.RolloutPromoted{Namespace: "Demo"}},
			send:    &recordingSender{},
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			ctx := WithLogger(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))
			var send EventSender
			if tc.send != nil {
				send = tc.send
			}
			reply, err := Reply(ctx, "rollout", at, send, tc.data...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if status, _ := Classify(err); err != nil && status != 500 {
				t.Errorf("a follow-up we built wrong answers %d, want 500 (our fault, not the sender's)", status)
			}
			got := ""
			if reply != nil {
				got = reply.Subject()
				if reply.Source() != "/slipstream/rollout" || !reply.Time().Equal(at) {
					t.Errorf("reply source %s time %s", reply.Source(), reply.Time())
				}
			}
			if got != tc.wantReply {
				t.Errorf("reply %q, want %q", got, tc.wantReply)
			}
			var sent []string
			if tc.send != nil {
				sent = tc.send.sent
			}
			if diff := cmp.Diff(tc.wantSent, sent); diff != "" {
				t.Errorf("sent (-want +got):\n%s", diff)
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log lacks %q:\n%s", tc.wantLog, logs.String())
			}
		})
	}
}
