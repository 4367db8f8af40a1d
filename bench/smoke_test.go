package bench

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
)

type testLog struct{ t *testing.T }

func (w testLog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// TestSmoke runs both commands once, briefly, on one shared deployment, so
// that the harness cannot rot: both Markdown files must come out with their
// tables, and nothing the run created may be left on the engine. It needs
// what `make test` provides (Docker, the stand-in images, wrk, compose,
// MariaDB and Redis on loopback). The numbers mean nothing.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys the stack twice: not with -short")
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()
	h, err := New(ctx, Config{Repo: filepath.Dir(wd), Out: out, Smoke: true, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			h.Close()
		}
	}()
	b, err := h.Benchmarks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteFile(out, "benchmarks.md"); err != nil {
		t.Fatal(err)
	}
	r, err := h.Reliability(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.WriteFile(out, "reliability.md"); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range h.projects {
		names = append(names, p.Name)
	}
	tmp, id := h.tmp, h.id
	h.Close()
	closed = true
	t.Logf("smoke run: %.0fs", time.Since(start).Seconds())

	for file, sections := range map[string][]string{
		"benchmarks.md":  {"Machine and run", "1. No-op", "2. Cold", "3. Failed requests", "4. API image", "5. API throughput", "6. `GET /healthz` through the edge", "7. Cold", "8. Logins"},
		"reliability.md": {"Machine and run", "1. Load", "2. Faults", "3. Bad input", "4. Data safety", "5. Isolation"},
	} {
		b, err := os.ReadFile(filepath.Join(out, file))
		if err != nil {
			t.Fatal(err)
		}
		md := string(b)
		t.Logf("%s:\n%s", file, md)
		parts := regexp.MustCompile(`(?m)^## `).Split(md, -1)[1:]
		if len(parts) != len(sections) {
			t.Errorf("%s: %d sections, want %d:\n%s", file, len(parts), len(sections), md)
			continue
		}
		for i, want := range sections {
			if !strings.HasPrefix(parts[i], want) {
				t.Errorf("%s: section %d is %q, want %q", file, i+1, strings.SplitN(parts[i], "\n", 2)[0], want)
			}
			// Every section has a table with a header, a rule and a row.
			if !regexp.MustCompile(`(?m)^\| .+\n\|( --- \|)+\n\| .+`).MatchString(parts[i]) {
				t.Errorf("%s: section %q has no table with rows:\n%s", file, want, parts[i])
			}
		}
		if file == "benchmarks.md" {
			// The figures the comparison promises: which compose ran, the
			// writes of a no-op up, the critical path, goals with met or not.
			for _, want := range []string{"Compose command: `", "engine writes per up", "median run (run ", "HAProxy on the host", "| met |", "goal"} {
				if !strings.Contains(md, want) && !(want == "| met |" && strings.Contains(md, "| not met |")) {
					t.Errorf("benchmarks.md: no %q", want)
				}
			}
		}
		if strings.Contains(md, "| n/a |") {
			t.Errorf("%s: a measurement is missing (n/a):\n%s", file, md)
		}
	}

	// Nothing of the run is left.
	engine, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	ctx2 := context.Background()
	for _, name := range names {
		f := filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+name))
		cs, _ := engine.ContainerList(ctx2, container.ListOptions{All: true, Filters: f})
		ns, _ := engine.NetworkList(ctx2, network.ListOptions{Filters: f})
		vs, _ := engine.VolumeList(ctx2, volume.ListOptions{Filters: f})
		if len(cs)+len(ns)+len(vs.Volumes) > 0 {
			t.Errorf("project %s left %d containers, %d networks, %d volumes", name, len(cs), len(ns), len(vs.Volumes))
		}
		if _, err := engine.ImageInspect(ctx2, "swbench/api:"+name); err == nil {
			t.Errorf("image swbench/api:%s is left", name)
		}
	}
	if _, err := os.Stat(tmp); err == nil {
		t.Errorf("temporary folder %s is left", tmp)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(wd), "stack", ".compose-v1-"+id+".yaml")); len(m) > 0 {
		t.Errorf("left in stack/: %v", m)
	}
}
