package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRevisionName(t *testing.T) {
	tests := []struct {
		name    string
		service string
		image   string
		want    string
	}{
		{
			name:    "pinned image: the first 10 hex of the digest",
			service: "hello",
			image:   "registry.example.com/team/hello:1.4.0@sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d",
			want:    "hello-3f2a9c01b2",
		},
		{
			name:    "the tag does not matter, the digest does",
			service: "hello",
			image:   "registry.example.com/team/hello@sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d",
			want:    "hello-3f2a9c01b2",
		},
		{
			name:    "unpinned image: named after the reference's own sha256",
			service: "hello",
			image:   "registry.example.com/team/hello",
			want:    "hello-e15a0be794",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RevisionName(tc.service, tc.image); got != tc.want {
				t.Errorf("RevisionName(%q, %q) = %q, want %q", tc.service, tc.image, got, tc.want)
			}
		})
	}
}

func TestQuarantineList(t *testing.T) {
	const a = "sha256:aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33bb44cc55dd66"
	const b = "sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"
	tests := []struct {
		name      string
		value     string
		add       string
		entries   []string
		want      string
		wantAdded bool
	}{
		{
			name:      "empty list",
			value:     "",
			add:       b,
			entries:   []string{},
			want:      b,
			wantAdded: true,
		},
		{
			name:      "appended after a comma",
			value:     a,
			add:       b,
			entries:   []string{a},
			want:      a + "," + b,
			wantAdded: true,
		},
		{
			name:      "tabs, newlines and spaces separate entries like commas",
			value:     a + "\t" + b + "\n",
			add:       b,
			entries:   []string{a, b},
			want:      a + "\t" + b + "\n",
			wantAdded: false,
		},
		{
			name:      "already listed: nothing changes",
			value:     a + ", " + b,
			add:       a,
			entries:   []string{a, b},
			want:      a + ", " + b,
			wantAdded: false,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.entries, QuarantineEntries(tc.value)); diff != "" {
				t.Errorf("QuarantineEntries(%q) (-want +got):\n%s", tc.value, diff)
			}
			got, added := AddQuarantine(tc.value, tc.add)
			if got != tc.want || added != tc.wantAdded {
				t.Errorf("AddQuarantine(%q, %q) = %q, %v; want %q, %v", tc.value, tc.add, got, added, tc.want, tc.wantAdded)
			}
			// Whatever was added, Parse sees the same list AddQuarantine does.
			pol, err := Parse(map[string]string{AnnotationTrack: "any", AnnotationQuarantine: got})
			if err != nil {
				t.Fatalf("Parse of the new value: %v", err)
			}
			if !pol.Quarantined(tc.add) {
				t.Errorf("Parse does not see %s as quarantined in %q", tc.add, got)
			}
		})
	}
}
