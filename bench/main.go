package bench

import (
	"context"
	"fmt"
)

// Main runs "bench", "reliability", "all" or "swarm" and writes the
// Markdown files into cfg.Out. Everything it created is removed before it
// returns.
func Main(ctx context.Context, cfg Config, what string) (err error) {
	h, err := newHarness(ctx, cfg, what != "swarm")
	if err != nil {
		return err
	}
	defer h.Close()
	if what == "swarm" {
		rep, err := h.Swarm(ctx)
		if err != nil {
			return fmt.Errorf("swarm: %w", err)
		}
		path, err := rep.WriteFile(h.cfg.Out, "swarm.md")
		if err != nil {
			return err
		}
		h.logf("wrote %s", path)
		return nil
	}
	if what == "bench" || what == "all" {
		rep, err := h.Benchmarks(ctx)
		if err != nil {
			return fmt.Errorf("benchmarks: %w", err)
		}
		path, err := rep.WriteFile(h.cfg.Out, "benchmarks.md")
		if err != nil {
			return err
		}
		h.logf("wrote %s", path)
	}
	if what == "reliability" || what == "all" {
		rep, err := h.Reliability(ctx)
		if err != nil {
			return fmt.Errorf("reliability: %w", err)
		}
		path, err := rep.WriteFile(h.cfg.Out, "reliability.md")
		if err != nil {
			return err
		}
		h.logf("wrote %s", path)
	}
	return nil
}
