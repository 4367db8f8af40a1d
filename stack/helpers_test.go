package stack

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// realCompose is the lead's stack/compose.yaml, the file under test.
func realCompose(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// builtinTree stands in for the binary's embedded repository files.
func builtinTree(t testing.TB) fstest.MapFS {
	return fstest.MapFS{
		"Dockerfile":            {Data: []byte("FROM scratch # built-in\n")},
		".dockerignore":         {Data: []byte("**/*_test.go\n")},
		"go.mod":                {Data: []byte("module example\n")},
		"api/main.go":           {Data: []byte("package main\n")},
		"stack/compose.yaml":    {Data: realCompose(t)},
		"stack/offline.env":     {Data: []byte("MYSQL_IMAGE=ignored\n")},
		"stack/secrets/ignored": {Data: []byte("x")},
	}
}

// writeFiles lays out files (slash paths) under a new temporary directory.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkout is a directory laid out like the repository, with the real file.
func checkout(t testing.TB, extra map[string]string) string {
	files := map[string]string{
		"Dockerfile":         "FROM scratch # on disk\n",
		"stack/compose.yaml": string(realCompose(t)),
	}
	for k, v := range extra {
		files[k] = v
	}
	return writeFiles(t, files)
}

func mustLoad(t testing.TB, opts Options) *Stack {
	t.Helper()
	s, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

func readFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
