package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRevisionName(t *testing.T) {
	identity := []byte(`{"spec":{"containers":[{"image":"registry.example.com/team/hello@sha256:3f2a…"}]}}`)
	tests := []struct {
		name    string
		service string
		want    string // "" when the name leaves no room
	}{
		{
			name:    "ten hex digits of the template's hash",
			service: "hello",
			want:    "hello-16313e83cb",
		},
		{
			name:    "a long name: fewer digits, within 63 characters",
			service: strings.Repeat("a", 55),
			want:    strings.Repeat("a", 55) + "-16313e8",
		},
		{
			name:    "57 characters: the fewest digits",
			service: strings.Repeat("a", 57),
			want:    strings.Repeat("a", 57) + "-16313",
		},
		{
			name:    "58 characters: no room",
			service: strings.Repeat("a", 58),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RevisionName(tc.service, identity)
			if tc.want == "" {
				if !errors.Is(err, ErrNameTooLong) {
					t.Errorf("RevisionName = %q, %v; want ErrNameTooLong", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("RevisionName = %q, %v; want %q", got, err, tc.want)
			}
			if len(got) > 63 || !strings.HasPrefix(got, tc.service+"-") {
				t.Errorf("%q is not a revision name Knative takes for %q", got, tc.service)
			}
		})
	}
	other, _ := RevisionName("hello", []byte(`{"spec":{"containers":[{"image":"x"}]}}`))
	if same, _ := RevisionName("hello", identity); other == same {
		t.Error("two templates got one name")
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

func TestRemoveQuarantine(t *testing.T) {
	a, b := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	tests := []struct {
		value, digest, want string
		changed             bool
	}{
		{value: a + "," + b, digest: a, want: b, changed: true},
		{value: a + ", " + b + "\n", digest: b, want: a, changed: true},
		{value: a, digest: a, want: "", changed: true},
		{value: a + "," + a, digest: a, want: "", changed: true},
		{value: a, digest: b, want: a},
		{value: "", digest: a, want: ""},
	}
	for _, tt := range tests {
		got, changed := RemoveQuarantine(tt.value, tt.digest)
		if got != tt.want || changed != tt.changed {
			t.Errorf("RemoveQuarantine(%q, %q) = %q, %v; want %q, %v", tt.value, tt.digest, got, changed, tt.want, tt.changed)
		}
	}
}
