// Package clip bounds and cleans text someone else wrote (annotations,
// alert reasons, event data) before it is shown, logged or sent on: Runes
// and Bytes cut it, Printable replaces what a terminal or a chat would
// act on (control characters, bidirectional overrides).
package clip
