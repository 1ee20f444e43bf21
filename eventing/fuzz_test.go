package eventing

import (
	"encoding/json"
	"errors"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// FuzzDecode feeds structured-mode CloudEvents to every decoder: none may
// panic, every failure must be ErrMalformed, and whatever decodes must validate
// and rebuild into an event with the same subject.
func FuzzDecode(f *testing.F) {
	for _, d := range samples(f) {
		e, err := New("fuzz", d, now)
		if err != nil {
			f.Fatal(err)
		}
		raw, _ := json.Marshal(e)
		f.Add(raw)
	}
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"/x","type":"dev.slipstream.image.pushed.v1","subject":"r.example.com/a","data":{"image":"r.example.com/a:1@sha256:` + "0000000000000000000000000000000000000000000000000000000000000000" + `"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var e cloudevents.Event
		if err := json.Unmarshal(raw, &e); err != nil {
			return
		}
		check := func(d Data, err error) {
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("decode error is not ErrMalformed: %v", err)
				}
				return
			}
			if err := d.Validate(); err != nil {
				t.Fatalf("decoded payload does not validate: %v", err)
			}
			back, err := New("fuzz", d, now)
			if err != nil || back.Subject() != e.Subject() {
				t.Fatalf("decoded payload does not rebuild: %v (subject %q vs %q)", err, back.Subject(), e.Subject())
			}
		}
		d1, err := Decode[ImagePushed](e)
		check(d1, err)
		d2, err := Decode[ManifestCommitted](e)
		check(d2, err)
		d3, err := Decode[TrafficShifted](e)
		check(d3, err)
		d4, err := Decode[RolloutPromoted](e)
		check(d4, err)
		d5, err := Decode[RolloutRolledBack](e)
		check(d5, err)
	})
}
