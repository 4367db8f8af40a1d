package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// fakeCommands puts scripts named like the compose commands first on PATH.
func fakeCommands(t *testing.T, scripts map[string]string) {
	dir := t.TempDir()
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
}

const (
	v1Script    = `echo "docker-compose version 1.29.2, build unknown"`
	v5Plugin    = `[ "$1 $2" = "compose version" ] && echo "Docker Compose version v5.6.0" && exit 0; exit 1`
	noPlugin    = `echo "docker: unknown command: docker compose" >&2; exit 1`
	v2Dashed    = `echo "Docker Compose version v2.29.7"`
	failCommand = `exit 1`
)

// The comparison prefers the v2+ plugin, keeps v1 as a second column when
// both are there, and falls back to v1 alone when there is no plugin.
func TestDetectCompose(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name          string
		scripts       map[string]string
		v1spec        string
		first, second string // second "" for none
		firstV1       bool
	}{
		{"plugin and v1", map[string]string{"docker": v5Plugin, "docker-compose": v1Script}, "", "docker compose", "docker-compose", false},
		{"plugin and v1, second column off", map[string]string{"docker": v5Plugin, "docker-compose": v1Script}, "none", "docker compose", "", false},
		{"plugin only", map[string]string{"docker": v5Plugin}, "", "docker compose", "", false},
		{"v1 only: fallback", map[string]string{"docker": noPlugin, "docker-compose": v1Script}, "", "docker-compose", "", true},
		{"v2 standalone, no plugin", map[string]string{"docker": noPlugin, "docker-compose": v2Dashed}, "", "docker-compose", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			fakeCommands(t, c.scripts)
			first, second, err := DetectCompose(ctx, "", c.v1spec, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if first.String() != c.first || first.V1 != c.firstV1 {
				t.Errorf("first = %s (v1 %v), want %s (v1 %v)", first, first.V1, c.first, c.firstV1)
			}
			got := ""
			if second != nil {
				got = second.String()
				if !second.V1 {
					t.Errorf("second %s is not v1", got)
				}
			}
			if got != c.second {
				t.Errorf("second = %q, want %q", got, c.second)
			}
		})
	}
	fakeCommands(t, map[string]string{"docker": failCommand})
	if _, _, err := DetectCompose(ctx, "", "", t.TempDir()); err == nil {
		t.Error("no compose at all: no error")
	}
}
