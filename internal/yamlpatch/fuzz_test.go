package yamlpatch

import (
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzSetScalar: for any YAML the parser reads, replacing the first mapping
// value that is a scalar either refuses clearly or yields YAML in which that
// value reads back as the new one.
func FuzzSetScalar(f *testing.F) {
	f.Add([]byte("a: b\n"), "new value")
	f.Add([]byte("a: 'q''s'  # c\nb: [1, 2]\n"), "it's")
	f.Add([]byte("x:\n  y: \"z\\\"\"\n"), "true")
	f.Add([]byte("- a: 1\n- b: 2\n"), "#not a comment")
	f.Fuzz(func(t *testing.T, src []byte, value string) {
		file, err := Parse(src)
		if err != nil || len(file.Docs()) == 0 || file.Docs()[0] == nil {
			return
		}
		root := file.Docs()[0]
		if root.Kind != yaml.MappingNode || len(root.Content) < 2 {
			return
		}
		key, v := root.Content[0], root.Content[1]
		if v.Kind != yaml.ScalarNode || key.Kind != yaml.ScalarNode || v.Tag == "!!null" && v.Value == "" {
			return
		}
		if err := file.SetScalar(v, value); err != nil {
			return
		}
		out, err := file.Bytes()
		if err != nil {
			t.Fatalf("Bytes: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("edited YAML does not parse: %v\n%s", err, out)
		}
		if len(again.Docs()) == 0 || again.Docs()[0] == nil || len(again.Docs()[0].Content) < 2 {
			t.Fatalf("edited YAML lost its mapping:\n%s", out)
		}
		if got := again.Docs()[0].Content[1].Value; got != value {
			t.Fatalf("value reads back %q, want %q\n%s", got, value, out)
		}
	})
}
