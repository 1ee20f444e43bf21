package clip

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Runes is s in at most n runes: cut to n-1 and "…" when it is longer.
func Runes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:max(n-1, 0)]) + "…"
}

// Bytes is s in at most n bytes, cut on a rune boundary (for fields whose
// limit is in bytes, such as an Event's note).
func Bytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Printable is s with every control character and bidirectional override
// replaced by repl.
func Printable(s string, repl rune) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return repl
		}
		return r
	}, s)
}
