package buildcontext

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// tarBytes is the whole stream Tar sends.
func tarBytes(t testing.TB, fsys fs.FS, dockerfile string) []byte {
	t.Helper()
	rc, err := Tar(fsys, dockerfile)
	if err != nil {
		t.Fatalf("Tar: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read tar: %v", err)
	}
	return b
}

// listing is the tar's entries, one "name mode [-> link]" each.
func listing(t testing.TB, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("%s %o", h.Name, h.Mode)
		if h.Linkname != "" {
			line += " -> " + h.Linkname
		}
		out = append(out, line)
	}
}

func digest(t testing.TB, fsys fs.FS, dockerfile string, args map[string]*string) string {
	t.Helper()
	d, err := Digest(fsys, dockerfile, args)
	if err != nil {
		t.Fatalf("Digest: %v", err)
	}
	return d
}

// toDisk writes a MapFS out, keeping its modes, and returns os.DirFS of it.
func toDisk(t testing.TB, m fstest.MapFS) fs.FS {
	t.Helper()
	return os.DirFS(toDir(t, m))
}

// toDir writes a MapFS out, keeping its modes, into a new directory.
func toDir(t testing.TB, m fstest.MapFS) string {
	t.Helper()
	dir := t.TempDir()
	for name, f := range m {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if f.Mode.IsDir() {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		perm := f.Mode.Perm()
		if perm == 0 {
			perm = 0o644
		}
		if err := os.WriteFile(p, f.Data, perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	return dir
}

func str(s string) *string { return &s }
