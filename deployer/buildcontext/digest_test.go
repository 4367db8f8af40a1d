package buildcontext

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"
)

func baseTree() fstest.MapFS {
	return fstest.MapFS{
		"Dockerfile":     {Data: []byte("FROM scratch\nCOPY . /\n")},
		"Dockerfile.alt": {Data: []byte("FROM scratch\n")},
		".dockerignore":  {Data: []byte("ignored/\n*.log\n")},
		"go.mod":         {Data: []byte("module x\n")},
		"api/main.go":    {Data: []byte("package main\n")},
		"ignored/a":      {Data: []byte("a")},
		"debug.log":      {Data: []byte("log")},
	}
}

func TestDigest(t *testing.T) {
	args := map[string]*string{"GO_IMAGE": str("golang:1.26"), "B": str("")}
	base := digest(t, baseTree(), "Dockerfile", args)
	if base != digest(t, baseTree(), "Dockerfile", args) {
		t.Fatal("two runs differ")
	}
	if d := digest(t, toDisk(t, baseTree()), "Dockerfile", args); d != base {
		t.Errorf("disk %s, memory %s: want the same", d, base)
	}
	baseTar := tarBytes(t, baseTree(), "Dockerfile")

	tests := []struct {
		name       string
		change     func(fstest.MapFS)
		dockerfile string
		args       map[string]*string
		same       bool // the digest must not change
	}{
		{name: "a file's content", change: func(m fstest.MapFS) { m["api/main.go"].Data = []byte("package main // x\n") }},
		{name: "a file's mode", change: func(m fstest.MapFS) { m["go.mod"].Mode = 0o755 }},
		{name: "a new file", change: func(m fstest.MapFS) { m["api/new.go"] = &fstest.MapFile{} }},
		{name: "a new empty dir", change: func(m fstest.MapFS) { m["api/empty"] = &fstest.MapFile{Mode: fs.ModeDir} }},
		{name: "a file renamed", change: func(m fstest.MapFS) { m["api/Main.go"] = m["api/main.go"]; delete(m, "api/main.go") }},
		{name: "content moved between files", change: func(m fstest.MapFS) {
			m["go.mod"].Data, m["api/main.go"].Data = []byte("module x\npackage main\n"), []byte("")
		}},
		{name: ".dockerignore", change: func(m fstest.MapFS) { m[".dockerignore"].Data = []byte("ignored/\n") }},
		{name: "the Dockerfile's name", dockerfile: "Dockerfile.alt"},
		{name: "a build arg's value", args: map[string]*string{"GO_IMAGE": str("golang:1.27"), "B": str("")}},
		{name: "an arg unset rather than empty", args: map[string]*string{"GO_IMAGE": str("golang:1.26"), "B": nil}},
		{name: "an arg fewer", args: map[string]*string{"GO_IMAGE": str("golang:1.26")}},
		{name: "an ignored file", same: true, change: func(m fstest.MapFS) { m["ignored/a"].Data = []byte("changed") }},
		{name: "an ignored file added", same: true, change: func(m fstest.MapFS) { m["trace.log"] = &fstest.MapFile{} }},
		{name: "permissions that normalise alike", same: true, change: func(m fstest.MapFS) { m["go.mod"].Mode = 0o400 }},
		{name: "modification times", same: true, change: func(m fstest.MapFS) { m["go.mod"].ModTime = m["go.mod"].ModTime.AddDate(1, 0, 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := baseTree()
			if tt.change != nil {
				tt.change(m)
			}
			dockerfile, a := "Dockerfile", args
			if tt.dockerfile != "" {
				dockerfile = tt.dockerfile
			}
			if tt.args != nil {
				a = tt.args
			}
			d := digest(t, m, dockerfile, a)
			if (d == base) != tt.same {
				t.Errorf("digest changed: %v, want %v", d != base, !tt.same)
			}
			// the digest follows the tar: it changes exactly when the bytes do
			if tt.dockerfile == "" && tt.args == nil {
				if tarSame := bytes.Equal(tarBytes(t, m, "Dockerfile"), baseTar); tarSame != tt.same {
					t.Errorf("tar unchanged: %v, digest unchanged: %v", tarSame, tt.same)
				}
			}
		})
	}
}

// BenchmarkDigest digests the repository's own tree, as a plan does for
// the API image on every run: without a cache, with an empty one (the first
// run: every file read, the cache written) and with a warm one (a no-op
// run: the cache file loaded, no file read).
func BenchmarkDigest(b *testing.B) {
	root := os.DirFS("../..")
	if _, err := fs.Stat(root, "Dockerfile"); err != nil {
		b.Skip("no Dockerfile at the repository root yet")
	}
	args := map[string]*string{"GO_IMAGE": str("golang:1.26")}
	run := func(b *testing.B, open func() *Cache) {
		b.ReportAllocs()
		for b.Loop() {
			c := open()
			if _, err := DigestCached(root, "Dockerfile", args, c); err != nil {
				b.Fatal(err)
			}
			if err := c.Save(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("uncached", func(b *testing.B) { run(b, func() *Cache { return nil }) })
	b.Run("cold", func(b *testing.B) {
		dir := b.TempDir()
		run(b, func() *Cache {
			os.RemoveAll(filepath.Join(dir, "buildcontext"))
			return OpenCache(dir, "../..")
		})
	})
	b.Run("warm", func(b *testing.B) {
		dir := b.TempDir()
		run(b, func() *Cache { return OpenCache(dir, "../..") })
	})
}

// BenchmarkDigestWholeTree digests the repository with nothing ignored: the
// cost of hashing, without the .dockerignore's savings.
func BenchmarkDigestWholeTree(b *testing.B) {
	root := noIgnore{os.DirFS("../..")}
	if _, err := fs.Stat(root, "Dockerfile"); err != nil {
		b.Skip("no Dockerfile at the repository root yet")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Digest(root, "Dockerfile", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// noIgnore hides the .dockerignore.
type noIgnore struct{ fs.FS }

func (n noIgnore) Open(name string) (fs.File, error) {
	if name == ".dockerignore" {
		return nil, fs.ErrNotExist
	}
	return n.FS.Open(name)
}

func (n noIgnore) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(n.FS, name)
	if name == "." {
		entries = slices.DeleteFunc(entries, func(e fs.DirEntry) bool { return e.Name() == ".dockerignore" })
	}
	return entries, err
}
