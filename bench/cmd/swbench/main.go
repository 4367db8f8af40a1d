// Command swbench produces the project's figures: `swbench bench` writes
// bench/results/benchmarks.md, `swbench reliability` writes
// bench/results/reliability.md, `swbench all` both from one deployment;
// `swbench swarm` writes bench/results/swarm.md from the swarm lab of
// scripts/swarm-lab.sh (taking its lock, /tmp/swlab.lock). Run it from the
// repository (make bench, make reliability, make bench-swarm). -smoke runs
// bench and reliability once and briefly, as CI does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/fathat101/swdeploy/bench"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "swbench:", err)
		os.Exit(1)
	}
}

func usage() error {
	return errors.New("usage: swbench bench|reliability|all|swarm [flags] (swbench bench -h for the flags)")
}

func run(args []string) error {
	if len(args) == 0 {
		return usage()
	}
	what := args[0]
	if what != "bench" && what != "reliability" && what != "all" && what != "swarm" {
		return usage()
	}
	var cfg bench.Config
	fs := flag.NewFlagSet("swbench "+what, flag.ContinueOnError)
	fs.StringVar(&cfg.Out, "out", "", "folder for the Markdown files (default: bench/results of the repository)")
	fs.BoolVar(&cfg.Smoke, "smoke", false, "one short run of everything (CI); the numbers mean nothing")
	fs.IntVar(&cfg.Runs, "runs", 0, "runs of each compared operation (default 5; smoke 1)")
	fs.IntVar(&cfg.NoopPerRun, "noop-per-run", 0, "no-op ups per run and tool (default 3; smoke 1)")
	fs.IntVar(&cfg.WrkRuns, "wrk-runs", 0, "runs of each wrk and login measurement (default 3; smoke 1)")
	fs.DurationVar(&cfg.WrkDuration, "wrk-duration", 0, "one wrk measurement (default 30s; smoke 3s)")
	fs.IntVar(&cfg.Connections, "connections", 0, "wrk connections (default 64)")
	fs.IntVar(&cfg.Threads, "threads", 0, "wrk threads (default 2)")
	fs.DurationVar(&cfg.LoginDuration, "login-duration", 0, "one logins/s measurement (default 15s; smoke 3s)")
	fs.DurationVar(&cfg.LoadDuration, "load-duration", 0, "the reliability load test (default 60s; smoke 5s)")
	fs.DurationVar(&cfg.FuzzTime, "fuzz-time", 0, "each fuzz target (default 60s; smoke 2s)")
	fs.StringVar(&cfg.SwapiData, "swapi-data", "", "a SWAPI data set folder (default: the one built into swapi-local)")
	fs.StringVar(&cfg.Compose, "compose", "", "compose command to compare with (default: the `docker compose` v2+ plugin when it answers, else `docker-compose`)")
	fs.StringVar(&cfg.ComposeV1, "compose-v1", "", "docker-compose v1 as a second column beside a v2+ compose (default: `docker-compose` when it is v1; none: no second column)")
	fs.StringVar(&cfg.LabLock, "lab-lock", bench.DefaultLabLock, "swarm: the swarm lab's lock file, held for the whole run (\"\": take none, the caller holds it)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if cfg.Repo, err = findRepo(wd); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return bench.Main(ctx, cfg, what)
}

// findRepo returns the nearest folder holding stack/compose.yaml and go.mod.
func findRepo(dir string) (string, error) {
	for {
		if _, err := os.Stat(filepath.Join(dir, "stack", "compose.yaml")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run swbench inside the swdeploy repository")
		}
		dir = parent
	}
}
