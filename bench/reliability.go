package bench

import "context"

// Reliability runs the reliability checks and returns the report.
func (h *Harness) Reliability(ctx context.Context) (*Report, error) {
	return &Report{Title: "todo"}, nil
}
