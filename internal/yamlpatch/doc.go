// Package yamlpatch edits YAML files the way a careful person would: it
// changes only the bytes of the values it is asked to change, so comments,
// key order, indentation, quoting and the other documents of a
// multi-document file stay exactly as they were.
//
// What comes in: a file's bytes, parsed with yaml.v3 only to locate nodes.
// What goes out: the same bytes with span edits applied — a scalar replaced in
// its own quoting style, a block value re-rendered at the indentation the file
// already uses (indentless sequences included), a key appended to a block
// mapping. Nothing is re-marshalled as a whole. Pure: no I/O, no logging.
package yamlpatch
