package buildcontext

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestDockerignore(t *testing.T) {
	tree := func(ignore string) fstest.MapFS {
		m := fstest.MapFS{
			"Dockerfile":                {Data: []byte("FROM scratch\n")},
			"README.md":                 {Data: []byte("readme")},
			"go.mod":                    {Data: []byte("module x\n")},
			"api/main.go":               {Data: []byte("package main")},
			"api/main_test.go":          {Data: []byte("package main")},
			"api/deep/x/y_test.go":      {Data: []byte("package x")},
			"api/deep/x/y.go":           {Data: []byte("package x")},
			"api/testdata/golden.txt":   {Data: []byte("g")},
			"secrets/token":             {Data: []byte("s")},
			"build/Dockerfile.dev":      {Data: []byte("FROM scratch\n")},
			"build/notes.txt":           {Data: []byte("n")},
			"docs/keep/important.md":    {Data: []byte("i")},
			"docs/other/unimportant.md": {Data: []byte("u")},
		}
		if ignore != "" {
			m[".dockerignore"] = &fstest.MapFile{Data: []byte(ignore)}
		}
		return m
	}
	tests := []struct {
		name       string
		ignore     string
		dockerfile string
		want       []string
	}{
		{name: "no .dockerignore", dockerfile: "Dockerfile", want: []string{
			"Dockerfile", "README.md", "api/", "api/deep/", "api/deep/x/", "api/deep/x/y.go", "api/deep/x/y_test.go",
			"api/main.go", "api/main_test.go", "api/testdata/", "api/testdata/golden.txt", "build/", "build/Dockerfile.dev",
			"build/notes.txt", "docs/", "docs/keep/", "docs/keep/important.md", "docs/other/", "docs/other/unimportant.md",
			"go.mod", "secrets/", "secrets/token"}},
		{name: "plain patterns and **", dockerfile: "Dockerfile",
			ignore: "# comment\nsecrets\n*.md\n**/*_test.go\napi/testdata\ndocs\nbuild/\n", want: []string{
				".dockerignore", "Dockerfile", "api/", "api/deep/", "api/deep/x/", "api/deep/x/y.go", "api/main.go", "go.mod"}},
		{name: "allow-list with exceptions", dockerfile: "Dockerfile",
			ignore: "*\n!go.mod\n!api/\napi/**/*_test.go\n!docs/keep\n", want: []string{
				".dockerignore", "Dockerfile", "api/", "api/deep/", "api/deep/x/", "api/deep/x/y.go", "api/main.go",
				"api/testdata/", "api/testdata/golden.txt", "docs/keep/", "docs/keep/important.md", "go.mod"}},
		{name: "an exception re-includes one file of an ignored dir", dockerfile: "Dockerfile",
			ignore: "build\n!build/notes.txt\nsecrets/*\n!secrets/token\n", want: []string{
				".dockerignore", "Dockerfile", "README.md", "api/", "api/deep/", "api/deep/x/", "api/deep/x/y.go",
				"api/deep/x/y_test.go", "api/main.go", "api/main_test.go", "api/testdata/", "api/testdata/golden.txt",
				"build/notes.txt", "docs/", "docs/keep/", "docs/keep/important.md", "docs/other/", "docs/other/unimportant.md",
				"go.mod", "secrets/", "secrets/token"}},
		{name: "Dockerfile and .dockerignore kept though ignored", dockerfile: "Dockerfile",
			ignore: "*\n", want: []string{".dockerignore", "Dockerfile"}},
		{name: "Dockerfile kept inside an ignored dir", dockerfile: "build/Dockerfile.dev",
			ignore: "build\n*.md\n.dockerignore\n", want: []string{
				".dockerignore", "Dockerfile", "api/", "api/deep/", "api/deep/x/", "api/deep/x/y.go", "api/deep/x/y_test.go",
				"api/main.go", "api/main_test.go", "api/testdata/", "api/testdata/golden.txt", "build/Dockerfile.dev",
				// *.md is anchored at the root, as in docker: the docs stay
				"docs/", "docs/keep/", "docs/keep/important.md", "docs/other/", "docs/other/unimportant.md",
				"go.mod", "secrets/", "secrets/token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, line := range listing(t, tarBytes(t, tree(tt.ignore), tt.dockerfile)) {
				got = append(got, strings.Fields(line)[0])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("entries:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// The same tree gives the same bytes, from memory as from disk, run after run.
func TestTarDeterministic(t *testing.T) {
	m := fstest.MapFS{
		"Dockerfile":                             {Data: []byte("FROM scratch\n"), Mode: 0o444, ModTime: time.Now()},
		"run.sh":                                 {Data: []byte("#!/bin/sh\n"), Mode: 0o555},
		"a/b/c.txt":                              {Data: bytes.Repeat([]byte("x"), 100000), Mode: 0o600},
		"a/empty":                                {Mode: fs.ModeDir | 0o700},
		strings.Repeat("long/", 30) + "name.txt": {Data: []byte("deep")},
	}
	first := tarBytes(t, m, "Dockerfile")
	if again := tarBytes(t, m, "Dockerfile"); !bytes.Equal(first, again) {
		t.Error("two runs differ")
	}
	if disk := tarBytes(t, toDisk(t, m), "Dockerfile"); !bytes.Equal(first, disk) {
		t.Errorf("disk and memory differ:\n%q\n%q", listing(t, disk), listing(t, first))
	}
	want := []string{"Dockerfile 644", "a/ 755", "a/b/ 755", "a/b/c.txt 644", "a/empty/ 755"}
	got := listing(t, first)
	if !slices.Equal(got[:5], want) || got[len(got)-1] != "run.sh 755" {
		t.Errorf("entries = %q, want %q ... run.sh 755", got, want)
	}
	tr := tar.NewReader(bytes.NewReader(first))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.ModTime.Unix() != 0 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mtime %v uid %d gid %d uname %q gname %q, want all zero", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
	}
}

func TestTarSymlink(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("Dockerfile", filepath.Join(dir, "link")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	got := listing(t, tarBytes(t, os.DirFS(dir), "Dockerfile"))
	if want := []string{"Dockerfile 644", "link 777 -> Dockerfile"}; !slices.Equal(got, want) {
		t.Errorf("entries = %q, want %q", got, want)
	}
}

func TestTarErrors(t *testing.T) {
	ok := fstest.MapFS{"Dockerfile": {Data: []byte("FROM scratch\n")}}
	tests := []struct {
		name       string
		fsys       fs.FS
		dockerfile string
		want       string
	}{
		{"no Dockerfile", fstest.MapFS{"x": {}}, "Dockerfile", "dockerfile Dockerfile: open Dockerfile: file does not exist"},
		{"Dockerfile outside", ok, "../Dockerfile", `dockerfile "../Dockerfile": must be a path inside the build context`},
		{"Dockerfile absolute", ok, "/Dockerfile", `dockerfile "/Dockerfile": must be a path inside the build context`},
		{"Dockerfile a directory", fstest.MapFS{"Dockerfile/x": {}}, "Dockerfile", "dockerfile Dockerfile: not a regular file"},
		{"bad pattern", fstest.MapFS{"Dockerfile": {}, ".dockerignore": {Data: []byte("a/[\n")}}, "Dockerfile", "parse .dockerignore: syntax error in pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Tar(tt.fsys, tt.dockerfile)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Tar: %v, want %q", err, tt.want)
			}
			_, err = Digest(tt.fsys, tt.dockerfile, nil)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Digest: %v, want %q", err, tt.want)
			}
		})
	}
}

// failingFS fails to open one file, after Tar has started streaming.
type failingFS struct{ fstest.MapFS }

func (f failingFS) Open(name string) (fs.File, error) {
	if name == "b.txt" {
		return nil, errors.New("disk on fire")
	}
	return f.MapFS.Open(name)
}

func TestTarErrorReachesReader(t *testing.T) {
	fsys := failingFS{fstest.MapFS{"Dockerfile": {Data: []byte("FROM scratch\n")}, "b.txt": {Data: []byte("b")}}}
	rc, err := Tar(fsys, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); err == nil || err.Error() != "open b.txt: disk on fire" {
		t.Errorf("read: %v, want the open error", err)
	}
}

// A reader that stops early ends the writer: closing the pipe unblocks it.
func TestTarCloseEarly(t *testing.T) {
	m := fstest.MapFS{"Dockerfile": {Data: []byte("FROM scratch\n")}, "big": {Data: make([]byte, 10<<20)}}
	rc, err := Tar(m, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
}
