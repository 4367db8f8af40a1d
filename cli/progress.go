package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/fathat101/swdeploy/deployer"
)

// newReporter picks how progress is shown. Progress goes to standard error
// so that standard output carries only results (a plan, JSON).
func newReporter(mode string, s IOStreams) (deployer.Reporter, error) {
	switch mode {
	case "quiet":
		return deployer.Discard, nil
	case "json":
		return &jsonReporter{w: s.ErrOut}, nil
	case "plain", "auto", "tty", "":
		return &plainReporter{w: s.ErrOut, start: time.Now()}, nil
	}
	return nil, usage(fmt.Errorf("--progress %q: want auto, tty, plain, json or quiet", mode))
}

// plainReporter writes one line per event, fit for logs and CI.
type plainReporter struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (r *plainReporter) Report(e deployer.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	detail := strings.TrimSpace(e.Detail)
	if detail != "" {
		detail = " " + detail
	}
	fmt.Fprintf(r.w, "%6.1fs %s %s%s\n", e.Time.Sub(r.start).Seconds(), e.Object, e.Status, detail)
}

// jsonReporter writes one JSON object per event.
type jsonReporter struct {
	mu sync.Mutex
	w  io.Writer
}

func (r *jsonReporter) Report(e deployer.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, _ := json.Marshal(e)
	r.w.Write(append(b, '\n'))
}
