package yamlpatch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// File is a YAML file being edited. Edits are recorded against the original
// bytes and applied together by Bytes.
type File struct {
	src   []byte
	lines []int // byte offset of the start of each line
	docs  []*yaml.Node
	edits []edit
}

type edit struct {
	start, end int
	text       string
}

// Parse reads every document of a YAML stream.
func Parse(src []byte) (*File, error) {
	f := &File{src: src, lines: []int{0}}
	for i, b := range src {
		if b == '\n' {
			f.lines = append(f.lines, i+1)
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		var content *yaml.Node
		if len(doc.Content) > 0 {
			content = doc.Content[0]
		}
		f.docs = append(f.docs, content)
	}
	return f, nil
}

// Unsafe says why a document cannot be edited as text safely, or nil. An
// alias (*name) shares nodes with its anchor, so an edit through it lands
// at the anchor, and the document's decoded shape is not its text; an
// anchor (&name) makes other nodes depend on the one edited; a merge key
// (<<) has no place in the text for the merged fields; a custom tag (!Ref)
// means another tool renders the value. Such a document is left alone.
func Unsafe(n *yaml.Node) error {
	if n == nil {
		return nil
	}
	switch {
	case n.Kind == yaml.AliasNode:
		return fmt.Errorf("line %d uses the YAML alias *%s", n.Line, n.Value)
	case n.Anchor != "":
		return fmt.Errorf("line %d defines the YAML anchor &%s", n.Line, n.Anchor)
	case n.Tag == "!!merge":
		return fmt.Errorf("line %d uses a YAML merge key (<<)", n.Line)
	case n.Tag != "" && !strings.HasPrefix(n.Tag, "!!"):
		return fmt.Errorf("line %d has the custom YAML tag %s", n.Line, n.Tag)
	}
	for _, c := range n.Content {
		if err := Unsafe(c); err != nil {
			return err
		}
	}
	return nil
}

// Docs returns the root node of each document (nil for an empty document).
func (f *File) Docs() []*yaml.Node { return f.docs }

// Lookup follows mapping keys from m and returns the last key and value
// nodes, or nils when a key is missing or a node on the way is not a mapping.
func Lookup(m *yaml.Node, path ...string) (key, value *yaml.Node) {
	value = m
	for _, p := range path {
		if value == nil || value.Kind != yaml.MappingNode {
			return nil, nil
		}
		found := false
		for i := 0; i+1 < len(value.Content); i += 2 {
			if value.Content[i].Value == p {
				key, value = value.Content[i], value.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			return nil, nil
		}
	}
	return key, value
}

// offset is the byte offset of a node's (line, column) position.
func (f *File) offset(line, col int) int {
	start := f.lines[line-1]
	off := start
	for c := 1; c < col && off < len(f.src) && f.src[off] != '\n'; c++ {
		_, size := utf8.DecodeRune(f.src[off:])
		off += size
	}
	return off
}

func (f *File) lineEnd(line int) int {
	if line < len(f.lines) {
		return f.lines[line] - 1
	}
	return len(f.src)
}

// scalarEnd finds where a scalar's text ends, in its own style.
func (f *File) scalarEnd(n *yaml.Node, start int) (int, error) {
	s := f.src
	switch n.Style {
	case yaml.DoubleQuotedStyle:
		for i := start + 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '"':
				return i + 1, nil
			}
		}
	case yaml.SingleQuotedStyle:
		for i := start + 1; i < len(s); i++ {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					i++
					continue
				}
				return i + 1, nil
			}
		}
	case 0, yaml.TaggedStyle:
		end := f.lineEnd(n.Line)
		text := string(s[start:end])
		if i := strings.Index(text, " #"); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimRight(text, " \t\r")
		if text != n.Value {
			return 0, fmt.Errorf("line %d: plain scalar %q spans lines; edit it by hand", n.Line, n.Value)
		}
		return start + len(text), nil
	default:
		return 0, fmt.Errorf("line %d: literal and folded scalars are not edited", n.Line)
	}
	return 0, fmt.Errorf("line %d: unterminated quoted scalar", n.Line)
}

// SetScalar replaces a scalar's value, keeping its quoting style when the new
// value can be written in it.
func (f *File) SetScalar(n *yaml.Node, value string) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: not a scalar", n.Line)
	}
	if n.Value == value {
		return nil
	}
	if !utf8.ValidString(value) {
		return fmt.Errorf("line %d: new value is not valid UTF-8", n.Line)
	}
	start := f.offset(n.Line, n.Column)
	end, err := f.scalarEnd(n, start)
	if err != nil {
		return err
	}
	f.edits = append(f.edits, edit{start, end, quote(value, n.Style)})
	return nil
}

var plainSafe = regexp.MustCompile(`^[A-Za-z0-9_./@+-][A-Za-z0-9_./:@+-]*$`)

// quote renders a string scalar in the given style, or the closest safe one.
func quote(v string, style yaml.Style) string {
	printable := strings.IndexFunc(v, func(r rune) bool { return !yamlPrintable(r) }) < 0
	switch {
	case style == yaml.DoubleQuotedStyle || !printable:
	case style == yaml.SingleQuotedStyle:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case plainSafe.MatchString(v) && !looksTyped(v):
		return v
	case !strings.Contains(v, "'"):
		return "'" + v + "'"
	}
	return doubleQuoted(v)
}

// doubleQuoted writes a YAML double-quoted scalar, escaping what YAML does
// not allow as is.
func doubleQuoted(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case yamlPrintable(r):
			b.WriteRune(r)
		case r <= 0xFFFF:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			fmt.Fprintf(&b, `\U%08X`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// yamlPrintable is YAML 1.2's c-printable, less the line breaks and tab.
func yamlPrintable(r rune) bool {
	return (r >= 0x20 && r <= 0x7E) || r == 0x85 || (r >= 0xA0 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD && r != 0xFEFF) || (r >= 0x10000 && r <= 0x10FFFF)
}

// looksTyped reports whether a plain scalar would not read back as a string.
func looksTyped(v string) bool {
	var out any
	if err := yaml.Unmarshal([]byte(v), &out); err != nil {
		return true
	}
	_, isString := out.(string)
	return !isString
}

// indentOf counts the leading spaces of a line.
func (f *File) indentOf(line int) int {
	n := 0
	for i := f.lines[line-1]; i < len(f.src) && f.src[i] == ' '; i++ {
		n++
	}
	return n
}

// isBlankOrComment reports whether a line holds nothing but space or a comment.
func (f *File) isBlankOrComment(line int) bool {
	text := strings.TrimSpace(string(f.src[f.lines[line-1]:f.lineEnd(line)]))
	return text == "" || strings.HasPrefix(text, "#")
}

// lastLine is the last line holding content of key's value: lines indented
// deeper than the key, and, for an indentless sequence, its "-" lines.
func (f *File) lastLine(key, value *yaml.Node) int {
	keyIndent := key.Column - 1
	last := value.Line
	if value.Kind == yaml.ScalarNode && value.Line == key.Line {
		return last
	}
	for line := key.Line + 1; line <= len(f.lines); line++ {
		if line > len(f.lines) || f.lines[line-1] >= len(f.src) {
			break
		}
		if f.isBlankOrComment(line) {
			continue
		}
		ind := f.indentOf(line)
		if ind > keyIndent || (value.Kind == yaml.SequenceNode && ind == keyIndent && f.src[f.lines[line-1]+ind] == '-') {
			last = line
			continue
		}
		break
	}
	return last
}

// SetBlock replaces the value of key (in a block mapping) with v rendered as a
// block. The key line and any comment on it are kept; a sequence keeps the
// indentation the file gave it (indentless or not).
func (f *File) SetBlock(key, value *yaml.Node, v any) error {
	keyIndent := key.Column - 1
	indent := keyIndent + 2
	if value.Kind == yaml.SequenceNode && value.Style&yaml.FlowStyle == 0 && len(value.Content) > 0 {
		indent = value.Column - 1
	} else if value.Kind == yaml.MappingNode && value.Style&yaml.FlowStyle == 0 && len(value.Content) > 0 {
		indent = value.Column - 1
	}
	body, err := render(v, indent)
	if err != nil {
		return err
	}
	last := f.lastLine(key, value)
	if value.Line > key.Line {
		// A block value: replace its lines, keep comment lines before it.
		f.edits = append(f.edits, edit{f.lines[value.Line-1], f.lineEnd(last), strings.TrimSuffix(body, "\n")})
		return nil
	}
	// An inline value (flow, scalar or empty): it moves onto lines of its own.
	start := f.offset(value.Line, value.Column)
	if value.Kind == yaml.ScalarNode && value.Tag == "!!null" && value.Value == "" {
		start = f.offset(key.Line, key.Column) + len(key.Value) + 1
		for start < len(f.src) && f.src[start-1] != ':' {
			start++
		}
	}
	end := f.lineEnd(last)
	tail := ""
	if value.Line == last {
		// Keep a trailing comment of the key line.
		rest := string(f.src[start:end])
		if i := strings.Index(rest, " #"); i >= 0 {
			tail = rest[i:]
		}
	}
	f.edits = append(f.edits, edit{start, end, tail + "\n" + strings.TrimSuffix(body, "\n")})
	return nil
}

// Insert appends key: v to a block mapping, at the indentation of its keys.
func (f *File) Insert(m *yaml.Node, key string, v any) error {
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: not a mapping", m.Line)
	}
	if m.Style&yaml.FlowStyle != 0 || len(m.Content) == 0 {
		return fmt.Errorf("line %d: cannot insert %q into a flow or empty mapping; use SetBlock on its key", m.Line, key)
	}
	first := m.Content[0]
	indent := first.Column - 1
	lastKey, lastValue := m.Content[len(m.Content)-2], m.Content[len(m.Content)-1]
	end := f.lineEnd(f.lastLine(lastKey, lastValue))
	entry, err := render(map[string]any{key: v}, indent)
	if err != nil {
		return err
	}
	f.edits = append(f.edits, edit{end, end, "\n" + strings.TrimSuffix(entry, "\n")})
	return nil
}

// render marshals v as block YAML with 2-space indentation, every line
// shifted right by indent spaces.
func render(v any, indent int) (string, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	enc.Close()
	pad := strings.Repeat(" ", indent)
	var out strings.Builder
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if line == "" {
			continue
		}
		out.WriteString(pad + line)
	}
	return out.String(), nil
}

// Bytes applies the recorded edits to the original bytes.
func (f *File) Bytes() ([]byte, error) {
	edits := append([]edit(nil), f.edits...)
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	var out bytes.Buffer
	pos := 0
	for _, e := range edits {
		if e.start < pos {
			return nil, fmt.Errorf("yamlpatch: overlapping edits at byte %d", e.start)
		}
		out.Write(f.src[pos:e.start])
		out.WriteString(e.text)
		pos = e.end
	}
	out.Write(f.src[pos:])
	return out.Bytes(), nil
}

// Changed reports whether any edit was recorded.
func (f *File) Changed() bool { return len(f.edits) > 0 }
