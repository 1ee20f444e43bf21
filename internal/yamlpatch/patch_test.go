package yamlpatch

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

type target struct {
	RevisionName string `yaml:"revisionName"`
	Percent      int    `yaml:"percent"`
	Tag          string `yaml:"tag,omitempty"`
}

var traffic = []target{{"hello-aa11bb22cc", 100, "stable"}, {"hello-3f2a9c01b2", 0, "candidate"}}

func TestEdits(t *testing.T) {
	tests := []struct {
		name string
		in   string
		do   func(t *testing.T, f *File)
		want string
	}{{
		name: "plain scalar, comments and odd spacing kept",
		in: `# the hello service
spec:
  containers:
    -   image:    registry.example.com/team/hello:1.0.0   # pinned by slipstream
        name: app
`,
		do: func(t *testing.T, f *File) {
			_, c := Lookup(f.Docs()[0], "spec", "containers")
			_, img := Lookup(c.Content[0], "image")
			must(t, f.SetScalar(img, "registry.example.com/team/hello:1.4.0@sha256:3f2a"))
		},
		want: `# the hello service
spec:
  containers:
    -   image:    registry.example.com/team/hello:1.4.0@sha256:3f2a   # pinned by slipstream
        name: app
`,
	}, {
		name: "quoting styles are kept",
		in:   "a: \"x\\\"y\"\nb: 'it''s'\nc: plain\n",
		do: func(t *testing.T, f *File) {
			_, a := Lookup(f.Docs()[0], "a")
			_, b := Lookup(f.Docs()[0], "b")
			_, c := Lookup(f.Docs()[0], "c")
			must(t, f.SetScalar(a, `new "a"`))
			must(t, f.SetScalar(b, "it's new"))
			must(t, f.SetScalar(c, "true")) // would read back as a bool unquoted
		},
		want: "a: \"new \\\"a\\\"\"\nb: 'it''s new'\nc: 'true'\n",
	}, {
		name: "indentless sequence replaced in kind, key comment and next key kept",
		in: `spec:
  traffic: # who gets what
  - latestRevision: true
    percent: 100
  template:
    spec: {}
`,
		do: func(t *testing.T, f *File) {
			k, v := Lookup(f.Docs()[0], "spec", "traffic")
			must(t, f.SetBlock(k, v, traffic))
		},
		want: `spec:
  traffic: # who gets what
  - revisionName: hello-aa11bb22cc
    percent: 100
    tag: stable
  - revisionName: hello-3f2a9c01b2
    percent: 0
    tag: candidate
  template:
    spec: {}
`,
	}, {
		name: "indented sequence at the end of the file, trailing comment lines kept",
		in: `spec:
    traffic:
        - revisionName: old
          percent: 100
# end of spec
`,
		do: func(t *testing.T, f *File) {
			k, v := Lookup(f.Docs()[0], "spec", "traffic")
			must(t, f.SetBlock(k, v, traffic[:1]))
		},
		want: `spec:
    traffic:
        - revisionName: hello-aa11bb22cc
          percent: 100
          tag: stable
# end of spec
`,
	}, {
		name: "flow value becomes a block",
		in:   "spec:\n  traffic: []  # none yet\n  x: 1\n",
		do: func(t *testing.T, f *File) {
			k, v := Lookup(f.Docs()[0], "spec", "traffic")
			must(t, f.SetBlock(k, v, traffic[:1]))
		},
		want: "spec:\n  traffic:  # none yet\n    - revisionName: hello-aa11bb22cc\n      percent: 100\n      tag: stable\n  x: 1\n",
	}, {
		name: "insert into a mapping in the middle and at the end of a multi-document file",
		in: `apiVersion: v1
kind: ConfigMap
metadata:
  name: other   # untouched
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
  annotations:
    slipstream.dev/track: "semver:^1.0.0"
spec:
  template:
    spec:
      containers:
      - image: r.example.com/hello:1
`,
		do: func(t *testing.T, f *File) {
			_, ann := Lookup(f.Docs()[1], "metadata", "annotations")
			must(t, f.Insert(ann, "slipstream.dev/rollout", `{"phase":"Pending"}`))
			_, tmpl := Lookup(f.Docs()[1], "spec", "template")
			must(t, f.Insert(tmpl, "metadata", map[string]string{"name": "hello-3f2a9c01b2"}))
			_, spec := Lookup(f.Docs()[1], "spec")
			must(t, f.Insert(spec, "traffic", traffic))
		},
		want: `apiVersion: v1
kind: ConfigMap
metadata:
  name: other   # untouched
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
  annotations:
    slipstream.dev/track: "semver:^1.0.0"
    slipstream.dev/rollout: '{"phase":"Pending"}'
spec:
  template:
    spec:
      containers:
      - image: r.example.com/hello:1
    metadata:
      name: hello-3f2a9c01b2
  traffic:
    - revisionName: hello-aa11bb22cc
      percent: 100
      tag: stable
    - revisionName: hello-3f2a9c01b2
      percent: 0
      tag: candidate
`,
	}, {
		name: "file without a final newline",
		in:   "a:\n  b: 1",
		do: func(t *testing.T, f *File) {
			_, a := Lookup(f.Docs()[0], "a")
			must(t, f.Insert(a, "c", 2))
		},
		want: "a:\n  b: 1\n  c: 2",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			tc.do(t, f)
			got, err := f.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			var check any
			if err := yaml.Unmarshal(got, &check); err != nil {
				t.Errorf("the result is not YAML: %v", err)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	f, _ := Parse([]byte("a: |\n  block\nb: {}\nc: x\n"))
	_, a := Lookup(f.Docs()[0], "a")
	if err := f.SetScalar(a, "y"); err == nil {
		t.Error("a literal block scalar was edited")
	}
	_, b := Lookup(f.Docs()[0], "b")
	if err := f.Insert(b, "k", 1); err == nil {
		t.Error("inserted into a flow mapping")
	}
	if k, v := Lookup(f.Docs()[0], "nope", "x"); k != nil || v != nil {
		t.Error("Lookup found a missing key")
	}
	_, c := Lookup(f.Docs()[0], "c")
	must(t, f.SetScalar(c, "1"))
	must(t, f.SetScalar(c, "2"))
	if _, err := f.Bytes(); err == nil {
		t.Error("overlapping edits were applied")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestUnsafe(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{name: "plain, flow style and quoted", src: "a: {b: [1, 2]}\nc: \"x\"\nd: !!str 5\n"},
		{name: "alias", src: "a: &x 1\nb: *x\n", want: "anchor &x"},
		{name: "merge key", src: "a:\n  <<: {b: 1}\n", want: "merge key"},
		{name: "custom tag", src: "a: !Ref b\n", want: "custom YAML tag !Ref"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			err = Unsafe(f.Docs()[0])
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Unsafe = %v, want %q", err, tc.want)
			}
		})
	}
}
