package clip

import "testing"

func TestClip(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"short enough", Runes("héllo", 5), "héllo"},
		{"cut with an ellipsis, n runes in all", Runes("héllo wörld", 6), "héllo…"},
		{"runes, not bytes", Runes("ääää", 3), "ää…"},
		{"bytes on a rune boundary", Bytes("aä", 2), "a"},
		{"bytes short enough", Bytes("aä", 3), "aä"},
		{"controls and overrides", Printable("a\x1b[31m\u202eb\tc", ' '), "a [31m b c"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}
