//go:build linux || darwin || freebsd || netbsd

package buildcontext

import (
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// countingFS records which files had their contents read.
type countingFS struct {
	fs.FS
	reads map[string]int
}

func newCountingFS(dir string) *countingFS {
	return &countingFS{FS: os.DirFS(dir), reads: map[string]int{}}
}

func (c *countingFS) Open(name string) (fs.File, error) {
	f, err := c.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return &countingFile{File: f, name: name, fs: c}, nil
}

// read lists the files read since the last call, and forgets them.
func (c *countingFS) read() []string {
	names := slices.Sorted(maps.Keys(c.reads))
	clear(c.reads)
	return names
}

type countingFile struct {
	fs.File
	name string
	fs   *countingFS
}

func (f *countingFile) Read(p []byte) (int, error) {
	f.fs.reads[f.name]++
	return f.File.Read(p)
}

func (f *countingFile) ReadDir(n int) ([]fs.DirEntry, error) {
	return f.File.(fs.ReadDirFile).ReadDir(n)
}

// later opens the cache as a run an hour from now would: the files just
// written are then old enough for their sums to be kept.
func later(dir, root string) *Cache {
	c := OpenCache(dir, root)
	c.clock = func() time.Time { return time.Now().Add(time.Hour) }
	return c
}

func cachedDigest(t *testing.T, fsys fs.FS, c *Cache) string {
	t.Helper()
	d, err := DigestCached(fsys, "Dockerfile", nil, c)
	if err != nil {
		t.Fatalf("DigestCached: %v", err)
	}
	if err := c.Save(); err != nil {
		t.Fatalf("Save: %v", err)
	}
	return d
}

func TestDigestCacheReadsNothingUnchanged(t *testing.T) {
	root, cacheDir := toDir(t, baseTree()), t.TempDir()
	fsys := newCountingFS(root)
	want := digest(t, fsys, "Dockerfile", nil)
	fsys.read()

	if d := cachedDigest(t, fsys, later(cacheDir, root)); d != want {
		t.Fatalf("cold cached digest %s, uncached %s", d, want)
	}
	if got := fsys.read(); !slices.Contains(got, "api/main.go") {
		t.Fatalf("cold run read %q, want every file", got)
	}
	if d := cachedDigest(t, fsys, later(cacheDir, root)); d != want {
		t.Fatalf("warm digest %s, want %s", d, want)
	}
	// .dockerignore is parsed on every run, to know what to walk
	if got := fsys.read(); !slices.Equal(got, []string{".dockerignore"}) {
		t.Errorf("warm run read %q, want only .dockerignore", got)
	}
}

// Files changed just now are read again next time: their timestamps cannot
// tell a second write within the same tick from the first.
func TestDigestCacheKeepsNoRecentFile(t *testing.T) {
	root, cacheDir := toDir(t, baseTree()), t.TempDir()
	fsys := newCountingFS(root)
	cachedDigest(t, fsys, OpenCache(cacheDir, root))
	fsys.read()
	cachedDigest(t, fsys, OpenCache(cacheDir, root))
	if got := fsys.read(); !slices.Contains(got, "api/main.go") {
		t.Errorf("second run read %q: a file written just now was trusted from the cache", got)
	}
}

func TestDigestCacheSeesInPlaceEdit(t *testing.T) {
	root, cacheDir := toDir(t, baseTree()), t.TempDir()
	fsys := os.DirFS(root)
	before := cachedDigest(t, fsys, later(cacheDir, root))

	p := filepath.Join(root, "api", "main.go")
	old, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	// same size, same mtime, same inode: only the content and the ctime
	// differ. The kernel's clock is coarse: write until ctime has moved.
	for i := 0; ; i++ {
		if err := os.WriteFile(p, []byte("package mian\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old.ModTime(), old.ModTime()); err != nil {
			t.Fatal(err)
		}
		now, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if now.Size() != old.Size() || !now.ModTime().Equal(old.ModTime()) {
			t.Fatalf("size %d mtime %v, want %d %v", now.Size(), now.ModTime(), old.Size(), old.ModTime())
		}
		if ctime(now) != ctime(old) {
			break
		}
		if i == 100 {
			t.Fatal("ctime never moved")
		}
		time.Sleep(10 * time.Millisecond)
	}

	after := cachedDigest(t, fsys, later(cacheDir, root))
	if after == before {
		t.Fatal("an in-place edit with its mtime set back left the digest unchanged")
	}
	if want := digest(t, fsys, "Dockerfile", nil); after != want {
		t.Errorf("cached digest %s, uncached %s", after, want)
	}
}

func ctime(info fs.FileInfo) int64 {
	k, _ := fileKey(info)
	return k.Ctime
}

func TestDigestCacheIgnoresBadFile(t *testing.T) {
	root := toDir(t, baseTree())
	fsys := newCountingFS(root)
	want := digest(t, fsys, "Dockerfile", nil)

	// a good cache file, to spoil: were the spoilt one trusted, its zeroed
	// sums would change the digest
	good := t.TempDir()
	cachedDigest(t, fsys, later(good, root))
	data, err := os.ReadFile(OpenCache(good, root).file)
	if err != nil {
		t.Fatal(err)
	}
	var f cacheFile
	if err := json.Unmarshal(data, &f); err != nil || len(f.Files) == 0 {
		t.Fatalf("cache file %s: %v", data, err)
	}
	zeroed := func(version int) string {
		g := cacheFile{Version: version, Root: f.Root, Files: map[string]record{}}
		for name, r := range f.Files {
			r.Sum = strings.Repeat("0", 64)
			g.Files[name] = r
		}
		b, _ := json.Marshal(g)
		return string(b)
	}

	for name, content := range map[string]string{
		"garbage":       "\x00\x01not json",
		"truncated":     zeroed(cacheVersion)[:len(data)/2],
		"other version": zeroed(cacheVersion + 1),
		"short sums":    strings.ReplaceAll(zeroed(cacheVersion), strings.Repeat("0", 64), "00"),
	} {
		t.Run(name, func(t *testing.T) {
			cacheDir := t.TempDir()
			file := OpenCache(cacheDir, root).file
			if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			fsys.read()
			if d := cachedDigest(t, fsys, later(cacheDir, root)); d != want {
				t.Errorf("digest %s, want %s", d, want)
			}
			if got := fsys.read(); !slices.Contains(got, "api/main.go") {
				t.Errorf("read %q, want every file", got)
			}
			// and it was replaced by a good one
			cachedDigest(t, fsys, later(cacheDir, root))
			if got := fsys.read(); !slices.Equal(got, []string{".dockerignore"}) {
				t.Errorf("next run read %q, want only .dockerignore", got)
			}
		})
	}
}

// A sum recorded for another tree at the same path is not used.
func TestDigestCacheRootIsolated(t *testing.T) {
	a, b, cacheDir := toDir(t, baseTree()), toDir(t, baseTree()), t.TempDir()
	if OpenCache(cacheDir, a).file == OpenCache(cacheDir, b).file {
		t.Fatal("two roots share a cache file")
	}
}
