package stack

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// FuzzLoad feeds Load arbitrary Compose files: it must never panic, and it
// returns either a stack or an error, never both or neither. The seeds (the
// real file and hostile variants) run under plain go test.
func FuzzLoad(f *testing.F) {
	real := realCompose(f)
	f.Add(real)
	f.Add(bytes.ReplaceAll(real, []byte("5003:5003"), []byte("abc")))
	f.Add(bytes.ReplaceAll(real, []byte("services:"), []byte("services: &s\n  loop: *s\n")))
	f.Add(real[:len(real)/2])
	for _, s := range []string{
		"",
		"\x00",
		"services:\n  api:\n    image: x\n    ports: [\"99999999999999999999:1\"]\n",
		"services:\n  a: &a {image: x, <<: *a}\n",
		"x: &a [*a]\nservices: {}\n",
		"a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nservices:\n  s:\n    image: x\n    command: *c\n",
		"services:\n  api:\n    image: ${A:?${B:?${C}}}\n",
		"services:\n  api:\n    build: {context: /, dockerfile: ../../etc/passwd}\n",
		"services:\n  api:\n    image: x\n    depends_on: {api: {condition: service_started}}\n",
		"services:\n  api:\n    image: x\n    volumes: [\"::::\"]\n    ports: [\"-1:-1/udp\"]\n",
		"services:\n  api:\n    image: x\n    labels: {\"a.b\": 1, \"a\": {b: 1}}\n",
		"services:\n  " + strings.Repeat("a", 10000) + ":\n    image: x\n",
		strings.Repeat("- ", 500) + "x\n",
		"services:\n  api:\n    image: x\n---\nservices:\n  api:\n    image: [1]\n",
		"? [a, b]\n: c\nservices: {}\n",
		"services:\n  api:\n    image: x\n    healthcheck: {test: []}\n    restart: on-failure:-1\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load(context.Background(), Options{
			Files: []string{"-"}, Stdin: bytes.NewReader(data), WorkDir: dir,
		})
		switch {
		case s == nil && err == nil:
			t.Fatal("neither a stack nor an error")
		case s != nil && err != nil:
			t.Fatalf("both a stack and an error: %v", err)
		case s != nil && s.Project == nil:
			t.Fatal("a stack without a project")
		}
		var fe *FileError
		if errors.As(err, &fe) && (fe.File == "" || fe.Msg == "" || fe.Line < 0) {
			t.Fatalf("incomplete FileError %#v", fe)
		}
	})
}
