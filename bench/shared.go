package bench

import (
	"context"
	"fmt"
)

// Shared returns the swdeploy deployment that measurements share: the one
// Benchmarks left up, or a new one.
func (h *Harness) Shared(ctx context.Context) (*Project, error) {
	if h.shared != nil {
		if err := h.shared.WaitHealthy(ctx, 0); err == nil {
			return h.shared, nil
		}
	}
	p, err := h.NewProject(ToolSwdeploy)
	if err != nil {
		return nil, err
	}
	h.logf("deploying %s with swdeploy", p.Name)
	if _, out, err := p.UpHealthy(ctx); err != nil {
		return nil, fmt.Errorf("up %s: %w\n%s", p.Name, err, out)
	}
	h.shared = p
	return p, nil
}
