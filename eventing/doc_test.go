package eventing

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// fieldPaths lists the JSON paths of every field of a struct type, nested
// structs and slices of structs included ("traffic[].percent", "alert.name").
func fieldPaths(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice {
			prefix += "[]"
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.PkgPath() != reflect.TypeOf(ImagePushed{}).PkgPath() {
		return nil
	}
	var paths []string
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		p := name
		if prefix != "" {
			p = prefix + "." + name
		}
		paths = append(paths, p)
		paths = append(paths, fieldPaths(t.Field(i).Type, p)...)
	}
	return paths
}

// docSections splits docs/events.md into the sections headed by an event type.
func docSections(t *testing.T) map[string]string {
	raw, err := os.ReadFile("../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	heading := regexp.MustCompile("(?m)^## `([a-z0-9.]+)`")
	idx := heading.FindAllStringSubmatchIndex(string(raw), -1)
	for i, m := range idx {
		end := len(raw)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		sections[string(raw[m[2]:m[3]])] = string(raw[m[1]:end])
	}
	return sections
}

func TestDocsListEveryField(t *testing.T) {
	sections := docSections(t)
	for _, d := range samples(t) {
		section, ok := sections[d.EventType()]
		if !ok {
			t.Errorf("docs/events.md has no section \"## `%s`\"", d.EventType())
			continue
		}
		for _, p := range fieldPaths(reflect.TypeOf(d), "") {
			if !strings.Contains(section, "| `"+p+"` |") {
				t.Errorf("docs/events.md, %s: no table row for field `%s`", d.EventType(), p)
			}
		}
		for ext := range d.Extensions() {
			if !strings.Contains(section, "`"+ext+"`") {
				t.Errorf("docs/events.md, %s: extension %q not mentioned", d.EventType(), ext)
			}
		}
	}
}

// TestDocExamplesAreValid decodes the JSON example of every section into its
// type and validates it, so the examples cannot drift from the code.
func TestDocExamplesAreValid(t *testing.T) {
	sections := docSections(t)
	block := regexp.MustCompile("(?s)```json\n(.*?)```")
	for _, d := range samples(t) {
		m := block.FindStringSubmatch(sections[d.EventType()])
		if m == nil {
			t.Errorf("docs/events.md, %s: no json example", d.EventType())
			continue
		}
		ptr := reflect.New(reflect.TypeOf(d))
		dec := json.NewDecoder(strings.NewReader(m[1]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(ptr.Interface()); err != nil {
			t.Errorf("docs/events.md, %s example: %v", d.EventType(), err)
			continue
		}
		if err := ptr.Elem().Interface().(Data).Validate(); err != nil {
			t.Errorf("docs/events.md, %s example does not validate: %v", d.EventType(), err)
		}
	}
}
