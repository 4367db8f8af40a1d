package bench

import (
	"context"
	"fmt"
)

// Main runs "bench", "reliability" or "all" and writes the Markdown files
// into cfg.Out. Everything it created is removed before it returns.
func Main(ctx context.Context, cfg Config, what string) (err error) {
	h, err := New(ctx, cfg)
	if err != nil {
		return err
	}
	defer h.Close()
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
