package bench

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

type fuzzTarget struct{ pkg, name string }

var fuzzFuncRe = regexp.MustCompile(`^func (Fuzz\w+)\(\w+ \*testing\.F\)`)

// fuzzTargets finds every fuzz target of the repository (outside bench/).
func fuzzTargets(repo string) ([]fuzzTarget, error) {
	var out []fuzzTarget
	err := filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			n := d.Name()
			if path != repo && (strings.HasPrefix(n, ".") || n == "testdata" || n == "bench" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if m := fuzzFuncRe.FindStringSubmatch(sc.Text()); m != nil {
				rel, _ := filepath.Rel(repo, filepath.Dir(path))
				out = append(out, fuzzTarget{pkg: "./" + filepath.ToSlash(rel), name: m[1]})
			}
		}
		return sc.Err()
	})
	sort.Slice(out, func(i, j int) bool { return out[i].pkg+out[i].name < out[j].pkg+out[j].name })
	return out, err
}

// fuzzWhat says what a target covers, for the table.
func fuzzWhat(t fuzzTarget) string {
	switch {
	case strings.Contains(t.name, "Body"):
		return "request bodies"
	case strings.Contains(t.name, "ListQuery"):
		return "query parsing (`filters`, `options`, `sort_by`, `max_items`)"
	case strings.Contains(t.name, "Number"):
		return "numbers in queries and data"
	case strings.Contains(t.name, "Token"):
		return "token parsing"
	case strings.Contains(t.name, "Object"):
		return "upstream (SWAPI) objects"
	case strings.HasPrefix(t.pkg, "./stack") && strings.Contains(t.name, "Load"):
		return "the Compose loader"
	}
	return ""
}

var fuzzProgressRe = regexp.MustCompile(`elapsed: (\S+), execs: (\d+) .*new interesting: (\d+)`)

// fuzz runs every target for the configured time and tabulates the result.
func (h *Harness) fuzz(ctx context.Context) (*Table, error) {
	targets, err := fuzzTargets(h.cfg.Repo)
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("no fuzz targets found")
	}
	t := &Table{Head: []string{"target", "package", "covers", "fuzz time", "executions", "new interesting inputs", "crashes", "result"}}
	for _, tg := range targets {
		h.logf("fuzz %s %s", tg.pkg, tg.name)
		cctx, cancel := context.WithTimeout(ctx, h.cfg.FuzzTime+10*time.Minute)
		cmd := exec.CommandContext(cctx, "go", "test", "-run", "^$", "-fuzz", "^"+tg.name+"$", "-fuzztime", h.cfg.FuzzTime.String(), tg.pkg)
		cmd.Dir = h.cfg.Repo
		cmd.WaitDelay = 10 * time.Second
		out, err := cmd.CombinedOutput()
		cancel()
		execs, interesting, elapsed := "?", "?", "?"
		for _, m := range fuzzProgressRe.FindAllStringSubmatch(string(out), -1) {
			elapsed, execs, interesting = m[1], m[2], m[3]
		}
		crashes, result := "0", "ok"
		if err != nil {
			crashes = "1"
			result = "FAIL: " + failureLine(string(out))
			if !strings.Contains(string(out), "--- FAIL") {
				crashes, result = "?", "did not run: "+failureLine(string(out))
			}
		}
		t.Add("`"+tg.name+"`", "`"+strings.TrimPrefix(tg.pkg, "./")+"`", fuzzWhat(tg), elapsed, execs, interesting, crashes, result)
	}
	return t, nil
}

func failureLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if strings.Contains(l, "Failing input written to") || strings.HasPrefix(l, "panic:") || strings.Contains(l, "--- FAIL") {
			return l
		}
	}
	return tail(out, 1)
}
