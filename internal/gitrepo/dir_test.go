package gitrepo

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestDir(t *testing.T) {
	root := t.TempDir()
	for p, body := range map[string]string{"apps/hello/service.yaml": "a", "apps/cart/service.yaml": "a", ".git/config": "x", "README.md": "b"} {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "apps", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	d := Dir(root)
	all, err := d.List(".")
	if want := []string{"README.md", "apps/cart/service.yaml", "apps/hello/service.yaml"}; err != nil || !slices.Equal(all, want) {
		t.Errorf("List(.) = %v, %v; want %v (no .git, no symbolic link)", all, err, want)
	}
	if apps, err := d.List("apps/hello"); err != nil || !slices.Equal(apps, []string{"apps/hello/service.yaml"}) {
		t.Errorf("List(apps/hello) = %v, %v", apps, err)
	}
	for _, p := range []string{"../secret", "/etc/passwd", "apps/link.yaml", "nope.yaml"} {
		if _, err := d.Read(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Read(%q) = %v, want not found", p, err)
		}
		if _, ok := d.Version(p); ok {
			t.Errorf("Version(%q) found", p)
		}
	}
	v1, _ := d.Version("apps/hello/service.yaml")
	v2, _ := d.Version("apps/cart/service.yaml")
	v3, _ := d.Version("README.md")
	if v1 != v2 || v1 == v3 {
		t.Errorf("versions %s %s %s: equal content, equal version", v1, v2, v3)
	}
	if err := d.Write(map[string][]byte{"apps/hello/service.yaml": []byte("c")}); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(root, "apps/hello/service.yaml"))
	if b, _ := d.Read("apps/hello/service.yaml"); string(b) != "c" || fi.Mode().Perm() != 0o600 {
		t.Errorf("after Write: %q, mode %v; want c, the file's mode kept", b, fi.Mode().Perm())
	}
	for _, p := range []string{"../escape", "apps/link.yaml"} {
		if err := d.Write(map[string][]byte{p: []byte("x")}); err == nil {
			t.Errorf("Write(%q) succeeded", p)
		}
	}
	if b, _ := os.ReadFile(outside); string(b) != "s" {
		t.Errorf("the file behind the link was written: %q", b)
	}
}
