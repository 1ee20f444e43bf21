package eventing

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"
)

const (
	digestA = "sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"
	digestB = "sha256:aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33bb44cc55dd66"
	sha1    = "0123456789abcdef0123456789abcdef01234567"
)

var now = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

func validPushed(t testing.TB) ImagePushed {
	t.Helper()
	d, err := NewImagePushed("registry.example.com/team/hello:1.4.0@"+digestA, "distribution", "application/vnd.oci.image.index.v1+json", &now)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// samples returns one valid payload of every catalog type.
func samples(t testing.TB) []Data {
	return []Data{
		validPushed(t),
		ManifestCommitted{Namespace: "demo", Service: "hello", Commit: sha1, Path: "apps/hello/service.yaml",
			Image: "registry.example.com/team/hello:1.4.0@" + digestA, StableRevision: "hello-aa11bb22cc",
			CandidateRevision: "hello-3f2a9c01b2", CauseType: TypeImagePushed, CauseID: "abc"},
		TrafficShifted{Namespace: "demo", Service: "hello", StableRevision: "hello-aa11bb22cc", CandidateRevision: "hello-3f2a9c01b2",
			Step: 2, Steps: 4, Traffic: []TrafficTarget{{"hello-aa11bb22cc", 75, "stable"}, {"hello-3f2a9c01b2", 25, "candidate"}}},
		RolloutPromoted{Namespace: "demo", Service: "hello", Revision: "hello-3f2a9c01b2", PreviousRevision: "hello-aa11bb22cc",
			Image: "registry.example.com/team/hello:1.4.0@" + digestA},
		RolloutRolledBack{Namespace: "demo", Service: "hello", StableRevision: "hello-aa11bb22cc", CandidateRevision: "hello-3f2a9c01b2",
			Image: "registry.example.com/team/hello:1.4.0@" + digestA, Reason: `alert HighErrorRate{severity="critical"}`,
			Alert: &Alert{Name: "HighErrorRate", Labels: map[string]string{"severity": "critical"}, StartsAt: &now}},
	}
}

func TestEveryTypeHasASample(t *testing.T) {
	var got []string
	for _, d := range samples(t) {
		got = append(got, d.EventType())
	}
	if diff := cmp.Diff(Types(), got); diff != "" {
		t.Errorf("samples do not cover the catalog (-want +got):\n%s", diff)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, d := range samples(t) {
		t.Run(d.EventType(), func(t *testing.T) {
			e, err := New("test", d, now.In(time.FixedZone("x", 3600)))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			// cmp compares the times with time.Time's Equal: the instant, not the zone.
			type attributes struct {
				Type, Source, Subject, ID string
				Time                      time.Time
			}
			wantAttrs := attributes{Type: d.EventType(), Source: "/slipstream/test", Subject: d.Subject(), ID: d.ID(), Time: now}
			gotAttrs := attributes{Type: e.Type(), Source: e.Source(), Subject: e.Subject(), ID: e.ID(), Time: e.Time()}
			if diff := cmp.Diff(wantAttrs, gotAttrs); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
			// New leaves empty extensions unset, so only the non-empty ones are expected.
			wantExt, gotExt := map[string]string{}, map[string]string{}
			for k, v := range d.Extensions() {
				if v == "" {
					continue
				}
				wantExt[k] = v
				gotExt[k], _ = e.Extensions()[k].(string)
			}
			if diff := cmp.Diff(wantExt, gotExt); diff != "" {
				t.Errorf("extensions (-want +got):\n%s", diff)
			}
			// Through the structured JSON form and back.
			raw, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			var back cloudevents.Event
			if err := json.Unmarshal(raw, &back); err != nil {
				t.Fatal(err)
			}
			var got Data
			switch d.(type) {
			case ImagePushed:
				got, err = Decode[ImagePushed](back)
			case ManifestCommitted:
				got, err = Decode[ManifestCommitted](back)
			case TrafficShifted:
				got, err = Decode[TrafficShifted](back)
			case RolloutPromoted:
				got, err = Decode[RolloutPromoted](back)
			case RolloutRolledBack:
				got, err = Decode[RolloutRolledBack](back)
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(d, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestImagePushedIDIsDeterministic(t *testing.T) {
	a := validPushed(t)
	b, err := NewImagePushed("registry.example.com/team/hello:1.4.0@"+digestA, "harbor", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID() != b.ID() {
		t.Errorf("same push from two formats: ids %q and %q differ", a.ID(), b.ID())
	}
	c, _ := NewImagePushed("registry.example.com/team/hello:1.4.1@"+digestA, "", "", nil)
	d, _ := NewImagePushed("registry.example.com/team/hello:1.4.0@"+digestB, "", "", nil)
	if a.ID() == c.ID() || a.ID() == d.ID() {
		t.Errorf("different tag or digest produced the same id %q", a.ID())
	}
}

func TestNewImagePushedNormalises(t *testing.T) {
	d, err := NewImagePushed("localhost:5000/hello:v1@"+digestA, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := ImagePushed{Image: "localhost:5000/hello:v1@" + digestA, Registry: "localhost:5000", Repository: "hello", Tag: "v1", Digest: digestA}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{
		"registry.example.com/team/hello:1.4.0",          // no digest
		"registry.example.com/team/hello@" + digestA,     // no tag
		"hello:1.4.0@" + digestA,                         // implicit registry
		"registry.example.com/team/hello:1.4.0@sha256:1", // short digest
		"registry.example.com/team/hello:1.4.0@md5:" + strings.Repeat("a", 32),
		"Registry.example.com/Team/hello:1.4.0@" + digestA, // upper-case repository
	} {
		if _, err := NewImagePushed(bad, "", "", nil); err == nil {
			t.Errorf("NewImagePushed(%q) accepted a bad reference", bad)
		}
	}
}

func TestValidate(t *testing.T) {
	pushed := validPushed(t)
	tests := []struct {
		name string
		data Data
		want []string // field paths reported, in order
	}{{
		name: "pushed: empty",
		data: ImagePushed{},
		want: []string{"image"},
	}, {
		name: "pushed: fields disagree with the image",
		data: func() Data { d := pushed; d.Tag = "2.0.0"; d.Digest = digestB; d.Registry = "r.example.com"; return d }(),
		want: []string{"registry", "tag", "digest"},
	}, {
		name: "committed: everything wrong",
		data: ManifestCommitted{Namespace: "Demo", Service: "1hello", Commit: "abc", Path: "../x.yaml", Image: "Bad Image!", StableRevision: "A", CandidateRevision: "b_c"},
		want: []string{"namespace", "service", "commit", "path", "image", "stableRevision", "candidateRevision", "causeType", "causeId"},
	}, {
		name: "committed: absolute path",
		data: ManifestCommitted{Namespace: "demo", Service: "hello", Commit: sha1, Path: "/etc/x.yaml", Image: "r.example.com/a@" + digestA, CauseType: "t", CauseID: "i"},
		want: []string{"path"},
	}, {
		name: "shifted: percents do not sum to 100",
		data: TrafficShifted{Namespace: "demo", Service: "hello", StableRevision: "hello-a", CandidateRevision: "hello-b", Step: 1, Steps: 4,
			Traffic: []TrafficTarget{{"hello-a", 90, "stable"}, {"hello-b", 20, "candidate"}}},
		want: []string{"traffic"},
	}, {
		name: "shifted: bad entries",
		data: TrafficShifted{Namespace: "demo", Service: "hello", StableRevision: "hello-a", CandidateRevision: "hello-a", Step: 5, Steps: 4,
			Traffic: []TrafficTarget{{"hello-x", 101, "stable"}, {"hello-a", -1, "stable"}}},
		want: []string{"candidateRevision", "step", "traffic[0].revisionName", "traffic[0].percent", "traffic[1].percent", "traffic[1].tag"},
	}, {
		name: "shifted: no traffic, no steps",
		data: TrafficShifted{Namespace: "demo", Service: "hello", StableRevision: "hello-a", CandidateRevision: "hello-b", Step: -1},
		want: []string{"steps", "step", "traffic"},
	}, {
		name: "shifted: step 0 gives the candidate a share",
		data: TrafficShifted{Namespace: "demo", Service: "hello", StableRevision: "hello-a", CandidateRevision: "hello-b", Step: 0, Steps: 4,
			Traffic: []TrafficTarget{{"hello-a", 90, "stable"}, {"hello-b", 10, "candidate"}}},
		want: []string{"traffic"},
	}, {
		name: "promoted: revision equals previous",
		data: RolloutPromoted{Namespace: "demo", Service: "hello", Revision: "hello-a", PreviousRevision: "hello-a", Image: "R.example.com/A b"},
		want: []string{"previousRevision", "image"},
	}, {
		name: "rolledback: missing reason and alert name",
		data: RolloutRolledBack{Namespace: "demo", Service: "hello", StableRevision: "hello-a", CandidateRevision: "hello-b", Image: "r.example.com/a@" + digestA, Alert: &Alert{}},
		want: []string{"reason", "alert.name"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.data.Validate()
			var verr ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Validate() = %v, want a ValidationError", err)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Error("validation error does not match ErrMalformed")
			}
			var got []string
			for _, fe := range verr {
				got = append(got, fe.Field)
				if fe.Problem == "" {
					t.Errorf("field %s: empty problem", fe.Field)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s\nerror: %v", diff, err)
			}
			if _, err := New("test", tc.data, now); !errors.Is(err, ErrMalformed) {
				t.Errorf("New accepted an invalid payload: %v", err)
			}
		})
	}
	for _, d := range samples(t) {
		if err := d.Validate(); err != nil {
			t.Errorf("%s sample: %v", d.EventType(), err)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	good, err := New("intake", validPushed(t), now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(e *cloudevents.Event)
		want   string // a substring of the error
	}{
		{
			name:   "wrong type",
			mutate: func(e *cloudevents.Event) { e.SetType(TypeRolloutPromoted) },
			want:   `expected "dev.slipstream.image.pushed.v1"`,
		},
		{
			name:   "no id",
			mutate: func(e *cloudevents.Event) { e.SetID("") },
			want:   "id",
		},
		{
			name:   "subject disagrees",
			mutate: func(e *cloudevents.Event) { e.SetSubject("other.example.com/x") },
			want:   "subject",
		},
		{
			name:   "not JSON data",
			mutate: func(e *cloudevents.Event) { _ = e.SetData("text/plain", "hello") },
			want:   "datacontenttype",
		},
		{
			name:   "empty data",
			mutate: func(e *cloudevents.Event) { e.DataEncoded = nil },
			want:   "data is empty",
		},
		{
			name:   "truncated JSON",
			mutate: func(e *cloudevents.Event) { e.DataEncoded = e.DataEncoded[:10] },
			want:   "data:",
		},
		{
			name: "invalid payload",
			mutate: func(e *cloudevents.Event) {
				_ = e.SetData(cloudevents.ApplicationJSON, map[string]string{"image": "nope"})
			},
			want: "image:",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := good.Clone()
			tc.mutate(&e)
			_, err := Decode[ImagePushed](e)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode() = %v, want ErrMalformed", err)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode() error is %T, want *DecodeError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestNameRules(t *testing.T) {
	tests := []struct {
		name      string
		value     string
		digest    bool
		namespace bool
	}{
		{
			name:   "sha256 digest",
			value:  "sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d",
			digest: true,
		},
		{
			name:  "upper-case hex is not how registries write digests",
			value: "sha256:3F2A9C01B2D4E6F8A0B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6F708192A3B4C5D",
		},
		{
			name:  "short digest",
			value: "sha256:3f2a9c01b2",
		},
		{
			name:  "sha512 digest",
			value: "sha512:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d",
		},
		{
			name:      "namespace",
			value:     "team-a",
			namespace: true,
		},
		{
			name:      "namespace starting with a digit",
			value:     "1team",
			namespace: true,
		},
		{
			name:  "upper case",
			value: "Team",
		},
		{
			name:  "trailing dash",
			value: "team-",
		},
		{
			name:  "64 characters",
			value: strings.Repeat("a", 64),
		},
		{
			name:      "63 characters",
			value:     strings.Repeat("a", 63),
			namespace: true,
		},
		{
			name:  "empty",
			value: "",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsDigest(tc.value); got != tc.digest {
				t.Errorf("IsDigest(%q) = %v, want %v", tc.value, got, tc.digest)
			}
			if got := IsNamespace(tc.value); got != tc.namespace {
				t.Errorf("IsNamespace(%q) = %v, want %v", tc.value, got, tc.namespace)
			}
		})
	}
}

func TestVersionedAndShortDigest(t *testing.T) {
	const d = "sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"
	tests := []struct{ got, want string }{
		{Versioned("hello-3f2a9c01b2", "registry.example.com/team/hello:1.4.0@"+d), "1.4.0 (hello-3f2a9c01b2)"},
		{Versioned("hello-00002", "registry.example.com/team/hello@"+d), "hello-00002"},
		{ShortDigest(d), "sha256:3f2a9c01b2d4"},
		{ShortDigest("registry.example.com/team/hello:1.4.0@" + d), "sha256:3f2a9c01b2d4"},
		{ShortDigest("registry.example.com/team/hello:1.4.0"), ""},
		{ShortDigest("sha256:abc"), ""},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: %q, want %q", i, tt.got, tt.want)
		}
	}
}
